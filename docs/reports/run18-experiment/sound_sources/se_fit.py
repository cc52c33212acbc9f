"""Fit/evaluate from se_cv.py features: grouped K-fold by session."""
import sys, collections, argparse, torch
from qwenlike.probe import fit_logistic
from qwenlike.corpus.common import stable_hash
ap = argparse.ArgumentParser(); ap.add_argument('feats'); ap.add_argument('--min-sessions', type=int, default=3)
ap.add_argument('--folds', type=int, default=3); ap.add_argument('--l2', type=float, default=1e-2)
ap.add_argument('--only-pkgs', default=''); ap.add_argument('--drop', default='')
ap.add_argument('--verbose', action='store_true')
a = ap.parse_args()
d = torch.load(a.feats); meta = d['meta']
drop = set(x.strip() for x in a.drop.split(',') if x.strip())
ok = [i for i, m in enumerate(meta) if m['label'] not in drop and (not a.only_pkgs or m['pkg'] in a.only_pkgs.split(','))]
sess = collections.defaultdict(set)
for i in ok: sess[meta[i]['label']].add(meta[i]['session'])
labels = sorted(l for l, s in sess.items() if len(s) >= a.min_sessions)
idx = {l: k for k, l in enumerate(labels)}
fold = {}
for l in labels:
    for k, s in enumerate(sorted(sess[l], key=stable_hash)): fold[s] = k % a.folds
use = [i for i in ok if meta[i]['label'] in idx]
print(f'{len(labels)} labels with >= {a.min_sessions} sessions; {len(use)} files; sessions {sum(len(sess[l]) for l in labels)}')
owner = torch.tensor(d['owner']); x = d['x']
pred = {}
for f in range(a.folds):
    tr = [i for i in use if fold[meta[i]['session']] != f]; te = [i for i in use if fold[meta[i]['session']] == f]
    trs = set(tr); tes = set(te)
    rtr = [r for r in range(len(owner)) if int(owner[r]) in trs]; rte = [r for r in range(len(owner)) if int(owner[r]) in tes]
    w, b = fit_logistic(x[rtr], torch.tensor([idx[meta[int(owner[r])]['label']] for r in rtr]), len(labels), l2=a.l2)
    p = (x[rte].double() @ w + b).softmax(-1)
    agg = collections.defaultdict(lambda: torch.zeros(len(labels), dtype=torch.float64))
    for j, r in enumerate(rte): agg[int(owner[r])] += p[j]
    for i, v in agg.items(): pred[i] = int(v.argmax())
per_label = collections.defaultdict(list)
for i, pr in pred.items(): per_label[meta[i]['label']].append(pr == idx[meta[i]['label']])
bal = sum(sum(v) / len(v) for v in per_label.values()) / len(per_label)
# session-weighted: each session's files averaged first
ps = collections.defaultdict(list)
for i, pr in pred.items(): ps[(meta[i]['label'], meta[i]['session'])].append(pr == idx[meta[i]['label']])
pl2 = collections.defaultdict(list)
for (l, s), v in ps.items(): pl2[l].append(sum(v) / len(v))
bal2 = sum(sum(v) / len(v) for v in pl2.values()) / len(pl2)
print(f'label-balanced accuracy (files) {bal:.3f}; (sessions) {bal2:.3f}; files {sum(p == idx[meta[i]["label"]] for i, p in pred.items()) / len(pred):.3f}')
if a.verbose:
    conf = collections.defaultdict(collections.Counter)
    for i, pr in pred.items(): conf[meta[i]['label']][labels[pr]] += 1
    for l in labels:
        print(f'{l:22s} sess {len(sess[l]):3d} acc {sum(pl2[l]) / len(pl2[l]):.2f}  top: {conf[l].most_common(3)}')
