"""evaluate module `iou`: mean IoU of predicted interval(s) with reference interval(s).

evaluate.load(qwenlike.metrics.module_path("iou")) works offline and gives the number of
qwenlike.metrics.METRICS["iou"]; the computation and input schema live in qwenlike/metrics/.
"""

import qwenlike.metrics._evaluate as _qm


class Iou(_qm.Module):
    metric_name = "iou"
