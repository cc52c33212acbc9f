"""evaluate module `macro_f1`: unweighted mean of per-class F1 over string labels.

evaluate.load(qwenlike.metrics.module_path("macro_f1")) works offline and gives the number of
qwenlike.metrics.METRICS["macro_f1"]; the computation and input schema live in qwenlike/metrics/.
"""

import qwenlike.metrics._evaluate as _qm


class MacroF1(_qm.Module):
    metric_name = "macro_f1"
