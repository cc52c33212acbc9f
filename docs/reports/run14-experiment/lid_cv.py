"""Language id: which label-head features generalise to held-out voices, chosen without the test split
(group k-fold over the train split's voices), then scored once on the test split."""
import sys, torch, random
from qwenlike.model import AudioLM
from qwenlike.label_head import window_features
from qwenlike.probe import fit_logistic
from qwenlike.tasks import load_tasks
from qwenlike import audio as A
torch.set_num_threads(2)
corpus = sys.argv[1]
model = AudioLM.from_pretrained("qwenlike/default_model").eval()
t = load_tasks(label_sets=f"{corpus}/label_sets.json")["language_id"]
def rows(split):
    out = []
    for raw in t.open(split, corpus):
        r = t.row(raw); out.append((A.load(r[t.audio[0]]), str(t.reference(r)), str(r.get("voice") or r.get("source"))))
    return out
tr, te = rows("train"), rows("test")
labels = sorted({y for _, y, _ in tr}); idx = {l: i for i, l in enumerate(labels)}
model.set_label_head(None)
feats = {}
for split, data in (("train", tr), ("test", te)):
    spec = {"blocks": [1, 2, 3, 4, 5, 6], "groups": [{"task": "l", "labels": labels, "token_ids": [[1]] * len(labels)}]}
    model.set_label_head(spec)
    x, own = window_features(model, [w for w, _, _ in data])
    feats[split] = (x, own)
D = 512  # pool_frames lays out [means of blocks 1-6 | stds of blocks 1-6]
def cols(blocks):
    return torch.cat([torch.arange((b - 1) * D, b * D) for b in blocks] + [torch.arange(6 * D + (b - 1) * D, 6 * D + b * D) for b in blocks])
voices = sorted({v for _, _, v in tr}); random.Random(0).shuffle(voices)
folds = [set(voices[i::5]) for i in range(5)]
ytr = torch.tensor([idx[tr[i][1]] for i in feats["train"][1]])
vtr = [tr[i][2] for i in feats["train"][1]]
print(len(voices), "train voices", voices[:8], flush=True)
for blocks in ([2], [1, 2, 3, 4], [2, 3, 4], [3, 4], [1, 2, 3, 4, 5]):
    for l2 in (1e-3, 1e-2, 1e-1, 1.0):
        c = cols(blocks); x = feats["train"][0][:, c]
        ok = n = 0
        for f in folds:
            m = torch.tensor([v not in f for v in vtr])
            if m.all() or (~m).all(): continue
            w, b = fit_logistic(x[m], ytr[m], len(labels), l2=l2)
            ok += int(((x[~m].double() @ w + b).argmax(1) == ytr[~m]).sum()); n += int((~m).sum())
        w, b = fit_logistic(x, ytr, len(labels), l2=l2)
        xt = feats["test"][0][:, c]; yt = torch.tensor([idx[te[i][1]] for i in feats["test"][1]])
        print(blocks, l2, "cv", round(ok / max(n, 1), 3), "test", round(float(((xt.double() @ w + b).argmax(1) == yt).double().mean()), 3), flush=True)
