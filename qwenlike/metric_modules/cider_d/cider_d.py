"""evaluate module `cider_d`: CIDEr-D as coco-caption computes it (x10 scale).

evaluate.load(qwenlike.metrics.module_path("cider_d")) works offline and gives the number of
qwenlike.metrics.METRICS["cider_d"]; the computation and input schema live in qwenlike/metrics/.
"""

import qwenlike.metrics._evaluate as _qm


class CiderD(_qm.Module):
    metric_name = "cider_d"
