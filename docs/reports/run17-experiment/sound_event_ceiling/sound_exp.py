"""Does adding recordings from more packages lift the label head's sound-event test accuracy?
Baseline: the v2 corpus's train sound_event clips; +extra: K crops of each extra recording."""
import sys, json, time
sys.path.insert(0, '/tmp/lead/e17')
import numpy as np, torch
from qwenlike.cli import _load_model
from qwenlike.label_head import window_features, _clip_accuracy
from qwenlike.probe import fit_logistic, _clips_and_labels
from qwenlike.tasks import load_tasks
from qwenlike.corpus.common import load_audio, trim, SR
from qwenlike.corpus.mix import augment
import extra_map
corpus = sys.argv[1]; K = int(sys.argv[2]) if len(sys.argv) > 2 else 4
torch.manual_seed(0)
model = _load_model(None, None)
model.set_label_head(None)
labels = json.load(open(f'{corpus}/label_sets.json'))['sound_event']
idx = {l: i for i, l in enumerate(labels)}
groups = [{"task": "sound_event", "labels": labels, "token_ids": [model.tokenizer(l, add_special_tokens=False)["input_ids"] for l in labels]}]
model.set_label_head({"blocks": [1, 2, 3, 4], "groups": groups})
task = load_tasks(label_sets=f'{corpus}/label_sets.json')['sound_event']
t0 = time.time()
trw, try_ = _clips_and_labels(task, 'train', corpus, None)
tew, tey = _clips_and_labels(task, 'test', corpus, None)
xtr, otr = window_features(model, trw); xte, ote = window_features(model, tew)
print('base feats', time.time() - t0, flush=True)
rng = np.random.default_rng(0)
ew, ey = [], []
for id_, lab, get in extra_map.items():
    base = trim(load_audio(get()))
    for k in range(K):
        w = base
        if len(w) > 5 * SR:
            s = int(rng.integers(0, len(w) - 5 * SR)); w = w[s:s + 5 * SR]
        lead = np.zeros(int(rng.uniform(0.1, 0.5) * SR), np.float32)
        w = np.concatenate([lead, w, np.zeros(int(0.3 * SR), np.float32)])
        w, _ = augment(rng, w, p_noise=0.3, p_reverb=0.2, p_phone=0.1)
        ew.append(w); ey.append(lab)
xex, oex = window_features(model, ew)
print('extra feats', len(ew), time.time() - t0, flush=True)
def run(name, xs, ows, ys):
    X = torch.cat(xs); Y = torch.cat([torch.tensor([idx[y[i]] for i in o]) for o, y in zip(ows, ys)])
    for l2 in (1e-3, 1e-2, 1e-1):
        w, b = fit_logistic(X, Y, len(labels), l2=l2)
        acc = _clip_accuracy((xte.double() @ w + b).softmax(-1), ote, [idx[y] for y in tey])
        print(f'{name} l2={l2}: test {acc:.3f}', flush=True)
torch.save({'xtr':xtr,'otr':otr,'try':try_,'xte':xte,'ote':ote,'tey':tey,'xex':xex,'oex':oex,'ey':ey,'labels':labels}, '/tmp/lead/e17/sound_feats.pt')
run('base', [xtr], [otr], [try_])
run('base+extra', [xtr, xex], [otr, oex], [try_, ey])
