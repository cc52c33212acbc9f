"""Shared pieces of the offline corpus: the example record, seeded randomness, held-out
partitions, level normalisation and WAV encoding.

Every random choice in the corpus comes from `rng_for(seed, task, split, index)`, so an item
depends on nothing but its coordinates: worker order, resume points and wall-clock never leak in.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, TypeVar

import numpy as np

SR = 16_000
SPLITS = ("train", "validation", "test")
T = TypeVar("T")


@dataclass
class Example:
    """One generated item before encoding; `group` holds the held-out atoms (sentence, voice, file)."""

    audio: np.ndarray  # (N,) float32 16 kHz
    answer: str
    label: str = ""
    text: str = ""
    language: str = ""
    voice: str = ""
    source: str = ""
    group: Sequence[str] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    audio2: np.ndarray | None = None  # (N2,) second clip (speaker_verification)


class SourceMissing(Exception):
    """A source's package is not installed; the build skips it with one warning line."""


_warned: set[str] = set()


def warn_once(key: str, message: str) -> None:
    """Print one warning line per key and process."""
    if key not in _warned:
        _warned.add(key)
        print(f"warning: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# deterministic randomness and partitions
# ---------------------------------------------------------------------------------------------
def stable_hash(text: str) -> int:
    """A 64-bit hash that, unlike hash(), is the same in every process and Python version."""
    return int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:8], "big")


def rng_for(seed: int, *keys: object) -> np.random.Generator:
    """A generator seeded by (seed, *keys): the only source of randomness for an item."""
    words = [int(seed) & 0xFFFFFFFF] + [zlib.crc32(str(k).encode()) for k in keys]
    return np.random.default_rng(words)


def choice(rng: np.random.Generator, items: Sequence[T]) -> T:
    """rng.choice for arbitrary objects (numpy would turn tuples into arrays)."""
    if not items:
        raise SourceMissing("empty pool")
    return items[int(rng.integers(len(items)))]


def partition(
    items: Sequence[T],
    key: Callable[[T], str],
    strata: Callable[[T], str] | None = None,
    test_frac: float = 0.25,
    val_frac: float = 0.125,
    content: Callable[[T], Iterable[Any]] | None = None,
) -> dict[str, list[T]]:
    """Split items into disjoint train/validation/test pools by a stable hash of `key`.

    Within each stratum (e.g. a label or a gender) the order is the hash order, so the split of an
    item never depends on the seed or on which other items exist. Strata with one item go to
    train; with two, one each to train and test; validation then reuses train (it is never
    checked against train, only test is).

    `content(item)` names what an item is made of (file digests, texts): a test item that shares
    any of it with a train item is dropped from the test pool, since two packaged files, or two
    stamps, can hold the same recording or words under different names. Train keeps every item
    it hashes to, so the rule never moves an item from one split to another.
    """
    groups: dict[str, list[T]] = {}
    for it in items:
        groups.setdefault(strata(it) if strata else "", []).append(it)
    out: dict[str, list[T]] = {s: [] for s in SPLITS}
    for name in sorted(groups):
        members = sorted(groups[name], key=lambda it: (stable_hash(key(it)), key(it)))
        n = len(members)
        n_test = 0 if n < 2 else max(1, int(round(n * test_frac)))
        n_val = 0 if n < 4 else max(1, int(round(n * val_frac)))
        out["test"] += members[:n_test]
        out["validation"] += members[n_test : n_test + n_val]
        out["train"] += members[n_test + n_val :]
    if content is not None:
        seen = {c for it in out["train"] for c in content(it)}
        out["test"] = [it for it in out["test"] if seen.isdisjoint(content(it))]
    for s in SPLITS:
        out[s].sort(key=key)
    if not out["validation"]:
        out["validation"] = list(out["train"])
    return out


def file_digest(path: str | Path) -> str:
    """SHA-1 of a file's bytes (for `partition(content=...)`)."""
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def pool_for(parts: dict[str, list[T]], split: str) -> list[T]:
    """The pool of a split; validation falls back to train when a pool was too small."""
    return parts[split] or parts["train"]


# ---------------------------------------------------------------------------------------------
# audio helpers
# ---------------------------------------------------------------------------------------------
def load_audio(path: str | Path | bytes) -> np.ndarray:
    """Decode a file or encoded bytes to float32 mono 16 kHz through qwenlike.audio."""
    from qwenlike import audio

    return audio.load(path if isinstance(path, (bytes, bytearray)) else str(path))


def to_16k(wav: np.ndarray, sr: int) -> np.ndarray:
    """Resample an array (any rate) to 16 kHz float32."""
    from qwenlike import audio

    return audio.load(np.asarray(wav, dtype=np.float32), sr=sr)


