"""evaluate module `spider`: SPIDEr = (CIDEr-D + SPICE) / 2; None without Java and the SPICE jar.

evaluate.load(qwenlike.metrics.module_path("spider")) works offline and gives the number of
qwenlike.metrics.METRICS["spider"]; the computation and input schema live in qwenlike/metrics/.
"""

import qwenlike.metrics._evaluate as _qm


class Spider(_qm.Module):
    metric_name = "spider"
