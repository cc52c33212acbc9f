"""Audio front-end: decode, resample, log-mel, and THE audio-length arithmetic.

Floor 1: imports nothing of ours but `errors`.

Shape legend
    N   samples (16 kHz)            F   frequency bins (n_fft // 2 + 1 = 201)
    M   mel bins (80 or 128)        T   mel frames (hop 160 = 10 ms)
    E   encoder frames (T / 2)      A   audio tokens after the projector

`num_audio_tokens` is the only place that turns a number of samples into a number of audio
tokens; chat rendering, collation and the model's count check all call it.
"""

from __future__ import annotations

import io
import math
import os
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence, Union

import numpy as np
import torch

from .errors import UserError

SAMPLE_RATE = 16_000
N_FFT = 400
HOP = 160
WINDOW_SECONDS = 30
WINDOW_SAMPLES = WINDOW_SECONDS * SAMPLE_RATE  # 480_000: one Whisper encoder window
WINDOW_FRAMES = WINDOW_SAMPLES // HOP  # 3000 mel frames

AudioInput = Union[str, os.PathLike, bytes, bytearray, np.ndarray, torch.Tensor]


# ----------------------------------------------------------------------------------------------
# decoding
# ----------------------------------------------------------------------------------------------
def _name(src: AudioInput) -> str:
    if isinstance(src, (str, os.PathLike)):
        return str(src)
    if isinstance(src, (bytes, bytearray)):
        return f"<{len(src)} bytes>"
    return "<array>"


def _check_wav_truncation(data: bytes, name: str) -> None:
    """libsndfile silently reads a short data chunk; a cut-off download must not pass as a clip."""
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RIFX") or data[8:12] != b"WAVE":
        return
    end = "<" if data[:4] == b"RIFF" else ">"
    pos = 12
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack(end + "I", data[pos + 4 : pos + 8])
        if chunk_id == b"data":
            have = len(data) - pos - 8
            if size not in (0, 0xFFFFFFFF) and have < size:
                raise UserError(
                    f"{name}: truncated WAV file (header promises {size} data bytes, file holds {have})"
                )
            return
        pos += 8 + size + (size & 1)
    raise UserError(f"{name}: WAV file has no data chunk (truncated or damaged)")


def _decode_bytes(data: bytes, name: str) -> tuple[np.ndarray, int]:
    import soundfile as sf

    if len(data) == 0:
        raise UserError(f"{name}: empty file (0 bytes)")
    _check_wav_truncation(data, name)
    try:
        wav, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)  # (N, C)
    except Exception as e:  # soundfile raises LibsndfileError / RuntimeError with long messages
        head = data[:16]
        kind = "text, not audio" if all(32 <= b < 127 or b in (9, 10, 13) for b in head) else "not a readable audio format"
        raise UserError(f"{name}: cannot decode audio ({kind}; {str(e).splitlines()[0][:120]})") from None
    return wav, int(sr)


def _to_mono(wav: np.ndarray) -> np.ndarray:
    """(N,) | (N, C) | (C, N) -> (N,) by averaging channels; C is taken as the short axis."""
    if wav.ndim == 1:
        return wav
    if wav.ndim != 2:
        raise UserError(f"audio array must be 1-D or 2-D, got shape {tuple(wav.shape)}")
    if wav.shape[0] < wav.shape[1] and wav.shape[0] <= 16:
        wav = wav.T  # (C, N) -> (N, C)
    return wav.mean(axis=1)


