"""Shared timing for the bench scripts (run as `python bench/NAME.py`, so this imports as `common`)."""

from __future__ import annotations

import time
from typing import Callable


def best(fn: Callable[[], object], repeat: int = 3) -> float:
    """Seconds of the fastest of `repeat` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)
