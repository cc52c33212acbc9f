"""evaluate module `event_f1`: sed_eval-style event-based F1 (200 ms onset collar, offset collar max(200 ms, 20%)).

evaluate.load(qwenlike.metrics.module_path("event_f1")) works offline and gives the number of
qwenlike.metrics.METRICS["event_f1"]; the computation and input schema live in qwenlike/metrics/.
"""

import qwenlike.metrics._evaluate as _qm


class EventF1(_qm.Module):
    metric_name = "event_f1"
