"""evaluate module `wer`: corpus word error rate with a Whisper-style English normaliser.

evaluate.load(qwenlike.metrics.module_path("wer")) works offline and gives the number of
qwenlike.metrics.METRICS["wer"]; the computation and input schema live in qwenlike/metrics/.
"""

import qwenlike.metrics._evaluate as _qm


class Wer(_qm.Module):
    metric_name = "wer"
