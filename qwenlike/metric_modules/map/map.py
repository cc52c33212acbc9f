"""evaluate module `map`: macro mean average precision from per-class scores (= sklearn's macro AP).

evaluate.load(qwenlike.metrics.module_path("map")) works offline and gives the number of
qwenlike.metrics.METRICS["map"]; the computation and input schema live in qwenlike/metrics/.
"""

import qwenlike.metrics._evaluate as _qm


class Map(_qm.Module):
    metric_name = "map"
