"""Where things live on disk: the default model, built base models, caches. Floor 1.

Model references a user may pass wherever a model folder goes (`--model`, `model.path`, a delta
checkpoint's base):
- a folder (qwenlike checkpoint, delta checkpoint, transformers Qwen2-Audio folder);
- `default`: the shipped default model (qwenlike/default_model: trained adapter + LoRA only);
- a build spec `ENCODER+LLM` with `qwenlike build` aliases (e.g. `whisper-base+smollm2-135m-instruct`):
  assembled once from the installed base-model packages into the cache, then reused.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
EXAMPLES_DIR = PACKAGE_DIR / "examples"
DEFAULT_MODEL = PACKAGE_DIR / "default_model"
DEFAULT_BASE = "whisper-base+smollm2-135m-instruct"  # what the default model's delta sits on


def cache_dir() -> Path:
    return Path(os.environ.get("QWENLIKE_CACHE", Path.home() / ".cache" / "qwenlike"))


def default_model_dir() -> Path | None:
    """The model `--model` falls back to: the shipped default model, if this install has it."""
    return DEFAULT_MODEL if (DEFAULT_MODEL / "config.json").exists() else None


def is_build_spec(ref: str | os.PathLike) -> bool:
    """`ENC+LLM` naming two `qwenlike build` aliases (and not an existing folder)."""
    from .convert.sources import ALIASES

    s = str(ref)
    if Path(s).exists() or s.count("+") != 1:
        return False
    enc, llm = s.split("+")
    return enc in ALIASES and llm in ALIASES


def built_base(spec: str) -> Path:
    """The folder of an assembled `ENC+LLM` base, building it on first use (about a minute)."""
    from .assemble import build

    out = cache_dir() / "bases" / spec
    if (out / "config.json").exists():
        return out
    enc, llm = spec.split("+")
    print(f"qwenlike: assembling {spec} from the installed base-model packages into {out} (once)", file=sys.stderr)
    build(enc, llm, out)  # written beside its name and renamed in: a killed build leaves no half folder
    return out


def resolve_model_ref(ref: str | os.PathLike) -> Path:
    """A model reference (see the module doc) -> the folder to load."""
    from .errors import UserError

    s = str(ref)
    if s == "default":
        found = default_model_dir()
        if found is None:
            raise UserError("the default model is not in this install (see docs/default-model.md)")
        return found
    if is_build_spec(s):
        return built_base(s)
    return Path(s)
