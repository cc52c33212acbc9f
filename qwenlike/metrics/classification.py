"""Label metrics: accuracy, macro-F1, mAP from scores, EER, and slot/entity F1.

Labels are compared after a light normalisation (case, surrounding spaces and punctuation), because
a generative model answers "Male." where the reference says "male"; pass normalize=False for exact
string comparison.
"""

from __future__ import annotations

import json
import math
import string
from collections import Counter
from typing import Any, Iterable, Mapping, Sequence

from qwenlike.errors import UserError

_STRIP = string.whitespace + string.punctuation


def normalize_label(s: Any) -> str:
    """Casefold, collapse inner whitespace, strip surrounding whitespace and punctuation."""
    return " ".join(str(s).casefold().split()).strip(_STRIP)


def _check_pairs(predictions: Sequence, references: Sequence) -> None:
    if len(predictions) != len(references):
        raise UserError(f"{len(predictions)=} != {len(references)=}")
    if len(references) == 0:
        raise UserError("nothing to score")


def accuracy(predictions: Sequence[Any], references: Sequence[Any | Sequence[Any]],
             normalize: bool = True) -> float:
    """Fraction of predictions equal to the reference (or to any of a list of accepted answers)."""
    _check_pairs(predictions, references)
    norm = normalize_label if normalize else (lambda x: x)
    hits = 0
    for p, r in zip(predictions, references):
        accepted = [r] if isinstance(r, (str, int, float, bool)) or r is None else list(r)
        hits += norm(p) in {norm(a) for a in accepted}
    return hits / len(references)


def _intent(x: Any) -> Any:
    """The "intent" of a JSON answer ({"intent": ..., "slots": ...}); anything else is taken as the
    intent label itself, and malformed JSON-looking text as no intent."""
    if isinstance(x, Mapping):
        return x.get("intent")
    if isinstance(x, str) and x.lstrip().startswith("{"):
        try:
            obj = json.loads(x)
        except ValueError:
            return None
        return obj.get("intent") if isinstance(obj, Mapping) else None
    return x


def intent_accuracy(predictions: Sequence[Any], references: Sequence[Any], normalize: bool = True) -> float:
    """Accuracy of the intent alone when answers are intent+slots JSON (intent_slots task); plain
    labels work too. A prediction without a readable intent is wrong."""
    _check_pairs(predictions, references)
    norm = normalize_label if normalize else (lambda x: x)
    hits = 0
    for p, r in zip(predictions, references):
        pi, ri = _intent(p), _intent(r)
        if ri is None:
            raise UserError(f"reference {r!r} has no intent")
        hits += pi is not None and norm(pi) == norm(ri)
    return hits / len(references)


def macro_f1(predictions: Sequence[Any], references: Sequence[Any], labels: Sequence[Any] | None = None,
             normalize: bool = True) -> float:
    """Unweighted mean of per-class F1 over string labels.

    labels=None uses every label seen in predictions or references, as scikit-learn's
    f1_score(average='macro') does, so an invented label costs an extra zero-F1 class; pass the
    closed label set to ignore invented ones (they then count only as misses of the true class).
    A class with no predictions and no references would have F1 0/0; it is scored 0 like sklearn.
    """
    _check_pairs(predictions, references)
    norm = normalize_label if normalize else (lambda x: x)
    preds, refs = [norm(p) for p in predictions], [norm(r) for r in references]
    classes = sorted(set(preds) | set(refs)) if labels is None else [norm(x) for x in labels]
    total = 0.0
    for c in classes:
        tp = sum(p == c and r == c for p, r in zip(preds, refs))
        n_pred, n_ref = preds.count(c), refs.count(c)
        total += 2 * tp / (n_pred + n_ref) if n_pred + n_ref else 0.0
    return total / len(classes)


def _average_precision(scores: Sequence[float], positives: Sequence[bool]) -> float:
    """Non-interpolated AP = sum over thresholds of (recall step) x precision, ties scored together
    (scikit-learn's definition). No positive at all gives 0, as sklearn does (it warns)."""
    n_pos = sum(positives)
    if n_pos == 0:
        return 0.0
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    ap = 0.0
    tp = fp = 0
    k = 0
    while k < len(order):
        # a group of equal scores is one threshold
        s = scores[order[k]]
        tp_before = tp
        while k < len(order) and scores[order[k]] == s:
            if positives[order[k]]:
                tp += 1
            else:
                fp += 1
            k += 1
        ap += (tp - tp_before) / n_pos * (tp / (tp + fp))
    return ap


def mean_average_precision(predictions: Sequence[Mapping[str, float] | Sequence[float]],
                           references: Sequence[str | Iterable[str]],
                           labels: Sequence[str] | None = None) -> float:
    """Macro mAP over classes from per-class scores; equals sklearn's
    average_precision_score(y_true, y_score, average='macro').

    predictions: one score per class per item, as a {label: score} mapping (missing labels score
    -inf) or a list ordered like `labels`. references: the item's label, or an iterable of labels
    (multi-label). labels: the class list; required with list scores, else the union of mapping keys
    and reference labels (sorted). A class with no positive item contributes AP 0 (sklearn's rule).
    """
    _check_pairs(predictions, references)
    ref_sets = [{r} if isinstance(r, str) else set(r) for r in references]
    if labels is None:
        if not all(isinstance(p, Mapping) for p in predictions):
            raise UserError("mean_average_precision needs labels= when scores are lists")
        labels = sorted(set().union(*(p.keys() for p in predictions)) | set().union(*ref_sets))
    labels = list(labels)
    matrix: list[list[float]] = []
    for p in predictions:
        if isinstance(p, Mapping):
            matrix.append([float(p.get(c, -math.inf)) for c in labels])
        else:
            row = [float(x) for x in p]
            if len(row) != len(labels):
                raise UserError(f"score row has {len(row)} values for {len(labels)} labels")
            matrix.append(row)
    aps = [_average_precision([row[j] for row in matrix], [c in rs for rs in ref_sets])
           for j, c in enumerate(labels)]
    return sum(aps) / len(aps)


