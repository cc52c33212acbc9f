"""evaluate module `pitch_error`: mean absolute pitch error in semitones.

evaluate.load(qwenlike.metrics.module_path("pitch_error")) works offline and gives the number of
qwenlike.metrics.METRICS["pitch_error"]; the computation and input schema live in qwenlike/metrics/.
"""

import qwenlike.metrics._evaluate as _qm


class PitchError(_qm.Module):
    metric_name = "pitch_error"
