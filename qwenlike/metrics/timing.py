"""Time and pitch metrics: event F1 (sound event detection), word boundary error, grounding IoU,
tempo error and pitch error.

Times are in seconds unless a name says ms. Event F1 is sed_eval's *event-based* metric (not the
segment-based one): an estimated event matches a reference event of the same label when its onset
is within t_collar (200 ms) of the reference onset and its offset within max(t_collar,
percentage_of_length x reference length) (20%, the DCASE / DESED setting; sed_eval's own default
is 50%). Each event is matched at most once, with a maximum bipartite matching (sed_eval's
"optimal" matching), and precision/recall/F1 are micro-averaged over all files.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Mapping, Sequence

from qwenlike.errors import UserError

Event = tuple[str, float, float]


def _check_pairs(predictions: Sequence, references: Sequence) -> None:
    if len(predictions) != len(references):
        raise UserError(f"{len(predictions)=} != {len(references)=}")
    if len(references) == 0:
        raise UserError("nothing to score")


_SPAN = re.compile(r"(\d+(?:\.\d+)?)\s*s?\s*(?:-|\u2013|to)\s*(\d+(?:\.\d+)?)\s*s?")


def parse_timed_items(text: str) -> list[Event]:
    """Parse the task answer format "START-END label, START-END label" (seconds) into
    (label, start, end) items; the label may also stand before the span ("dog 1.20-3.40").
    Chunks without a time span are dropped, so free text around the answer costs nothing but the
    missing items. "1.2s to 3.4s" and an en dash are accepted too."""
    items: list[Event] = []
    for chunk in re.split(r"[,;\n]", text):
        m = _SPAN.search(chunk)
        if m:
            label = " ".join((chunk[:m.start()] + " " + chunk[m.end():]).split())
            items.append((label, float(m.group(1)), float(m.group(2))))
    return items


def strip_timestamps(text: str) -> str:
    """The words of a timed answer ("0.12-0.48 hello, 0.60-1.02 world" -> "hello world"), for WER on
    asr_timestamps; text without any time span is returned unchanged."""
    items = parse_timed_items(text)
    return " ".join(label for label, _, _ in items if label) if items else text


def _items(x: Any) -> list:
    """A file's events/words as given: a list, or answer text to parse; None is no items."""
    if x is None:
        return []
    if isinstance(x, str):
        return list(parse_timed_items(x))
    return list(x)


def _event(e: Any) -> Event:
    """(label, onset, offset) from a tuple or a mapping with label/event_label and onset/offset."""
    if isinstance(e, Mapping):
        label = e.get("label", e.get("event_label"))
        return " ".join(str(label).lower().split()), float(e["onset"]), float(e["offset"])
    label, onset, offset = e
    return " ".join(str(label).lower().split()), float(onset), float(offset)


def _max_matching(n_ref: int, candidates: list[list[int]]) -> int:
    """Size of a maximum bipartite matching; candidates[i] lists the estimates reference i may take."""
    match_of_est: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j in candidates[i]:
            if j not in seen:
                seen.add(j)
                if j not in match_of_est or augment(match_of_est[j], seen):
                    match_of_est[j] = i
                    return True
        return False

    return sum(augment(i, set()) for i in range(n_ref))


def event_scores(predictions: Sequence[Sequence[Any]], references: Sequence[Sequence[Any]],
                 t_collar: float = 0.2, percentage_of_length: float = 0.2,
                 evaluate_offset: bool = True) -> dict[str, float]:
    """Event-based precision/recall/F1 (micro over files) and tp/fp/fn counts; see module doc.
    Each item is one file's events: (label, onset_s, offset_s) tuples, mappings, or the answer text
    "START-END label, ..." (see parse_timed_items). Labels are compared case-insensitively."""
    _check_pairs(predictions, references)
    tp = n_est = n_ref = 0
    for est_raw, ref_raw in zip(predictions, references):
        est = [_event(e) for e in _items(est_raw)]
        ref = [_event(e) for e in _items(ref_raw)]
        cands = []
        for label, on, off in ref:
            off_collar = max(t_collar, percentage_of_length * (off - on))
            cands.append([j for j, (l2, on2, off2) in enumerate(est)
                          if l2 == label and abs(on2 - on) <= t_collar
                          and (not evaluate_offset or abs(off2 - off) <= off_collar)])
        tp += _max_matching(len(ref), cands)
        n_est += len(est)
        n_ref += len(ref)
    precision = tp / n_est if n_est else 0.0
    recall = tp / n_ref if n_ref else 0.0
    f1 = 2 * tp / (n_est + n_ref) if n_est + n_ref else 1.0  # no events anywhere, none predicted
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": n_est - tp, "fn": n_ref - tp}


