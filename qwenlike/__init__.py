"""qwenlike: audio in, text out. Build, train, evaluate and serve Qwen-Audio-style audio LLMs.

Heavy parts load lazily so `import qwenlike` stays cheap (the CLI and the metrics import little).
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "AudioLM": "qwenlike.model",
    "AudioLMConfig": "qwenlike.model",
    "UserError": "qwenlike.errors",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'qwenlike' has no attribute {name!r}")


__all__ = list(_LAZY)
