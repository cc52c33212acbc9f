"""Caption whole archives: walk, batch by length, resume, shard across processes.

Floor 5. One JSON line per file: `path`, `sha256`, `duration`, `model` and either `caption`
(plus `segments` with per-window timestamps for recordings longer than one encoder window) or
`error`. Lines are written whole and fsync'd per batch; a rerun first cuts a partial last line (a
killed write), then skips every (path, sha256) already present, so lines are never duplicated or
truncated. Under torchrun / accelerate (RANK, WORLD_SIZE set) each process captions its share of
the sorted file list into its own shard file; the last process to finish merges the shards.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from . import audio as A
from .errors import UserError
from .jsonl import append as _append
from .jsonl import repair_and_read

AUDIO_EXTENSIONS = {".wav", ".flac", ".ogg", ".oga", ".mp3", ".opus", ".aif", ".aiff", ".au"}
DEFAULT_PROMPT = "Describe the audio in one sentence."


@dataclass
class CaptionConfig:
    prompt: str = DEFAULT_PROMPT
    batch_size: int = 16
    max_new_tokens: int = 48
    window_seconds: float = A.WINDOW_SECONDS
    also: str | None = None  # "csv" | "parquet"
    model_name: str = ""


def walk(paths: Sequence[str]) -> list[str]:
    """Files under folders, glob matches and plain files; sorted, each once."""
    out: list[str] = []
    for p in paths:
        if any(c in p for c in "*?["):
            out += [m for m in glob.glob(p, recursive=True) if os.path.isfile(m)]
        elif os.path.isdir(p):
            out += [str(f) for f in Path(p).rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS]
        elif os.path.exists(p):
            out.append(p)
        else:
            raise UserError(f"{p}: no such file or folder")
    return sorted(dict.fromkeys(os.path.abspath(p) for p in out))


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _key(r: dict) -> tuple[str, str]:
    return (r["path"], r["sha256"])


def _shard_paths(out: Path) -> list[Path]:
    return sorted(out.parent.glob(out.name + ".shard-*"))


def merge(out: Path) -> int:
    """Fold shard files into `out` (atomically), each (path, sha256) once. Returns lines added.

    An advisory lock (released by the OS if the process dies) serialises concurrent mergers.
    """
    import fcntl

    lock_path = out.with_name(out.name + ".lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        added = _merge_locked(out)
        lock_path.unlink(missing_ok=True)  # a later merger locks a fresh file; merging twice is harmless
        return added


def _merge_locked(out: Path) -> int:
    records = repair_and_read(out)
    seen = {_key(r) for r in records}
    added = 0
    for shard in _shard_paths(out):
        if shard.suffix == ".done":
            continue
        for r in repair_and_read(shard):
            if _key(r) not in seen:
                seen.add(_key(r))
                records.append(r)
                added += 1
    tmp = out.with_name(out.name + f".merge-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out)
    for shard in _shard_paths(out):
        shard.unlink()
    return added


def _export(out: Path, kind: str) -> Path:
    records = repair_and_read(out)
    cols = ["path", "sha256", "duration", "model", "caption", "error"]
    if kind == "csv":
        dest = out.with_suffix(".csv")
        with open(dest, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
            w.writeheader()
            w.writerows(records)
        return dest
    if kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        dest = out.with_suffix(".parquet")
        table = pa.table({c: [r.get(c) for r in records] for c in cols} | {"segments": [json.dumps(r.get("segments")) if r.get("segments") else None for r in records]})
        pq.write_table(table, dest)
        return dest
    raise UserError(f"--also must be csv or parquet, not {kind!r}")


def caption_files(model: Any, files: Sequence[str], out: str | Path, cfg: CaptionConfig, progress: bool = True) -> dict[str, int]:
    """Caption `files` into `out` (JSONL), resuming; returns counts of this run."""
    import soundfile as sf

    from .chat import analysis
    from .generate import GenerationConfig, generate

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    target = out if world == 1 else out.with_name(f"{out.name}.shard-{rank:05d}-of-{world:05d}")
    done = {_key(r) for r in repair_and_read(out)}
    for shard in _shard_paths(out):
        if shard.suffix != ".done":
            done |= {_key(r) for r in repair_and_read(shard)}
    mine = list(files)[rank::world]
    todo, errors = [], []
    for f in mine:
        try:
            digest = sha256(f)
        except OSError as e:
            errors.append({"path": f, "sha256": "", "duration": None, "model": cfg.model_name, "error": f"cannot read: {e.strerror}"})
            continue
        if (f, digest) in done:
            continue
        try:
            info = sf.info(f)
            todo.append((info.frames / info.samplerate, f, digest))
        except Exception:
            todo.append((0.0, f, digest))  # decoding will name the problem
    _append(target, [e for e in errors if (e["path"], e["sha256"]) not in done])
    todo.sort()  # by duration: batches of similar length waste little padding
    gen = GenerationConfig(max_new_tokens=cfg.max_new_tokens)
    counts = {"captioned": 0, "errors": len(errors), "skipped": len(mine) - len(todo) - len(errors)}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="clip", desc=f"caption[{rank}]" if world > 1 else "caption", dynamic_ncols=True)
    t0, audio_s = time.perf_counter(), 0.0
    win = int(cfg.window_seconds * A.SAMPLE_RATE)
    for i in range(0, len(todo), cfg.batch_size):
        chunk = todo[i : i + cfg.batch_size]
        records, ok = [], []
        for _dur, f, digest in chunk:
            base = {"path": f, "sha256": digest, "model": cfg.model_name}
            try:
                wav = A.load(f)
                if A.num_audio_tokens(len(wav), **model.config.token_args) == 0:
                    raise UserError(f"{f}: too short to caption ({len(wav)} samples)")
                ok.append((base | {"duration": round(len(wav) / A.SAMPLE_RATE, 3)}, wav))
            except UserError as e:
                records.append(base | {"duration": None, "error": str(e)})
        # whole clips first (the overall caption), then the windows of long recordings
        convs = [analysis([w], cfg.prompt) for _, w in ok]
        clips = [[w] for _, w in ok]
        pieces: list[tuple[int, float, float]] = []
        for j, (_, w) in enumerate(ok):
            if len(w) > win:
                for s, e in A.window_spans(len(w), win):
                    if A.num_audio_tokens(e - s, **model.config.token_args) > 0:
                        pieces.append((j, s / A.SAMPLE_RATE, e / A.SAMPLE_RATE))
                        convs.append(analysis([w[s:e]], cfg.prompt))
                        clips.append([w[s:e]])
        texts = []
        for k in range(0, len(convs), cfg.batch_size):
            texts += [g.text for g in generate(model, convs[k : k + cfg.batch_size], gen, clips=clips[k : k + cfg.batch_size])]
        for j, (rec, w) in enumerate(ok):
            rec["caption"] = texts[j]
            segs = [{"start": round(s, 3), "end": round(e, 3), "caption": texts[len(ok) + n]} for n, (jj, s, e) in enumerate(pieces) if jj == j]
            if segs:
                rec["segments"] = segs
            records.append(rec)
            audio_s += len(w) / A.SAMPLE_RATE
        _append(target, records)
        counts["captioned"] += len(ok)
        counts["errors"] += len(records) - len(ok)
        if bar is not None:
            el = max(time.perf_counter() - t0, 1e-9)
            bar.update(len(chunk))
            bar.set_postfix_str(f"{counts['captioned'] / el:.2f} clips/s, {audio_s / el:.1f} audio-h/h")
    if bar is not None:
        bar.close()
    if world > 1:  # the last shard to finish merges (markers make "last" decidable without a process group)
        target.with_name(target.name + ".done").touch()
        if len(list(out.parent.glob(out.name + ".shard-*.done"))) == world:
            merge(out)
    if cfg.also and (world == 1 or not _shard_paths(out)):
        _export(out, cfg.also)
    return counts
