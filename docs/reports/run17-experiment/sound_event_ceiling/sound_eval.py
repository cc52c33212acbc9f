import torch, sys
from qwenlike.probe import fit_logistic
from qwenlike.label_head import _clip_accuracy
d = torch.load('/tmp/lead/e17/sound_feats.pt')
tested = sorted(set(d['tey']))
def run(name, keep, use_extra, l2=1e-2):
    labels = [l for l in d['labels'] if l in keep]
    idx = {l: i for i, l in enumerate(labels)}
    xs, ys = [], []
    for x, o, y in [(d['xtr'], d['otr'], d['try'])] + ([(d['xex'], d['oex'], d['ey'])] if use_extra else []):
        m = [k for k, i in enumerate(o) if y[i] in idx]
        xs.append(x[m]); ys.append(torch.tensor([idx[y[o[k]]] for k in m]))
    w, b = fit_logistic(torch.cat(xs), torch.cat(ys), len(labels), l2=l2)
    acc = _clip_accuracy((d['xte'].double() @ w + b).softmax(-1), d['ote'], [idx[y] for y in d['tey']])
    print(f'{name}: {len(labels)} labels, test {acc:.3f}')
for l2 in (1e-2, 1e-1):
    run(f'all labels l2={l2}', set(d['labels']), False, l2)
    run(f'tested labels only l2={l2}', set(tested), False, l2)
    run(f'all + extra l2={l2}', set(d['labels']), True, l2)
    run(f'tested + extra l2={l2}', set(tested), True, l2)
