"""evaluate module `chrf`: corpus chrF / chrF++ via sacrebleu.

evaluate.load(qwenlike.metrics.module_path("chrf")) works offline and gives the number of
qwenlike.metrics.METRICS["chrf"]; the computation and input schema live in qwenlike/metrics/.
"""

import qwenlike.metrics._evaluate as _qm


class Chrf(_qm.Module):
    metric_name = "chrf"
