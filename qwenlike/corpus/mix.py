"""Mixing: scenes with events at known times over ambience beds, noise at a chosen SNR, room
reverb (a synthetic exponentially decaying impulse response), telephone band, and procedural
beds (wind, traffic, room tone, rain) that need no recording.

Shapes: every signal is (N,) float32 at 16 kHz.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from .common import SR, rms


def colored_noise(rng: np.random.Generator, n: int, colour: str = "pink") -> np.ndarray:
    """White, pink (1/f) or brown (1/f^2) noise, unit RMS."""
    white = rng.standard_normal(n)
    if colour == "white":
        out = white
    else:
        spec = np.fft.rfft(white)
        f = np.arange(len(spec), dtype=np.float64)
        f[0] = 1.0
        spec = spec / (np.sqrt(f) if colour == "pink" else f)
        out = np.fft.irfft(spec, n)
    out = out / (rms(out) or 1.0)
    return out.astype(np.float32)


def add_noise(rng: np.random.Generator, wav: np.ndarray, snr_db: float, colour: str = "pink") -> np.ndarray:
    """Add noise so that signal RMS / noise RMS equals `snr_db`."""
    noise = colored_noise(rng, len(wav), colour) * (rms(wav) / 10 ** (snr_db / 20))
    return (wav + noise).astype(np.float32)


def room_impulse(rng: np.random.Generator, rt60: float) -> np.ndarray:
    """Direct path + early reflections + exponentially decaying diffuse tail reaching -60 dB at rt60."""
    n = int(rt60 * SR)
    t = np.arange(n) / SR
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60) * 0.3
    ir = tail
    ir[0] = 1.0
    for _ in range(6):
        k = int(rng.integers(int(0.002 * SR), int(0.03 * SR)))
        ir[k] += rng.uniform(-0.5, 0.5)
    return (ir / np.sqrt(np.sum(ir**2))).astype(np.float32)


def reverb(rng: np.random.Generator, wav: np.ndarray, rt60: float) -> np.ndarray:
    """Convolve with a synthetic room; output keeps the input length and RMS."""
    wet = signal.fftconvolve(wav, room_impulse(rng, rt60))[: len(wav)]
    return (wet * (rms(wav) / (rms(wet) or 1.0))).astype(np.float32)


def telephone(wav: np.ndarray) -> np.ndarray:
    """Narrowband telephone: 300-3400 Hz band, through 8 kHz and back to 16 kHz, mu-law 8-bit."""
    sos = signal.butter(6, [300, 3400], btype="bandpass", fs=SR, output="sos")
    x = signal.sosfilt(sos, wav)
    x = signal.resample_poly(signal.resample_poly(x, 1, 2), 2, 1)[: len(wav)]
    peak = float(np.max(np.abs(x))) or 1.0
    y = x / peak
    mu = 255.0
    q = np.round((np.sign(y) * np.log1p(mu * np.abs(y)) / np.log1p(mu)) * 127) / 127
    y = np.sign(q) * ((1 + mu) ** np.abs(q) - 1) / mu
    return (y * peak).astype(np.float32)


def augment(rng: np.random.Generator, wav: np.ndarray, p_noise: float = 0.3, p_reverb: float = 0.2,
            p_phone: float = 0.1) -> tuple[np.ndarray, dict]:
    """Random channel effects; returns the audio and what was applied (for meta)."""
    applied: dict = {}
    if rng.random() < p_reverb:
        rt = float(rng.uniform(0.2, 0.8))
        wav = reverb(rng, wav, rt)
        applied["reverb_rt60"] = round(rt, 2)
    if rng.random() < p_phone:
        wav = telephone(wav)
        applied["telephone"] = True
    if rng.random() < p_noise:
        snr = float(rng.uniform(10, 30))
        colour = ["white", "pink", "brown"][int(rng.integers(3))]
        wav = add_noise(rng, wav, snr, colour)
        applied["noise"] = {"snr_db": round(snr, 1), "colour": colour}
    return wav, applied


def loop_to(wav: np.ndarray, n: int, fade: int = 1600) -> np.ndarray:
    """Repeat a bed with short cross-fades until it has n samples."""
    if len(wav) >= n:
        return wav[:n].copy()
    fade = min(fade, len(wav) // 4)
    out = wav.astype(np.float32).copy()
    ramp = np.linspace(0, 1, fade, dtype=np.float32)
    while len(out) < n:
        nxt = wav.astype(np.float32).copy()
        if fade:
            nxt[:fade] *= ramp
            out[-fade:] *= ramp[::-1]
            out = np.concatenate([out[:-fade], out[-fade:] + nxt[:fade], nxt[fade:]])
        else:
            out = np.concatenate([out, nxt])
    return out[:n]


def procedural_bed(rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
    """Beds made from noise: wind (slowly modulated low band), traffic (rumble with passing cars),
    room tone (quiet pink noise with mains hum)."""
    t = np.arange(n) / SR
    if kind == "wind":
        x = colored_noise(rng, n, "pink")
        x = signal.sosfilt(signal.butter(2, [100, 1200], btype="bandpass", fs=SR, output="sos"), x)
        env = 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.1, 0.3) * t + rng.uniform(0, 6.28))
        x = x * env
    elif kind == "traffic":
        x = colored_noise(rng, n, "brown")
        x = signal.sosfilt(signal.butter(2, 500, btype="lowpass", fs=SR, output="sos"), x)
        for _ in range(int(rng.integers(1, 4))):
            c = rng.uniform(0, n / SR)
            w = rng.uniform(0.8, 2.0)
            car = colored_noise(rng, n, "pink") * np.exp(-(((t - c) / w) ** 2)) * 2.0
            x = x + signal.sosfilt(signal.butter(2, [80, 2000], btype="bandpass", fs=SR, output="sos"), car)
    elif kind == "room":
        x = colored_noise(rng, n, "pink") * 0.3 + 0.05 * np.sin(2 * np.pi * 50 * t)
    else:
        raise ValueError(f"unknown procedural bed {kind!r}")
    return (x / (rms(x) or 1.0)).astype(np.float32)


@dataclass
class Placed:
    label: str
    onset: float
    offset: float
    file: str


def place_events(rng: np.random.Generator, bed: np.ndarray | None, clips: list[tuple[str, str, np.ndarray]],
                 seconds: float, bed_db: float = -12.0, max_event: float = 3.0,
                 overlap: bool = False) -> tuple[np.ndarray, list[Placed]]:
    """Put each (label, file id, clip) at a random time; events get 0..+6 dB gain variations.

    Without `overlap`, events take turns in disjoint slots so their onsets/offsets stay exact.
    The bed sits `bed_db` below the mean event level.
    """
    n = int(round(seconds * SR))
    fg = np.zeros(n, np.float32)
    placed: list[Placed] = []
    slots = len(clips)
    slot = seconds / max(slots, 1)
    order = list(range(len(clips)))
    for k, i in enumerate(order):
        label, fid, clip = clips[i]
        clip = clip[: int(min(max_event, slot * 0.9 if not overlap else max_event) * SR)]
        if len(clip) < 160:
            continue
        if overlap:
            start = rng.uniform(0, max(0.0, seconds - len(clip) / SR))
        else:
            lo = k * slot
            start = lo + rng.uniform(0, max(0.0, slot - len(clip) / SR))
        # Onsets and lengths on a 10 ms grid, so the 2-decimal times in answers are exact.
        a = int(round(start * 100)) * (SR // 100)
        clip = clip[: len(clip) - len(clip) % (SR // 100)]
        b = min(n, a + len(clip))
        gain = 10 ** (rng.uniform(0, 6) / 20) / (rms(clip) or 1.0)
        fg[a:b] += clip[: b - a] * gain
        placed.append(Placed(label, round(a / SR, 2), round(b / SR, 2), fid))
    ref = rms(fg[fg != 0]) if np.any(fg) else 0.1
    out = fg
    if bed is not None:
        out = fg + loop_to(bed, n) * (ref * 10 ** (bed_db / 20) / (rms(bed) or 1.0))
    placed.sort(key=lambda p: (p.onset, p.label))
    return out.astype(np.float32), placed
