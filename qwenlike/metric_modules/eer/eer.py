"""evaluate module `eer`: equal error rate of verification scores.

evaluate.load(qwenlike.metrics.module_path("eer")) works offline and gives the number of
qwenlike.metrics.METRICS["eer"]; the computation and input schema live in qwenlike/metrics/.
"""

import qwenlike.metrics._evaluate as _qm


class Eer(_qm.Module):
    metric_name = "eer"
