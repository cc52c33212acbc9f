"""Where things live on disk: the default model, caches. Floor 1."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
EXAMPLES_DIR = PACKAGE_DIR / "examples"


def cache_dir() -> Path:
    return Path(os.environ.get("QWENLIKE_CACHE", Path.home() / ".cache" / "qwenlike"))


def default_model_dir() -> Path | None:
    """The model `--model` falls back to: the assembled default model, if it has been built."""
    for p in (cache_dir() / "default-model", PACKAGE_DIR / "default_model"):
        if (p / "config.json").exists():
            return p
    return None