def eer(predictions: Sequence[float], references: Sequence[int | bool]) -> float:
    """Equal error rate (0-1) for verification: scores (higher = more likely the same speaker) and
    binary labels (1 = target trial). The ROC is swept over every threshold; where false-accept and
    false-reject rates cross between two thresholds the EER is linearly interpolated there."""
    _check_pairs(predictions, references)
    labels = [bool(x) for x in references]
    n_pos, n_neg = sum(labels), len(labels) - sum(labels)
    if n_pos == 0 or n_neg == 0:
        raise UserError(f"EER needs both target and non-target trials ({n_pos=}, {n_neg=})")
    order = sorted(range(len(predictions)), key=lambda i: -float(predictions[i]))
    # Threshold above every score: accept nothing -> FAR 0, FRR 1.
    points = [(0.0, 1.0)]
    tp = fp = 0
    k = 0
    while k < len(order):
        s = float(predictions[order[k]])
        while k < len(order) and float(predictions[order[k]]) == s:
            tp += labels[order[k]]
            fp += not labels[order[k]]
            k += 1
        points.append((fp / n_neg, 1 - tp / n_pos))  # (FAR, FRR) accepting scores >= s
    for (far0, frr0), (far1, frr1) in zip(points, points[1:]):
        if far1 >= frr1:  # crossed between these two thresholds
            d0, d1 = frr0 - far0, frr1 - far1  # d0 > 0 >= d1
            t = d0 / (d0 - d1) if d0 != d1 else 0.0
            return far0 + t * (far1 - far0)
    return 0.0  # unreachable: the last point is (1, 0)


# ----------------------------------------------------------------------------------------------
# Slot / entity F1
# ----------------------------------------------------------------------------------------------
def _pairs(item: Any) -> list[tuple[str, str]]:
    """One item's slots -> [(type, value)]. Accepts a JSON string (invalid JSON = no slots, since a
    model's malformed answer must cost recall, not crash the run), {type: value or [values]},
    [(type, value)] or [{"type"/"slot"/"label", "value"/"filler"/"text"}] (SLURP uses type/filler).
    A dict with a "slots" or "entities" key is unwrapped (the intent_slots answer format)."""
    if item is None:
        return []
    if isinstance(item, str):
        try:
            item = json.loads(item)
        except ValueError:
            return []
    if isinstance(item, Mapping) and ("slots" in item or "entities" in item):
        item = item.get("slots", item.get("entities"))
    out: list[tuple[str, str]] = []
    if isinstance(item, Mapping):
        if "type" in item and ("value" in item or "filler" in item):  # one slot given as a dict
            item = [item]
        else:
            for k, v in item.items():
                for x in (v if isinstance(v, (list, tuple)) else [v]):
                    out.append((str(k), str(x)))
            return [(normalize_label(t), normalize_label(v)) for t, v in out]
    if not isinstance(item, (list, tuple)):
        return []
    for x in item:
        if isinstance(x, Mapping):
            t = x.get("type", x.get("slot", x.get("label")))
            v = x.get("value", x.get("filler", x.get("text")))
            if t is not None and v is not None:
                out.append((str(t), str(v)))
        elif isinstance(x, (list, tuple)) and len(x) == 2:
            out.append((str(x[0]), str(x[1])))
    return [(normalize_label(t), normalize_label(v)) for t, v in out]


def slot_scores(predictions: Sequence[Any], references: Sequence[Any]) -> dict[str, float]:
    """Micro precision/recall/F1 over (type, value) pairs, exact match after normalisation (case,
    spacing, surrounding punctuation), each pair matched at most once (multiset intersection)."""
    _check_pairs(predictions, references)
    tp = n_pred = n_ref = 0
    for p, r in zip(predictions, references):
        pp, rr = Counter(_pairs(p)), Counter(_pairs(r))
        tp += sum((pp & rr).values())
        n_pred += sum(pp.values())
        n_ref += sum(rr.values())
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_ref if n_ref else 0.0
    f1 = 2 * tp / (n_pred + n_ref) if n_pred + n_ref else 1.0  # nothing to find and nothing found
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "n_pred": n_pred, "n_ref": n_ref}


def slot_f1(predictions: Sequence[Any], references: Sequence[Any]) -> float:
    """Micro F1 over (slot type, value) pairs, SLURP-style exact span matching (see slot_scores)."""
    return slot_scores(predictions, references)["f1"]


def entity_f1(predictions: Sequence[Any], references: Sequence[Any]) -> float:
    """Micro F1 over (entity type, entity text) pairs; the same computation as slot_f1."""
    return slot_scores(predictions, references)["f1"]
