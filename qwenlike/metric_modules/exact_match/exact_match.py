"""evaluate module `exact_match`: SQuAD-style exact match.

evaluate.load(qwenlike.metrics.module_path("exact_match")) works offline and gives the number of
qwenlike.metrics.METRICS["exact_match"]; the computation and input schema live in qwenlike/metrics/.
"""

import qwenlike.metrics._evaluate as _qm


class ExactMatch(_qm.Module):
    metric_name = "exact_match"
