"""`qwenlike ask` / `qwenlike chat`: answers, JSON, and one clean line for every bad input."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from qwenlike import audio as A
from qwenlike.cli import main

from conftest import tone


def test_ask_json_fields(tiny_dir, wav_path, capsys):
    assert main(["ask", str(wav_path), str(wav_path), "-q", "Same clip?", "--model", str(tiny_dir), "--json", "--max-new-tokens", "5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"answer", "audio_seconds", "audio_tokens", "new_tokens", "seconds"}
    assert out["audio_seconds"] == 4.0
    assert out["audio_tokens"] == 2 * A.num_audio_tokens(32000, stride=4, mode="stack")
    assert 1 <= out["new_tokens"] <= 5 and out["seconds"] > 0


def test_chat_long_audio_three_windows(tiny_dir, tmp_path, capsys):
    p = tmp_path / "long.flac"
    sf.write(p, tone(75.0, 300), 16000, format="FLAC")
    assert main(["chat", str(p), "--model", str(tiny_dir), "--json", "--max-new-tokens", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["audio_seconds"] == 75.0
    assert out["audio_tokens"] == A.num_audio_tokens(75 * 16000, stride=4, mode="stack") == 375 + 375 + 188


def _bad_files(tmp_path):
    buf = io.BytesIO()
    sf.write(buf, tone(1.0), 16000, format="WAV", subtype="PCM_16")
    raw = buf.getvalue()
    (tmp_path / "text.wav").write_text("this is not audio\n")
    (tmp_path / "cut.wav").write_bytes(raw[:3000])
    z = io.BytesIO()
    sf.write(z, np.zeros(0, np.float32), 16000, format="WAV", subtype="PCM_16")
    (tmp_path / "zero.wav").write_bytes(z.getvalue())
    x = tone(1.0)
    x[5] = np.nan
    sf.write(tmp_path / "nan.wav", x, 16000, subtype="FLOAT")
    (tmp_path / "dir.wav").mkdir()
    return {
        "missing.wav": "no such file", "text.wav": "not audio", "cut.wav": "truncated", "zero.wav": "zero samples",
        "nan.wav": "NaN", "dir.wav": "directory",
    }  # fmt: skip


def test_bad_inputs_exit_2_with_one_line(tiny_dir, tmp_path, capsys):
    for name, problem in _bad_files(tmp_path).items():
        code = main(["ask", str(tmp_path / name), "-q", "What?", "--model", str(tiny_dir)])
        err = capsys.readouterr().err
        assert code == 2, name
        assert err.count("\n") == 1 and name in err and problem in err, err
    assert main(["ask", str(tmp_path / "nan.wav"), "-q", "x", "--model", str(tmp_path / "nope")]) == 2
    assert main(["chat", str(tmp_path / "cut.wav"), "--model", str(tiny_dir)]) == 2
    capsys.readouterr()
    assert main(["ask", str(A.__file__).replace("audio.py", "examples/quick_brown_fox.wav"), "-q", "x", "--model", str(tmp_path / "nope")]) == 2
    assert "model folder not found" in capsys.readouterr().err


def test_console_script_prints_no_traceback(tiny_dir, tmp_path):
    (tmp_path / "text.wav").write_text("not audio")
    r = subprocess.run([sys.executable, "-m", "qwenlike.cli", "ask", str(tmp_path / "text.wav"), "-q", "x", "--model", str(tiny_dir)],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 2
    assert r.stderr.strip().startswith("qwenlike: error:") and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
