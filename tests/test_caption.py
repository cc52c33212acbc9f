"""`qwenlike caption`: resumable under SIGKILL, error lines, long-audio segments, shards."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import soundfile as sf

from qwenlike.caption import CaptionConfig, caption_files, merge, repair_and_read, walk
from qwenlike.checkpoint import from_pretrained

from conftest import tone


def _archive(root: Path, n_good: int, n_bad: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n_good):
        sub = root / f"d{i % 4}"
        sub.mkdir(exist_ok=True)
        sf.write(sub / f"clip{i:03d}.wav", tone(0.3 + 0.05 * (i % 7), 200 + 10 * i, seed=i), 16000, subtype="PCM_16")
    for i in range(n_bad):
        (root / f"broken{i}.wav").write_bytes(b"RIFF....WAVEfmt " + bytes(range(40)) if i % 2 else b"not audio at all")
    return root


def _check(out: Path, n_good: int, n_bad: int) -> None:
    lines = out.read_text().splitlines()
    recs = [json.loads(line) for line in lines]  # every line valid JSON
    assert len(recs) == n_good + n_bad
    assert len({r["path"] for r in recs}) == len(recs)  # one line per file
    assert sum("caption" in r for r in recs) == n_good and sum("error" in r for r in recs) == n_bad
    assert all(set(r) >= {"path", "sha256", "duration", "model"} for r in recs)


def test_caption_survives_three_sigkills(tiny_dir, tmp_path):
    root = _archive(tmp_path / "archive", 195, 5)
    out = tmp_path / "captions.jsonl"
    cmd = [sys.executable, "-m", "qwenlike.cli", "caption", str(root), "--out", str(out), "--model", str(tiny_dir),
           "--batch-size", "8", "--max-new-tokens", "4", "--quiet"]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1")
    rng = random.Random(7)
    for _kill in range(3):
        before = len(repair_and_read(out))
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # wait until this run has written something new, then kill it at a random moment
        deadline = time.time() + 120
        while time.time() < deadline and p.poll() is None and (not out.exists() or len(out.read_bytes().splitlines()) <= before):
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.5))
        p.send_signal(signal.SIGKILL)
        p.wait()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    _check(out, 195, 5)
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)  # nothing left to do
    assert "0 captioned" in r.stderr
    _check(out, 195, 5)


def test_partial_last_line_is_cut_not_kept(tmp_path):
    out = tmp_path / "x.jsonl"
    out.write_text('{"path": "a", "sha256": "1"}\n{"path": "b", "sha2')
    assert repair_and_read(out) == [{"path": "a", "sha256": "1"}]
    assert out.read_text() == '{"path": "a", "sha256": "1"}\n'


def test_long_recording_gets_window_segments_and_csv(tiny_dir, tmp_path):
    model = from_pretrained(tiny_dir)
    sf.write(tmp_path / "long.flac", tone(65.0, 400), 16000, format="FLAC")
    sf.write(tmp_path / "short.wav", tone(2.0), 16000)
    out = tmp_path / "c.jsonl"
    counts = caption_files(model, walk([str(tmp_path / "*.*")]), out, CaptionConfig(max_new_tokens=3, also="csv", model_name="tiny"), progress=False)
    assert counts == {"captioned": 2, "errors": 0, "skipped": 0}
    recs = {Path(r["path"]).name: r for r in repair_and_read(out)}
    segs = recs["long.flac"]["segments"]
    assert [(s["start"], s["end"]) for s in segs] == [(0.0, 30.0), (30.0, 60.0), (60.0, 65.0)]
    assert "segments" not in recs["short.wav"] and recs["long.flac"]["duration"] == 65.0
    assert (tmp_path / "c.csv").read_text().count("\n") == 3


def test_shards_merge_without_loss_or_duplicates(tiny_dir, tmp_path, monkeypatch):
    model = from_pretrained(tiny_dir)
    root = _archive(tmp_path / "a", 10, 1)
    files = walk([str(root)])
    out = tmp_path / "s.jsonl"
    cfg = CaptionConfig(max_new_tokens=2, model_name="tiny")
    for rank in (1, 0):  # ranks finish in any order; the last one merges
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        caption_files(model, files, out, cfg, progress=False)
    assert not list(tmp_path.glob("s.jsonl.shard-*"))
    _check(out, 10, 1)
    assert merge(out) == 0


def test_torchrun_two_processes_shard_and_merge(tiny_dir, tmp_path):
    import shutil

    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    root = _archive(tmp_path / "a", 11, 1)
    out = tmp_path / "tr.jsonl"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run([torchrun, "--nproc_per_node", "2", "-m", "qwenlike.cli", "caption", str(root), "--out", str(out),
                        "--model", str(tiny_dir), "--max-new-tokens", "2", "--quiet"], env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    _check(out, 11, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "tr.jsonl"]  # shards and markers merged away
