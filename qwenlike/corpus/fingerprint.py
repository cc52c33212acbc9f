"""`qwenlike corpus fingerprint DIR [--expect FILE]`: what a corpus build holds, as digests.

    qwenlike corpus fingerprint runs/default/corpus > fp.json
    qwenlike corpus fingerprint runs/default/corpus --expect recipes/default-corpus.fingerprint.json

One SHA-256 per task and split over every item in order: its columns (JSON, sorted keys) and the
SHA-1 of its clips' WAV bytes; `corpus` digests them all. Two builds with the same digest hold the
same items byte for byte; where they differ, the tasks that differ say where to look (a voice
engine that speaks differently on another CPU, another package version). `--expect` compares
with a recorded fingerprint: exit 0 and one line when they match, exit 1 and the differing task
splits when they do not (scripts/train_default.sh warns and trains on).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from qwenlike.errors import UserError

from .checks import audio_hash
from .common import SPLITS

AUDIO = ("audio", "audio2")


def _item_digest(row: dict) -> bytes:
    meta = {k: v for k, v in row.items() if k not in AUDIO}
    clips = [audio_hash(row, c) for c in AUDIO]
    return (json.dumps(meta, sort_keys=True, ensure_ascii=False) + "\n" + " ".join(clips) + "\n").encode()


def fingerprint(corpus: str | Path) -> dict:
    """{"corpus_version", "corpus": digest, "tasks": {task: {split: digest}}, "items": {split: n}}."""
    from datasets import Audio, load_from_disk

    path = Path(corpus)
    if not (path / "dataset_dict.json").exists():
        raise UserError(f"{path}: not a corpus build (no dataset_dict.json; qwenlike corpus build --out {path})")
    build = json.loads((path / "build.json").read_text()) if (path / "build.json").exists() else {}
    dd = load_from_disk(str(path))
    tasks: dict[str, dict[str, hashlib._Hash]] = {}
    items: dict[str, int] = {}
    for split in SPLITS:
        if split not in dd:
            continue
        ds = dd[split]
        for c in AUDIO:
            if c in ds.column_names:
                ds = ds.cast_column(c, Audio(decode=False))
        items[split] = len(ds)
        for batch in ds.iter(batch_size=256):
            cols = list(batch)
            for i in range(len(batch["task"])):
                row = {c: batch[c][i] for c in cols}
                tasks.setdefault(row["task"], {}).setdefault(split, hashlib.sha256()).update(_item_digest(row))
    out = {t: {s: h.hexdigest()[:16] for s, h in per.items()} for t, per in tasks.items()}
    whole = hashlib.sha256(json.dumps(out, sort_keys=True).encode()).hexdigest()[:16]
    return {"corpus_version": build.get("version"), "corpus": whole, "items": items, "tasks": out}


def differences(got: dict, want: dict) -> list[str]:
    """'task/split' for every task split whose digest differs (or that only one side has)."""
    g, w = got.get("tasks", {}), want.get("tasks", {})
    keys = sorted({(t, s) for d in (g, w) for t in d for s in d[t]})
    return [f"{t}/{s}" for t, s in keys if g.get(t, {}).get(s) != w.get(t, {}).get(s)]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qwenlike corpus fingerprint", description=__doc__.split("\n\n")[0])
    p.add_argument("corpus", help="a corpus build folder (qwenlike corpus build --out DIR)")
    p.add_argument("--expect", metavar="FILE", help="a recorded fingerprint (JSON) to compare with")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    want = None
    if args.expect:
        try:
            want = json.loads(Path(args.expect).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise UserError(f"--expect {args.expect}: cannot read a fingerprint ({e})") from None
    got = fingerprint(args.corpus)
    print(json.dumps(got, indent=1, sort_keys=True))
    if want is None:
        return 0
    diff = differences(got, want)
    n = sum(len(v) for v in want.get("tasks", {}).values())
    if not diff:
        print(f"corpus fingerprint: {args.corpus} matches {args.expect} ({got['corpus']}: {n} task splits)", file=sys.stderr)
        return 0
    print(f"corpus fingerprint: {args.corpus} differs from {args.expect} in {len(diff)} of {n} task splits: "
          f"{', '.join(diff[:12])}{' ...' if len(diff) > 12 else ''}", file=sys.stderr)
    return 1
