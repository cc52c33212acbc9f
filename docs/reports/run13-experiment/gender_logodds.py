# Gender log-odds, log P(male) - log P(female), of a model on 40 train and 40 test speaker_gender clips
# of a corpus build, per voice. Usage: python gender_logodds.py MODEL [CORPUS] (default runs/default10/corpus)
import sys, torch, datasets, numpy as np

from qwenlike.checkpoint import from_pretrained
from qwenlike.paths import resolve_model_ref
from qwenlike.chat import analysis
from qwenlike.generate import label_logliks
torch.set_num_threads(2)
CORPUS = sys.argv[2] if len(sys.argv) > 2 else 'runs/default10/corpus'
m = from_pretrained(resolve_model_ref(sys.argv[1])).eval()
dd = datasets.load_from_disk(CORPUS)
for split, n in [('train', 40), ('test', 40)]:
    d = dd[split].filter(lambda t: t == 'speaker_gender', input_columns='task')
    d = d.shuffle(seed=0).select(range(min(n, len(d))))
    rows = []
    for r in d:
        a = r['audio']
        w = np.asarray(a['array'] if isinstance(a, dict) else a.get_all_samples().data.mean(0).numpy(), dtype=np.float32)
        ll = label_logliks(m, analysis([w], 'Is the speaker male or female?'), ['male', 'female'], clips=[w])
        rows.append((r['voice'], r['answer'], ll[0] - ll[1]))
    lo = np.array([x[2] for x in rows]); y = np.array([x[1] == 'male' for x in rows])
    print(split, 'acc', ((lo > 0) == y).mean(), 'logodds male mean', lo[y].mean(), 'female mean', lo[~y].mean(), 'std', lo.std())
    for v in sorted(set(x[0] for x in rows)):
        s = [x[2] for x in rows if x[0] == v]
        if len(s) > 2: print('  ', v, len(s), np.round(np.mean(s), 2))