def event_f1(predictions: Sequence[Sequence[Any]], references: Sequence[Sequence[Any]],
             t_collar: float = 0.2, percentage_of_length: float = 0.2, evaluate_offset: bool = True) -> float:
    """Event-based micro F1 (sed_eval style, 200 ms onset collar, offset collar max(200 ms, 20%))."""
    return event_scores(predictions, references, t_collar, percentage_of_length, evaluate_offset)["f1"]


# ----------------------------------------------------------------------------------------------
# Word timestamps
# ----------------------------------------------------------------------------------------------
def _align_matches(hyp: list[str], ref: list[str]) -> list[tuple[int, int]]:
    """Index pairs of equal words on a minimum-edit alignment (Levenshtein with backtrace)."""
    n, m = len(hyp), len(ref)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        d[i][0] = i
    for j in range(m + 1):
        d[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (hyp[i - 1] != ref[j - 1]))
    pairs = []
    i, j = n, m
    while i > 0 and j > 0:
        if hyp[i - 1] == ref[j - 1] and d[i][j] == d[i - 1][j - 1]:
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif d[i][j] == d[i - 1][j - 1] + 1:
            i, j = i - 1, j - 1
        elif d[i][j] == d[i - 1][j] + 1:
            i -= 1
        else:
            j -= 1
    return pairs[::-1]


def _word(w: Any) -> tuple[str, float, float]:
    if isinstance(w, Mapping):
        return str(w.get("word", w.get("text"))), float(w["start"]), float(w["end"])
    word, start, end = w
    return str(word), float(start), float(end)


def mean_boundary_error_ms(predictions: Sequence[Sequence[Any]], references: Sequence[Sequence[Any]],
                           normalizer: str | Callable[[str], str] | None = "english") -> float:
    """Mean absolute error (ms) of word start and end times over words that the transcripts share.

    Items are lists of (word, start_s, end_s) or {"word", "start", "end"}, or the answer text
    "0.12-0.48 hello, 0.60-1.02 world" (see parse_timed_items). Words are normalised one
    by one (those that normalise to nothing are dropped) and aligned by minimum edit distance; each
    aligned pair of equal words contributes |start error| and |end error|. Recognition errors are
    WER's business, so unmatched words do not count here. NaN when no word matches at all.
    """
    from qwenlike.metrics.normalizers import get_normalizer

    _check_pairs(predictions, references)
    norm = get_normalizer(normalizer)
    total, count = 0.0, 0
    for hyp_raw, ref_raw in zip(predictions, references):
        hyp = [(norm(w), s, e) for w, s, e in map(_word, _items(hyp_raw))]
        ref = [(norm(w), s, e) for w, s, e in map(_word, _items(ref_raw))]
        hyp, ref = [x for x in hyp if x[0]], [x for x in ref if x[0]]
        for i, j in _align_matches([x[0] for x in hyp], [x[0] for x in ref]):
            total += abs(hyp[i][1] - ref[j][1]) + abs(hyp[i][2] - ref[j][2])
            count += 2
    return 1000.0 * total / count if count else math.nan


