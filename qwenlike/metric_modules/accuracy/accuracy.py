"""evaluate module `accuracy`: fraction of predictions equal to the (or an accepted) reference label.

evaluate.load(qwenlike.metrics.module_path("accuracy")) works offline and gives the number of
qwenlike.metrics.METRICS["accuracy"]; the computation and input schema live in qwenlike/metrics/.
"""

import qwenlike.metrics._evaluate as _qm


class Accuracy(_qm.Module):
    metric_name = "accuracy"
