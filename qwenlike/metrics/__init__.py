"""Evaluation metrics, each a plain function `metric(predictions, references, **options)`.

Floor 1: imports nothing of ours except qwenlike.errors.UserError. Heavy libraries (sacrebleu,
evaluate) load only when the metric that needs them runs.

Tasks name metrics by string: `get_metric("wer")(preds, refs)`; `METRICS` maps every name to
its function. Every metric is also an `evaluate` module shipped in the package, loadable offline:
`evaluate.load(module_path("wer"))`.

| name | task(s) | value |
|---|---|---|
| wer, cer | asr, overlapped_asr, asr_timestamps | corpus error rate, fraction (Whisper-style normaliser) |
| bleu, chrf | speech_translation | sacrebleu corpus score, 0-100 |
| cider_d, spider | audio_caption, music_caption | CIDEr-D (x10 scale); SPIDEr dict (None without SPICE) |
| accuracy, macro_f1 | classification tasks | fraction |
| intent_accuracy | intent_slots | accuracy of the "intent" field of JSON answers |
| map | sound_event | macro average precision from per-class scores |
| eer | speaker_verification | equal error rate, fraction; predictions are scores, references 0/1 |
| slot_f1, entity_f1 | intent_slots, speech_entities | micro F1 over (type, value) pairs |
| token_f1, exact_match | spoken_qa | SQuAD-style, fraction |
| event_f1 | sound_event_detection | sed_eval event-based micro F1 |
| boundary_error_ms | asr_timestamps | mean word start/end error, ms |
| iou | audio_grounding | mean IoU of (start, end) against the reference interval(s) |
| tempo_error, tempo_accuracy | music_qa | mean relative error; MIREX Acc1 (tempo items only) |

Structured metrics (event_f1, boundary_error_ms, iou, slot_f1, entity_f1, intent_accuracy) also take
the task answer text ("1.20-3.40 dog, ...", JSON), so a task can score raw model outputs. For WER
on asr_timestamps answers, score strip_timestamps(text) on both sides.
| pitch_error | note_analysis | mean absolute error, semitones |
"""

from __future__ import annotations

import os
from types import MappingProxyType
from typing import Any, Callable, Mapping

from qwenlike.errors import UserError
from qwenlike.metrics.captioning import cider_d, cider_d_scores, ptb_tokenize, spice_available, spice_scores, spider
from qwenlike.metrics.classification import (accuracy, eer, entity_f1, intent_accuracy, macro_f1,
                                             mean_average_precision, normalize_label, slot_f1, slot_scores)
from qwenlike.metrics.normalizers import BasicTextNormalizer, EnglishTextNormalizer, get_normalizer
from qwenlike.metrics.text import bleu, cer, chrf, edit_distance, exact_match, normalize_answer, token_f1, wer
from qwenlike.metrics.timing import (event_f1, event_scores, iou, mean_boundary_error_ms, mean_iou, parse_pitch,
                                     parse_timed_items, pitch_error, strip_timestamps, tempo_accuracy, tempo_error)

METRICS: Mapping[str, Callable[..., Any]] = MappingProxyType({
    "wer": wer,
    "cer": cer,
    "bleu": bleu,
    "chrf": chrf,
    "cider_d": cider_d,
    "spider": spider,
    "accuracy": accuracy,
    "intent_accuracy": intent_accuracy,
    "macro_f1": macro_f1,
    "map": mean_average_precision,
    "eer": eer,
    "slot_f1": slot_f1,
    "entity_f1": entity_f1,
    "token_f1": token_f1,
    "exact_match": exact_match,
    "event_f1": event_f1,
    "boundary_error_ms": mean_boundary_error_ms,
    "iou": mean_iou,
    "tempo_error": tempo_error,
    "tempo_accuracy": tempo_accuracy,
    "pitch_error": pitch_error,
})

# Spellings used in TASKS.md and papers -> registry names.
_ALIASES = {"ciderd": "cider_d", "mean_average_precision": "map",
            "mean_boundary_error": "boundary_error_ms", "mean_boundary_error_ms": "boundary_error_ms",
            "boundary_error": "boundary_error_ms", "mean_iou": "iou", "f1": "token_f1", "em": "exact_match"}


def canonical_name(name: str) -> str:
    """'CIDEr-D' -> 'cider_d', 'slot F1' -> 'slot_f1', 'mean boundary error (ms)' -> 'boundary_error_ms'."""
    key = name.strip().lower().replace("(ms)", "ms").replace("-", "_").replace(" ", "_").replace("__", "_")
    key = _ALIASES.get(key, key)
    if key not in METRICS:
        raise UserError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")
    return key


def get_metric(name: str) -> Callable[..., Any]:
    """The metric function registered under `name` (case, spaces and hyphens are forgiven)."""
    return METRICS[canonical_name(name)]


_MODULES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "metric_modules")


def module_path(name: str) -> str:
    """Folder of the `evaluate` module for a metric: `evaluate.load(module_path("wer"))` works offline."""
    path = os.path.join(_MODULES_DIR, canonical_name(name))
    if not os.path.isfile(os.path.join(path, os.path.basename(path) + ".py")):
        raise UserError(f"no evaluate module shipped for metric {name!r} (looked in {path})")
    return path


__all__ = [
    "METRICS", "get_metric", "canonical_name", "module_path",
    "wer", "cer", "bleu", "chrf", "token_f1", "exact_match", "edit_distance", "normalize_answer",
    "EnglishTextNormalizer", "BasicTextNormalizer", "get_normalizer",
    "cider_d", "cider_d_scores", "spider", "spice_scores", "spice_available", "ptb_tokenize",
    "accuracy", "intent_accuracy", "macro_f1", "mean_average_precision", "eer", "slot_f1", "entity_f1", "slot_scores",
    "normalize_label",
    "event_f1", "event_scores", "mean_boundary_error_ms", "iou", "mean_iou", "tempo_error", "tempo_accuracy",
    "pitch_error", "parse_pitch", "parse_timed_items", "strip_timestamps",
]
