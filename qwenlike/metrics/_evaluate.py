"""Glue between the plain metric functions and Hugging Face `evaluate` modules.

Each folder qwenlike/metric_modules/<name>/<name>.py holds a two-line subclass of `Module` naming
its metric; everything else (input schema, docs, the computation) lives here, so the shipped
scripts never drift from the functions. Imported only by those scripts: `import qwenlike.metrics`
stays free of evaluate/datasets.

The scripts import this file as a module object (`import ... as _qm`), never the class by name:
evaluate picks the first EvaluationModule subclass in the script's namespace as the metric.
"""

from __future__ import annotations

from typing import Any

import datasets
import evaluate

from qwenlike.metrics import METRICS

_S = datasets.Value("string")
_F = datasets.Value("float64")
_MULTI_REF = [datasets.Features({"predictions": _S, "references": datasets.Sequence(_S)}),
              datasets.Features({"predictions": _S, "references": _S})]
_STR_PAIR = datasets.Features({"predictions": _S, "references": _S})
_EVENTS = datasets.List({"label": _S, "onset": _F, "offset": _F})
_SLOTS = datasets.List({"type": _S, "value": _S})
_WORDS = datasets.List({"word": _S, "start": _F, "end": _F})

# Input schema per metric; a list means "any of these", matched on the first batch.
FEATURES: dict[str, Any] = {
    "wer": _STR_PAIR,
    "cer": _STR_PAIR,
    "bleu": _MULTI_REF,
    "chrf": _MULTI_REF,
    "cider_d": _MULTI_REF,
    "spider": _MULTI_REF,
    "accuracy": _MULTI_REF,
    "intent_accuracy": _STR_PAIR,
    "macro_f1": _STR_PAIR,
    "map": [datasets.Features({"predictions": datasets.Sequence(_F), "references": datasets.Sequence(_S)}),
            datasets.Features({"predictions": datasets.Sequence(_F), "references": _S})],
    "eer": datasets.Features({"predictions": _F, "references": datasets.Value("int64")}),
    "slot_f1": [datasets.Features({"predictions": _SLOTS, "references": _SLOTS}), _STR_PAIR],
    "entity_f1": [datasets.Features({"predictions": _SLOTS, "references": _SLOTS}), _STR_PAIR],
    "token_f1": _MULTI_REF,
    "exact_match": _MULTI_REF,
    # structured inputs, or the task's answer text ("1.20-3.40 dog, ...") on both sides
    "event_f1": [datasets.Features({"predictions": _EVENTS, "references": _EVENTS}), _STR_PAIR],
    "boundary_error_ms": [datasets.Features({"predictions": _WORDS, "references": _WORDS}), _STR_PAIR],
    "iou": [datasets.Features({"predictions": datasets.Sequence(_F),
                               "references": datasets.Sequence(datasets.Sequence(_F))}), _STR_PAIR],
    "tempo_error": [_STR_PAIR, datasets.Features({"predictions": _S, "references": _F})],
    "tempo_accuracy": [_STR_PAIR, datasets.Features({"predictions": _S, "references": _F})],
    "pitch_error": [_STR_PAIR, datasets.Features({"predictions": _S, "references": datasets.Value("int64")})],
}

_EXTRA_DOC = {
    "map": "Pass labels=[...] (the class order of each score row) to compute().",
    "iou": "predictions: [start, end] per item ([] when the model gave none); references: [[start, end], ...].",
    "eer": "predictions: scores (higher = same speaker); references: 1 for target trials, 0 otherwise.",
}


class Module(evaluate.Metric):
    """An evaluate metric that runs qwenlike.metrics.METRICS[metric_name]; subclasses set the name."""

    metric_name: str = ""

    def _info(self) -> evaluate.MetricInfo:
        fn = METRICS[self.metric_name]
        return evaluate.MetricInfo(
            description=(fn.__doc__ or "").strip(),
            citation="",
            inputs_description=f"predictions, references and the keyword options of qwenlike.metrics."
                               f"{fn.__name__}. {_EXTRA_DOC.get(self.metric_name, '')}".strip(),
            features=FEATURES[self.metric_name],
            reference_urls=[],
        )

    def _compute(self, predictions: list, references: list, **kwargs: Any) -> dict[str, Any]:
        value = METRICS[self.metric_name](predictions, references, **kwargs)
        return value if isinstance(value, dict) else {self.metric_name: value}
