"""YAMNet (AudioSet) embeddings as sound-event features: head test accuracy vs the Whisper blocks."""
import sys, json, time
sys.path.insert(0, '/tmp/lead/e17')
import numpy as np, torch
from yam_frontend import patches, session
from qwenlike.probe import fit_logistic, _clips_and_labels
from qwenlike.tasks import load_tasks
from qwenlike.corpus.common import load_audio, trim, SR
from qwenlike.corpus.mix import augment
torch.set_num_threads(1)
corpus = sys.argv[1]
sess = session(1)
def feats(waves):
    out = []
    for w in waves:
        p = patches(w)
        res = [sess.run(None, {'audio': q[None]}) for q in p]
        sc = np.concatenate([r[0] for r in res]); emb = np.concatenate([r[1] for r in res])
        out.append(np.concatenate([emb.mean(0), emb.max(0), sc.mean(0), sc.max(0)]))
    return torch.tensor(np.stack(out))
labels = json.load(open(f'{corpus}/label_sets.json'))['sound_event']; idx = {l: i for i, l in enumerate(labels)}
task = load_tasks(label_sets=f'{corpus}/label_sets.json')['sound_event']
t0 = time.time()
trw, try_ = _clips_and_labels(task, 'train', corpus, None); tew, tey = _clips_and_labels(task, 'test', corpus, None)
xtr, xte = feats(trw), feats(tew); print('feats', time.time() - t0, flush=True)
ytr = torch.tensor([idx[y] for y in try_]); yte = torch.tensor([idx[y] for y in tey])
D = 1024
for name, cols in [('emb mean+max', slice(0, 2 * D)), ('emb mean', slice(0, D)), ('scores mean+max', slice(2 * D, None)), ('all', slice(None))]:
    for l2 in (1e-3, 1e-2, 1e-1):
        w, b = fit_logistic(xtr[:, cols], ytr, len(labels), l2=l2)
        acc = float(((xte[:, cols].double() @ w + b).argmax(-1) == yte).double().mean())
        print(f'{name} l2={l2}: test {acc:.3f}', flush=True)
torch.save({'xtr': xtr, 'xte': xte, 'try': try_, 'tey': tey}, '/tmp/lead/e17/yam_feats.pt')
