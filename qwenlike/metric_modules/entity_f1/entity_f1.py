"""evaluate module `entity_f1`: micro F1 over (entity type, text) pairs.

evaluate.load(qwenlike.metrics.module_path("entity_f1")) works offline and gives the number of
qwenlike.metrics.METRICS["entity_f1"]; the computation and input schema live in qwenlike/metrics/.
"""

import qwenlike.metrics._evaluate as _qm


class EntityF1(_qm.Module):
    metric_name = "entity_f1"
