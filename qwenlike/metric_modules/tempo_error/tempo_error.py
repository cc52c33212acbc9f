"""evaluate module `tempo_error`: mean relative tempo error over tempo questions.

evaluate.load(qwenlike.metrics.module_path("tempo_error")) works offline and gives the number of
qwenlike.metrics.METRICS["tempo_error"]; the computation and input schema live in qwenlike/metrics/.
"""

import qwenlike.metrics._evaluate as _qm


class TempoError(_qm.Module):
    metric_name = "tempo_error"
