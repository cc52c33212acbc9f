# Closed-set CTC readout of a stage-1 (objective: ctc) checkpoint on the corpus test split's
# classification clips: for each clip, the label whose tokens have the lowest CTC loss against the
# adapter's audio tokens (read against the LM's embedding table + the learnt blank), and the greedy
# CTC decoding. What the adapter alone puts on the audio tokens, in the LM's own words.
#   python docs/reports/run10-experiment/label_readout.py runs/default/ctc/checkpoint-500 runs/default/corpus
# Labels are scored by their summed CTC loss, which favours labels of fewer tokens: a lower bound
# on what the audio tokens carry, not a classifier.
import sys, json, torch
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ctc-readout"))
from ctc_decode import Readout, test_split  # noqa: E402

torch.set_num_threads(2)
ck, corpus = sys.argv[1], sys.argv[2]
R = Readout(ck)
sets = json.load(open(f"{corpus}/label_sets.json"))
sets.setdefault("speaker_gender", ["female", "male"])
ds = test_split(corpus)
tasks = ("sound_event", "instrument", "language_id", "speaker_gender")
res = {t: [0, 0, 0] for t in tasks}
for i, t in enumerate(ds["task"]):
    if t not in tasks: continue
    r = ds[i]
    lp = R.logits(r).log_softmax(-1)
    labels = sets[t]
    losses = []
    for lab in labels:
        ids = R.tok(lab, add_special_tokens=False)["input_ids"]
        losses.append(float(torch.nn.functional.ctc_loss(lp[:, None], torch.tensor([ids]), torch.tensor([lp.shape[0]]),
                                                        torch.tensor([len(ids)]), blank=R.V, reduction="sum")))
    pred = labels[min(range(len(labels)), key=losses.__getitem__)]
    greedy = R.greedy(lp)
    gold = r["answer"].strip()
    res[t][0] += pred == gold; res[t][1] += 1; res[t][2] += gold.lower() in greedy.lower()
    if res[t][1] <= 2: print(t, repr(gold), "->", repr(pred), "| greedy:", repr(greedy[:80]))
for t, (c, n, g) in res.items():
    print(f"{t:16s} closed-set {c / max(n, 1):.3f}  greedy-contains {g / max(n, 1):.3f}  n {n}")
