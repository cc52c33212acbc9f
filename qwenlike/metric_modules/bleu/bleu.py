"""evaluate module `bleu`: corpus BLEU via sacrebleu, tokenizer as a parameter.

evaluate.load(qwenlike.metrics.module_path("bleu")) works offline and gives the number of
qwenlike.metrics.METRICS["bleu"]; the computation and input schema live in qwenlike/metrics/.
"""

import qwenlike.metrics._evaluate as _qm


class Bleu(_qm.Module):
    metric_name = "bleu"