# ----------------------------------------------------------------------------------------------
# Grounding IoU
# ----------------------------------------------------------------------------------------------
def _merge(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _intervals(x: Any) -> list[tuple[float, float]]:
    """One (start, end), a list of them, or answer text "START-END[, START-END]" -> valid intervals."""
    if x is None:
        return []
    if isinstance(x, str):
        spans = [(s, e) for _, s, e in parse_timed_items(x)]
    elif len(x) and not isinstance(x[0], (list, tuple)):
        spans = [tuple(x)] if len(x) == 2 else []
    else:
        spans = [tuple(r) for r in x if len(r) == 2]
    return [(float(s), float(e)) for s, e in spans if float(e) > float(s)]


def iou(prediction: Any, references: Any) -> float:
    """IoU of the predicted interval(s) with the reference interval(s), in seconds.

    Either side may be one (start, end), several, or the answer text "START-END" (several spans
    comma-separated). Several references (the named event occurs more than once) are merged into
    their union and the IoU is taken against that union: finding one of two equal occurrences
    scores 0.5, and one span over both pays for the gap between them. A missing, unparseable or
    empty prediction (end <= start) scores 0.
    """
    ref_union = _merge(_intervals(references))
    pred_union = _merge(_intervals(prediction))
    if not ref_union or not pred_union:
        return 0.0
    inter = sum(max(0.0, min(pe, re_) - max(ps, rs)) for ps, pe in pred_union for rs, re_ in ref_union)
    union = sum(e - s for s, e in _merge(ref_union + pred_union))
    return inter / union


def mean_iou(predictions: Sequence[Any], references: Sequence[Any]) -> float:
    """Mean over items of iou(prediction, references)."""
    _check_pairs(predictions, references)
    return sum(iou(p, r) for p, r in zip(predictions, references)) / len(references)


# ----------------------------------------------------------------------------------------------
# Tempo and pitch
# ----------------------------------------------------------------------------------------------
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


def parse_number(x: Any) -> float | None:
    """A number, or the first number written in a string ("about 120 bpm" -> 120.0); else None."""
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return float(x)
    m = _NUMBER.search(str(x))
    return float(m.group()) if m else None


_TEMPO = re.compile(r"^\s*(?:about\s+|around\s+)?(\d+(?:\.\d+)?)\s*(?:bpm|beats per minute)?\s*\.?\s*$", re.I)


def _tempo_pairs(predictions: Sequence[Any], references: Sequence[Any]) -> list[tuple[float | None, float]]:
    """(predicted BPM or None, reference BPM) for the items whose reference is a tempo: a number
    or "N BPM". Other references (a key, a metre "3/4") are skipped, so music_qa's mixed question
    set can be scored with it."""
    _check_pairs(predictions, references)
    out = []
    for p, r in zip(predictions, references):
        if isinstance(r, (int, float)) and not isinstance(r, bool):
            ref: float | None = float(r)
        else:
            m = _TEMPO.match(str(r))
            ref = float(m.group(1)) if m else None
        if ref is not None and ref > 0:
            out.append((parse_number(p), ref))
    return out


def tempo_error(predictions: Sequence[Any], references: Sequence[Any], max_error: float = 1.0) -> float:
    """Mean relative tempo error |pred - ref| / ref over the tempo items (see _tempo_pairs), each
    capped at max_error (1.0 = 100%) so that an unparseable answer or a wild number costs max_error
    rather than dominating the mean. NaN when no reference is a tempo."""
    pairs = _tempo_pairs(predictions, references)
    if not pairs:
        return math.nan
    return sum(max_error if p is None else min(max_error, abs(p - r) / r) for p, r in pairs) / len(pairs)


def tempo_accuracy(predictions: Sequence[Any], references: Sequence[Any], tolerance: float = 0.04,
                   allow_octave: bool = False) -> float:
    """MIREX tempo accuracy over the tempo items: within `tolerance` (4%) of the reference (Acc1);
    with allow_octave also at 1/3, 1/2, 2 or 3 times it (Acc2). NaN when no reference is a tempo."""
    pairs = _tempo_pairs(predictions, references)
    if not pairs:
        return math.nan
    factors = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0) if allow_octave else (1.0,)
    hits = sum(p is not None and any(abs(p - f * r) <= tolerance * f * r for f in factors) for p, r in pairs)
    return hits / len(pairs)


_PITCH_CLASS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_NOTE = re.compile(r"\b([a-g])\s*(#|♯|b|♭|sharp|flat)?\s*(-?\d)\b", re.IGNORECASE)


def parse_pitch(x: Any) -> int | None:
    """MIDI note number from an int, a digit string ("60") or a note name with octave ("C#4",
    "Db4", "A 4", "F sharp 3"; C4 = 60, scientific pitch notation); else None."""
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return int(round(x))
    s = str(x).strip()
    m = _NOTE.search(s)
    if m:
        acc = (m.group(2) or "").lower()
        shift = 1 if acc in ("#", "♯", "sharp") else -1 if acc in ("b", "♭", "flat") else 0
        return 12 * (int(m.group(3)) + 1) + _PITCH_CLASS[m.group(1).lower()] + shift
    if re.fullmatch(r"\d{1,3}", s):
        return int(s)
    return None


def pitch_error(predictions: Sequence[Any], references: Sequence[Any], max_error: float = 12.0) -> float:
    """Mean absolute pitch error in semitones, each item capped at max_error (one octave), which is
    also what an unparseable answer costs."""
    _check_pairs(predictions, references)
    total = 0.0
    for p, r in zip(predictions, references):
        ref, pred = parse_pitch(r), parse_pitch(p)
        if ref is None:
            raise UserError(f"reference pitch {r!r} is not a note name or MIDI number")
        total += max_error if pred is None else min(max_error, abs(pred - ref))
    return total / len(references)
