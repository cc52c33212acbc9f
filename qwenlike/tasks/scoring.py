"""Task evaluation: predictions + rows -> {metric: value}, by the metric names of TASKS.md.

Metrics are looked up lazily in `qwenlike.metrics.get_metric(name)` (a callable
`fn(predictions, references) -> float | dict`). Where that registry is not there (it is being
written alongside this module), accuracy, WER and CER fall back to the small implementations
below; any other metric is then skipped with a warning instead of a made-up number.

Closed-set tasks score `accuracy` on labels: the prediction's label (Task.parse_label) against
the row's `label` column (its answer when there is no label), so "C4, velocity 80" counts as C4.
"""

from __future__ import annotations

import re
import warnings
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from ..errors import UserError

if TYPE_CHECKING:
    from .task import Task

Metric = Callable[[Sequence[str], Sequence[str]], Any]


def _words(s: str) -> list[str]:
    return re.sub(r"[^\w\s']", " ", s.lower()).split()


def _edits(a: Sequence[str], b: Sequence[str]) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def fallback_accuracy(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Exact match after lower-casing and stripping punctuation/space."""
    norm = lambda s: " ".join(_words(s))  # noqa: E731
    return sum(norm(p) == norm(r) for p, r in zip(predictions, references)) / max(1, len(references))


def fallback_wer(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Corpus WER: total word edits / total reference words (lower-cased, punctuation removed)."""
    edits = sum(_edits(_words(p), _words(r)) for p, r in zip(predictions, references))
    return edits / max(1, sum(len(_words(r)) for r in references))


def fallback_cer(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Corpus CER over normalised characters (spaces kept between words)."""
    chars = lambda s: list(" ".join(_words(s)))  # noqa: E731
    edits = sum(_edits(chars(p), chars(r)) for p, r in zip(predictions, references))
    return edits / max(1, sum(len(chars(r)) for r in references))


def strip_timestamps(text: str) -> str:
    """'0.10-0.32 the, 0.40-0.71 quick' -> 'the quick' (the registry's version when it exists)."""
    try:
        from ..metrics import strip_timestamps as registry_strip
    except ImportError:
        return " ".join(re.sub(r"\d+(?:\.\d+)?\s*-\s*\d+(?:\.\d+)?", " ", text).replace(",", " ").split())
    return registry_strip(text)


# text transforms a task file may ask for before a metric sees predictions and references
TRANSFORMS: dict[str, Callable[[str], str]] = {"strip_timestamps": strip_timestamps}

FALLBACKS: dict[str, Metric] = {"accuracy": fallback_accuracy, "wer": fallback_wer, "cer": fallback_cer}


def get_metric(name: str) -> Metric | None:
    """The registry's metric, a fallback if the registry is absent, or None when unavailable."""
    try:
        from .. import metrics as registry
    except ImportError:
        registry = None
    lookup = getattr(registry, "get_metric", None)
    if lookup is None:
        return FALLBACKS.get(name)
    try:
        return lookup(name)
    except (KeyError, ValueError, UserError):
        return None


def _as_scores(name: str, value: Any) -> dict[str, float]:
    if isinstance(value, Mapping):
        return {
            (k if k.startswith(name) else f"{name}.{k}"): float(v)
            for k, v in value.items()
            if isinstance(v, (int, float))
        }
    return {name: float(value)}


def score_task(task: "Task", predictions: Sequence[str], rows: Sequence[Mapping[str, Any]],
               metrics: Sequence[str] | None = None) -> dict[str, float]:
    """{metric: value} for one task (only `metrics` of its metrics when given); `n` is the number of
    scored samples."""
    if len(predictions) != len(rows):
        raise UserError(f"{task.name}: {len(predictions)=} != {len(rows)=}")
    if not rows:
        raise UserError(f"{task.name}: nothing to score")
    norm_rows = [task.row(r) for r in rows]
    refs = [task.reference(r) for r in norm_rows]
    preds = [str(p) for p in predictions]
    out: dict[str, float] = {"n": float(len(rows))}
    for name in task.metrics:
        if metrics is not None and name not in metrics:
            continue
        fn = get_metric(name)
        if fn is None:
            warnings.warn(f"{task.name}: metric {name!r} is not available; skipped", stacklevel=2)
            continue
        if name == "accuracy" and task.closed:
            p = [task.parse_label(x) for x in preds]
            r = [task.label_of(row) for row in norm_rows]
            out.update(_as_scores(name, fn(p, r)))
        elif name in task.metric_inputs:
            tf = TRANSFORMS[task.metric_inputs[name]]
            out.update(_as_scores(name, fn([tf(x) for x in preds], [tf(x) for x in refs])))
        else:
            out.update(_as_scores(name, fn(preds, refs)))
    return out
