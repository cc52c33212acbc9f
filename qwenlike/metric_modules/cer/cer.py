"""evaluate module `cer`: corpus character error rate with a language-independent normaliser.

evaluate.load(qwenlike.metrics.module_path("cer")) works offline and gives the number of
qwenlike.metrics.METRICS["cer"]; the computation and input schema live in qwenlike/metrics/.
"""

import qwenlike.metrics._evaluate as _qm


class Cer(_qm.Module):
    metric_name = "cer"
