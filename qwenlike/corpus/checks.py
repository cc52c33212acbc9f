"""Listen-free checks on built rows: no test item leaks from train (by audio hash and by source
item), no silent or clipped clips, durations in the task's range, labels in the task's label set.

Rows are dicts as `build.collect_rows` makes them (audio as {"bytes": WAV}) or as
`datasets.load_from_disk(...).cast_column("audio", Audio(decode=False))` yields.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np

MIN_RMS_DB = -45.0  # quieter than this is a silent clip
MAX_PEAK = 0.9  # the level normaliser caps peaks at 0.89
MAX_CLIPPED = 0.0  # fraction of samples at full scale


def audio_hash(row: dict, column: str = "audio") -> str:
    """SHA-1 of a clip's WAV bytes ("" when the row has no such clip); precomputed if present."""
    pre = row.get(f"{column}_sha1")
    if pre is not None:
        return pre
    a = row.get(column)
    return hashlib.sha1(a["bytes"]).hexdigest() if a else ""


def atoms(row: dict) -> set[str]:
    return {g for g in row["group"].split("|") if g}


def leaks(rows: dict[str, list[dict]]) -> list[str]:
    """Problems where a test item shares audio or a held-out source item with train."""
    problems = []
    train_hash = {audio_hash(r, c): r["id"] for r in rows["train"] for c in ("audio", "audio2")}
    train_hash.pop("", None)
    by_task: dict[str, set[str]] = {}
    for r in rows["train"]:
        by_task.setdefault(r["task"], set()).update(atoms(r))
    for r in rows["test"]:
        for c in ("audio", "audio2"):
            twin = train_hash.get(audio_hash(r, c))
            if twin:  # name the train twin: a failed build says which pair to look at
                problems.append(f"{r['id']}: {c} identical to train clip {twin}")
        shared = atoms(r) & by_task.get(r["task"], set())
        if shared:
            problems.append(f"{r['id']}: source item(s) {sorted(shared)[:3]} also in train")
    return problems


def _pcm(wav_bytes: bytes) -> np.ndarray:
    import soundfile as sf

    data, sr = sf.read(io.BytesIO(wav_bytes), dtype="float32")
    if sr != 16000:
        raise ValueError(f"sample rate {sr} != 16000")
    return data


def audio_problems(rows: dict[str, list[dict]]) -> list[str]:
    """Silent, clipped, too short/long clips and labels outside the task's set."""
    from .catalog import BY_NAME

    problems = []
    for split, rs in rows.items():
        for r in rs:
            spec = BY_NAME[r["task"]]
            for c in ("audio", "audio2"):
                if not r.get(c):
                    continue
                x = _pcm(r[c]["bytes"])
                rms_db = 20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-12)
                peak = float(np.max(np.abs(x))) if x.size else 0.0
                if rms_db < MIN_RMS_DB:
                    problems.append(f"{r['id']}: {c} silent ({rms_db:.1f} dBFS)")
                if peak > MAX_PEAK or np.mean(np.abs(x) >= 0.999) > MAX_CLIPPED:
                    problems.append(f"{r['id']}: {c} clipped (peak {peak:.3f})")
                if c == "audio":
                    dur = len(x) / 16000
                    lo, hi = spec.duration
                    if not lo <= dur <= hi:
                        problems.append(f"{r['id']}: duration {dur:.2f}s outside {lo}-{hi}s")
            if spec.labels is not None and r["label"] not in spec.labels:
                problems.append(f"{r['id']}: label {r['label']!r} not in the {r['task']} label set")
            if spec.labels is None and r["label"]:
                problems.append(f"{r['id']}: open-answer task has label {r['label']!r}")
            if not r["answer"]:
                problems.append(f"{r['id']}: empty answer")
            if (r["task"] == "speaker_verification") != bool(r.get("audio2")):
                problems.append(f"{r['id']}: audio2 {'missing' if r['task'] == 'speaker_verification' else 'unexpected'}")
    return problems
