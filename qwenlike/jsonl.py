"""Append-only JSONL files that survive kills: whole lines, fsync'd; a cut last line is dropped. Floor 1."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable


def repair_and_read(path: Path) -> list[dict]:
    """Records of a JSONL file; a partial last line (a write cut by a kill) is cut off the file."""
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with open(path, "r+b") as f:
            f.truncate(end)
    return [json.loads(line) for line in data[:end].splitlines() if line.strip()]


def append(path: Path, records: Iterable[dict]) -> None:
    """Append records as lines in one write, then fsync: a kill leaves at most one partial line."""
    blob = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    if not blob:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, blob)
        os.fsync(fd)
    finally:
        os.close(fd)
