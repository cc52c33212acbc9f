import sys, torch
from qwenlike.model import AudioLM
from qwenlike.probe import pooled_features, fit_linear, _clips_and_labels
from qwenlike.tasks import load_tasks
torch.set_num_threads(2)
model = AudioLM.from_pretrained("qwenlike/default_model").eval()
corpus = sys.argv[1]
cat = load_tasks(label_sets=f"{corpus}/label_sets.json")
for n in sys.argv[2].split(","):
    t = cat[n]
    trw, try_ = _clips_and_labels(t, "train", corpus, None); tew, tey = _clips_and_labels(t, "test", corpus, None)
    ftr = pooled_features(model, trw, [1,2,3,4,5,6]); fte = pooled_features(model, tew, [1,2,3,4,5,6])
    classes = sorted(set(try_)); idx = {c:i for i,c in enumerate(classes)}; y = torch.tensor([idx[c] for c in try_])
    for combo in ([2], [4], [2,4], [1,2,3,4], [2,3,4,5], [1,2,3,4,5,6]):
        for l2 in (1e-3, 1e-1):
            xtr = torch.cat([ftr[k] for k in combo], 1); xte = torch.cat([fte[k] for k in combo], 1)
            p = fit_linear(xtr, y, len(classes), l2=l2)(xte)
            acc = sum(classes[int(i)] == r for i, r in zip(p, tey)) / len(tey)
            print(n, combo, l2, round(acc, 3), flush=True)
