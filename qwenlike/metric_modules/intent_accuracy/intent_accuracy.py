"""evaluate module `intent_accuracy`: accuracy of the "intent" field of intent+slots JSON answers.

evaluate.load(qwenlike.metrics.module_path("intent_accuracy")) works offline and gives the number of
qwenlike.metrics.METRICS["intent_accuracy"]; the computation and input schema live in qwenlike/metrics/.
"""

import qwenlike.metrics._evaluate as _qm


class IntentAccuracy(_qm.Module):
    metric_name = "intent_accuracy"