def resample(wav: np.ndarray, sr: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Band-limited resampling (soxr, via librosa); identity when the rate already matches."""
    if sr == target:
        return wav
    import librosa

    return librosa.resample(wav, orig_sr=sr, target_sr=target, res_type="soxr_hq").astype(np.float32)


def load(src: AudioInput, sr: int | None = None) -> np.ndarray:
    """Decode `src` (path, encoded bytes or a sample array) to float32 mono 16 kHz.

    `sr` is the rate of an array input (default 16 kHz); for files and bytes it is read from the data.
    Raises UserError with one line naming the input and the problem.
    """
    name = _name(src)
    if isinstance(src, (str, os.PathLike)):
        p = Path(src)
        if not p.exists():
            raise UserError(f"{name}: no such file")
        if p.is_dir():
            raise UserError(f"{name}: is a directory, not an audio file")
        try:
            data = p.read_bytes()
        except OSError as e:
            raise UserError(f"{name}: cannot read ({e.strerror})") from None
        wav, rate = _decode_bytes(data, name)
    elif isinstance(src, (bytes, bytearray)):
        wav, rate = _decode_bytes(bytes(src), name)
    elif isinstance(src, (np.ndarray, torch.Tensor)):
        arr = src.detach().cpu().numpy() if isinstance(src, torch.Tensor) else src
        if arr.dtype.kind in "iu":  # integer PCM: scale to [-1, 1)
            info = np.iinfo(arr.dtype)
            arr = (arr.astype(np.float64) - (info.max + info.min + 1) / 2) / ((info.max - info.min + 1) / 2)
        wav, rate = np.asarray(arr, dtype=np.float32), int(sr or SAMPLE_RATE)
    else:
        raise UserError(f"unsupported audio input type {type(src).__name__}")
    wav = np.asarray(wav, dtype=np.float32)
    if wav.size == 0:
        raise UserError(f"{name}: audio has zero samples")
    mono = _to_mono(wav)
    if not np.isfinite(mono).all():
        raise UserError(f"{name}: audio contains NaN or infinite samples")
    return np.ascontiguousarray(resample(mono, rate), dtype=np.float32)


# ----------------------------------------------------------------------------------------------
# length arithmetic: the one place
# ----------------------------------------------------------------------------------------------
def window_spans(n_samples: int, window: int = WINDOW_SAMPLES) -> list[tuple[int, int]]:
    """Split a clip into encoder windows [(start, end), ...]; every window but the last is full."""
    return [(s, min(s + window, n_samples)) for s in range(0, max(n_samples, 1), window)]


def mel_frames(n_samples: int) -> int:
    """Valid mel frames of a window: ceil(N / hop), the count Qwen2-Audio's attention mask gives."""
    return -(-n_samples // HOP)


def encoder_frames(n_mel_frames: int) -> int:
    """Whisper's conv2 has stride 2 and padding 1: E = (T - 1) // 2 + 1."""
    return (n_mel_frames - 1) // 2 + 1


def projector_tokens(n_enc_frames: int, stride: int = 2, mode: str = "pool") -> int:
    """Tokens a projector makes from E encoder frames.

    pool  (AvgPool1d(stride), no ceil mode, as Qwen2-Audio): (E - stride) // stride + 1
    stack (stack `stride` frames, zero-padding the tail, as Ultravox): ceil(E / stride)
    """
    if mode == "pool":
        return max(0, (n_enc_frames - stride) // stride + 1)
    if mode == "stack":
        return -(-n_enc_frames // stride)
    raise ValueError(f"unknown projector mode {mode!r}")


def num_audio_tokens(
    n_samples: int, stride: int = 2, mode: str = "pool", window: int = WINDOW_SAMPLES, extra: int = 0
) -> int:
    """Audio tokens for a clip of `n_samples` at 16 kHz: summed over its encoder windows."""
    return sum(window_tokens(n_samples, stride, mode, window, extra))


def window_tokens(
    n_samples: int, stride: int = 2, mode: str = "pool", window: int = WINDOW_SAMPLES, extra: int = 0
) -> list[int]:
    """Audio tokens of each encoder window of a clip, in order: the projector's, then `extra` more
    (a label head's rows, `model.label_head`) for every window that makes any."""
    out = []
    for s, e in window_spans(n_samples, window):
        n = projector_tokens(encoder_frames(mel_frames(e - s)), stride, mode)
        out.append(n + extra if n > 0 else 0)
    return out


# ----------------------------------------------------------------------------------------------
# log-mel (torch, batched), equal to transformers' WhisperFeatureExtractor
# ----------------------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def mel_filters(n_mels: int) -> torch.Tensor:
    """(F, M) Slaney-style mel filter bank, the one WhisperFeatureExtractor builds."""
    from transformers.audio_utils import mel_filter_bank

    fb = mel_filter_bank(
        num_frequency_bins=1 + N_FFT // 2,
        num_mel_filters=n_mels,
        min_frequency=0.0,
        max_frequency=8000.0,
        sampling_rate=SAMPLE_RATE,
        norm="slaney",
        mel_scale="slaney",
    )
    return torch.from_numpy(fb).float()


@lru_cache(maxsize=2)
def _hann() -> torch.Tensor:
    return torch.hann_window(N_FFT)


@dataclass
class Features:
    """A batch of log-mel windows: `mel` (B, M, T) zero beyond each row's `frames` (B,)."""

    mel: torch.Tensor
    frames: torch.Tensor


def log_mel(
    waves: Sequence[np.ndarray | torch.Tensor] | torch.Tensor,
    n_mels: int = 80,
    pad_to: int | None = None,
) -> Features:
    """Whisper log-mel of a batch of 16 kHz waveforms.

    Each row is computed as if the clip were zero-padded to 30 s (as WhisperFeatureExtractor does),
    so the first `frames[i] = ceil(len_i / 160)` frames equal the extractor's output for that clip to
    float rounding, whatever else is in the batch. Without `pad_to` the batch is only as long as its
    longest clip and frames past a row's length are zero; with `pad_to=480000` (Qwen2-Audio
    checkpoints) every row has 3000 frames and the padding frames hold the extractor's silence values.
    """
    if isinstance(waves, torch.Tensor) and waves.dim() == 1:
        waves = [waves]
    rows = [torch.as_tensor(w, dtype=torch.float32).flatten() for w in waves]
    lengths = torch.tensor([r.numel() for r in rows])
    frames = (lengths + HOP - 1) // HOP  # (B,) valid frames per row
    t_max = int(frames.max()) if pad_to is None else pad_to // HOP
    # One extra hop of zeros keeps the STFT's reflect padding away from every valid frame, so the
    # valid frames never depend on the batch: zero padding is what the 30 s extractor sees there.
    # At the 30 s edge itself the extractor reflects, and so do we (never pad past the window).
    n = pad_to or max(min((t_max + 1) * HOP, WINDOW_SAMPLES), t_max * HOP)
    batch = torch.zeros(len(rows), n)
    for i, r in enumerate(rows):
        batch[i, : min(r.numel(), n)] = r[:n]
    stft = torch.stft(batch, N_FFT, HOP, window=_hann(), return_complex=True)  # (B, F, n // HOP + 1)
    power = stft[..., :t_max].abs().pow(2)  # (B, F, T): the extractor drops the last frame
    mel = (mel_filters(n_mels).T @ power).clamp(min=1e-10).log10()  # (B, M, T)
    valid = torch.arange(t_max)[None, :] < frames[:, None]  # (B, T)
    # The extractor's max runs over the whole padded window. Padding frames hold log10(1e-10) = -10
    # there (bar the one frame that overlaps the clip's last samples), so the max over valid frames
    # is the same number; with `pad_to` we have the whole window and take its max, as it does.
    scope = valid[:, None, :] if pad_to is None else torch.ones_like(valid[:, None, :])
    peak = mel.masked_fill(~scope, -10.0).amax(dim=(1, 2), keepdim=True)  # (B, 1, 1)
    mel = (torch.maximum(mel, peak - 8.0) + 4.0) / 4.0
    if pad_to is None:
        mel = mel.masked_fill(~valid[:, None, :], 0.0)
    return Features(mel=mel, frames=frames)
