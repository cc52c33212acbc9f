"""evaluate module `slot_f1`: micro F1 over (slot type, value) pairs, SLURP-style exact matching.

evaluate.load(qwenlike.metrics.module_path("slot_f1")) works offline and gives the number of
qwenlike.metrics.METRICS["slot_f1"]; the computation and input schema live in qwenlike/metrics/.
"""

import qwenlike.metrics._evaluate as _qm


class SlotF1(_qm.Module):
    metric_name = "slot_f1"
