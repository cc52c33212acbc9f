"""qwenlike.audio: decoding any format/rate/channels, log-mel parity, the length formula."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
import torch
from transformers import WhisperFeatureExtractor

from qwenlike import audio as A
from qwenlike.errors import UserError

from conftest import tone


@pytest.mark.parametrize(
    "fmt,subtype,tol",
    [("WAV", "PCM_U8", 2e-2), ("WAV", "PCM_16", 1e-4), ("WAV", "PCM_24", 1e-6), ("WAV", "PCM_32", 1e-6),
     ("WAV", "FLOAT", 1e-7), ("FLAC", "PCM_16", 1e-4), ("OGG", "VORBIS", None), ("MP3", "MPEG_LAYER_III", None)],
)  # fmt: skip
def test_load_formats_16k_mono(tmp_path, fmt, subtype, tol):
    x = tone(1.0)
    p = tmp_path / f"clip.{fmt.lower()}"
    sf.write(p, x, 16000, format=fmt, subtype=subtype)
    y = A.load(p)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - len(x)) <= (0 if fmt in ("WAV", "FLAC") else 2000)  # lossy codecs add priming
    if tol is not None:
        assert np.abs(y - x).max() < tol
    else:  # lossy: same energy, same pitch
        assert abs(np.sqrt((y**2).mean()) - np.sqrt((x**2).mean())) < 0.03
        spec = np.abs(np.fft.rfft(y[:16000]))
        assert abs(np.argmax(spec) * 16000 / 16000 - 440) < 5


def test_load_resamples_and_downmixes(tmp_path):
    sr = 44100
    t = np.arange(sr * 2) / sr
    left = 0.5 * np.sin(2 * np.pi * 1000 * t)
    stereo = np.stack([left, np.zeros_like(left)], axis=1).astype(np.float32)  # (N, 2)
    p = tmp_path / "stereo.wav"
    sf.write(p, stereo, sr, subtype="PCM_24")
    y = A.load(p)
    assert len(y) == 32000
    assert abs(np.abs(y[1000:-1000]).max() - 0.25) < 0.01  # mono = mean of channels
    spec = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spec) * 16000 / len(y) - 1000) < 2
    # bytes and arrays too, with their own rates and layouts
    assert np.allclose(A.load(p.read_bytes()), y)
    assert np.allclose(A.load(stereo.T, sr=sr), y, atol=1e-4)  # (C, N) layout
    pcm = (left * 32767).astype(np.int16)
    assert np.abs(A.load(pcm, sr=sr) - A.load(left.astype(np.float32), sr=sr)).max() < 1e-3


def _bad(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_bad_inputs_name_file_and_problem(tmp_path):
    good = io.BytesIO()
    sf.write(good, tone(1.0), 16000, format="WAV", subtype="PCM_16")
    raw = good.getvalue()
    cases = {
        tmp_path / "missing.wav": "no such file",
        _bad(tmp_path, "notes.wav", b"hello, this is a text file\n" * 10): "text, not audio",
        _bad(tmp_path, "cut.wav", raw[: len(raw) // 2]): "truncated",
        _bad(tmp_path, "empty.wav", b""): "empty file",
        tmp_path: "is a directory",
    }
    zero = io.BytesIO()
    sf.write(zero, np.zeros(0, np.float32), 16000, format="WAV", subtype="PCM_16")
    cases[_bad(tmp_path, "zero.wav", zero.getvalue())] = "zero samples"
    nan = io.BytesIO()
    x = tone(0.5)
    x[100] = np.nan
    sf.write(nan, x, 16000, format="WAV", subtype="FLOAT")
    cases[_bad(tmp_path, "nan.wav", nan.getvalue())] = "NaN"
    for path, problem in cases.items():
        with pytest.raises(UserError) as e:
            A.load(path)
        msg = str(e.value)
        assert str(path) in msg and problem in msg and "\n" not in msg, msg


@pytest.mark.parametrize("n_mels", [80, 128])
def test_log_mel_equals_whisper_feature_extractor(n_mels):
    fe = WhisperFeatureExtractor(feature_size=n_mels)
    clips = [tone(s, 300 + 100 * i, seed=i) for i, s in enumerate((0.37, 1.0, 7.3, 30.0))]
    ours = A.log_mel(clips, n_mels=n_mels)
    padded = A.log_mel(clips, n_mels=n_mels, pad_to=A.WINDOW_SAMPLES)
    assert ours.mel.shape == (4, n_mels, 3000) and padded.mel.shape == (4, n_mels, 3000)
    for i, c in enumerate(clips):
        ref = fe(c, sampling_rate=16000, return_tensors="np")["input_features"][0]  # (M, 3000)
        t = int(ours.frames[i])
        assert t == -(-len(c) // 160)
        assert np.abs(ours.mel[i, :, :t].numpy() - ref[:, :t]).max() < 1e-5
        assert np.abs(padded.mel[i].numpy() - ref).max() < 1e-5
        assert float(ours.mel[i, :, t:].abs().sum()) == 0.0  # beyond its length: zeros


def test_log_mel_row_does_not_depend_on_batch():
    a, b = tone(1.3), tone(9.1, 800)
    alone = A.log_mel([a])
    both = A.log_mel([b, a])
    t = int(alone.frames[0])
    assert torch.equal(alone.mel[0, :, :t], both.mel[1, :, :t])


def test_num_audio_tokens_formula():
    # Qwen2-Audio's processor: ((L - 1) // 2 + 1 - 2) // 2 + 1 with L = ceil(n / 160)
    for n in (16000, 16001, 160 * 999 + 7, 480000):
        L = -(-n // 160)
        assert A.num_audio_tokens(n) == ((L - 1) // 2 + 1 - 2) // 2 + 1
    assert A.num_audio_tokens(75 * 16000) == 750 + 750 + 375  # three windows
    assert A.window_tokens(75 * 16000, stride=4, mode="stack") == [375, 375, 188]
    assert A.num_audio_tokens(100) == 0  # shorter than one token
