"""evaluate module `token_f1`: SQuAD-style token-overlap F1.

evaluate.load(qwenlike.metrics.module_path("token_f1")) works offline and gives the number of
qwenlike.metrics.METRICS["token_f1"]; the computation and input schema live in qwenlike/metrics/.
"""

import qwenlike.metrics._evaluate as _qm


class TokenF1(_qm.Module):
    metric_name = "token_f1"