def trim(wav: np.ndarray, thresh_db: float = -45.0, pad: float = 0.05) -> np.ndarray:
    """Cut leading/trailing near-silence, keeping `pad` seconds each side."""
    if wav.size == 0:
        return wav
    peak = float(np.max(np.abs(wav))) or 1.0
    frame = 160
    n = len(wav) // frame
    if n < 2:
        return wav
    env = np.sqrt(np.mean(wav[: n * frame].reshape(n, frame) ** 2, axis=1)) / peak
    loud = np.nonzero(env > 10 ** (thresh_db / 20))[0]
    if loud.size == 0:
        return wav
    p = int(pad * SR)
    a = max(0, loud[0] * frame - p)
    b = min(len(wav), (loud[-1] + 1) * frame + p)
    return wav[a:b]


def rms(wav: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)))) if wav.size else 0.0


def normalise(wav: np.ndarray, rng: np.random.Generator, lo_db: float = -26.0, hi_db: float = -16.0) -> np.ndarray:
    """Scale to a random RMS level in [lo_db, hi_db] dBFS, then cap the peak at 0.89 (no clipping)."""
    wav = np.asarray(wav, dtype=np.float64)
    r = rms(wav)
    if r <= 1e-9:
        return wav.astype(np.float32)
    target = 10 ** (rng.uniform(lo_db, hi_db) / 20)
    wav = wav * (target / r)
    peak = float(np.max(np.abs(wav)))
    if peak > 0.89:
        wav = wav * (0.89 / peak)
    return wav.astype(np.float32)


def fit_length(wav: np.ndarray, seconds: float) -> np.ndarray:
    """Pad with zeros or cut to exactly `seconds`."""
    n = int(round(seconds * SR))
    if len(wav) >= n:
        return wav[:n]
    return np.concatenate([wav, np.zeros(n - len(wav), np.float32)])


def wav_bytes(wav: np.ndarray) -> bytes:
    """16-bit PCM mono 16 kHz WAV bytes; libsndfile writes no timestamps, so equal input -> equal bytes."""
    import soundfile as sf

    pcm = np.clip(np.round(np.asarray(wav, dtype=np.float64) * 32767.0), -32768, 32767).astype(np.int16)
    buf = io.BytesIO()
    sf.write(buf, pcm, SR, format="WAV", subtype="PCM_16")
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# external tools
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def which(tool: str) -> str | None:
    return shutil.which(tool)


def run_tool(args: list[str], what: str) -> None:
    """Run an external program; a failure names the program and its last stderr line."""
    res = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
    if res.returncode != 0:
        tail = res.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise RuntimeError(f"{what} failed (exit {res.returncode}): {tail[0]}")


_SCRATCH: dict[int, Path] = {}


def scratch_dir() -> Path:
    """A per-process temporary folder for tool outputs (removed at exit by the OS tmp cleaner).

    Keyed by process id, not cached once: the build's workers are forked, and a folder the parent
    made before forking (pytest synthesises in-process before it builds) would be shared by both
    workers, each reading the other's `espeak.wav` (CI built a language-id clip from a speaker-gender
    item's speech that way)."""
    pid = os.getpid()
    if pid not in _SCRATCH:
        _SCRATCH[pid] = Path(tempfile.mkdtemp(prefix="qwenlike-corpus-"))
    return _SCRATCH[pid]


def dumps(obj: Any) -> str:
    """Canonical JSON: sorted keys, no spaces drift, unicode kept."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


def fmt_span(a: float, b: float) -> str:
    return f"{a:.2f}-{b:.2f}"


def sorted_unique(xs: Iterable[str]) -> list[str]:
    return sorted(set(xs))


# ---------------------------------------------------------------------------------------------
# balanced closed-set labels
# ---------------------------------------------------------------------------------------------
_BUILD_SEED = [0]


def set_build_seed(seed: int) -> None:
    """Set by the build before each item: `balanced` needs the seed, generators only get an rng."""
    _BUILD_SEED[0] = int(seed)


# `qwenlike corpus build --voices`: which TTS voices the voice-labelled tasks draw from. "english":
# the English voices only (the default model's corpus); "multilingual": speaker_gender and
# language_id also draw from MBROLA's voices of other languages (speech.MBROLA_WORLD).
VOICE_SETS = ("english", "multilingual")
_BUILD_VOICES = ["english"]


def set_build_voices(voices: str) -> None:
    """Set by the build before each item, as the seed is."""
    if voices not in VOICE_SETS:
        raise ValueError(f"unknown voice set {voices!r}")
    _BUILD_VOICES[0] = voices


def build_voices() -> str:
    return _BUILD_VOICES[0]


def balanced(labels: Sequence[T], key: str, split: str, index: int) -> T:
    """Label of item `index`: each run of len(labels) items is a seeded permutation of the labels,
    so a split's label counts differ by at most one (random draws left 1-vs-7 imbalances)."""
    labels = sorted(labels)  # type: ignore[type-var]
    if not labels:
        raise SourceMissing(f"no labels available for {key}")
    n = len(labels)
    cycle, pos = divmod(index, n)
    perm = rng_for(_BUILD_SEED[0], "balanced", key, split, cycle).permutation(n)
    return labels[int(perm[pos])]
