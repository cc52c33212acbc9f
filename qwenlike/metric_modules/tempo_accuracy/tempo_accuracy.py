"""evaluate module `tempo_accuracy`: MIREX tempo accuracy (Acc1, or Acc2 with allow_octave).

evaluate.load(qwenlike.metrics.module_path("tempo_accuracy")) works offline and gives the number of
qwenlike.metrics.METRICS["tempo_accuracy"]; the computation and input schema live in qwenlike/metrics/.
"""

import qwenlike.metrics._evaluate as _qm


class TempoAccuracy(_qm.Module):
    metric_name = "tempo_accuracy"
