"""evaluate module `boundary_error_ms`: mean word start/end time error in ms over matched words.

evaluate.load(qwenlike.metrics.module_path("boundary_error_ms")) works offline and gives the number of
qwenlike.metrics.METRICS["boundary_error_ms"]; the computation and input schema live in qwenlike/metrics/.
"""

import qwenlike.metrics._evaluate as _qm


class BoundaryErrorMs(_qm.Module):
    metric_name = "boundary_error_ms"
