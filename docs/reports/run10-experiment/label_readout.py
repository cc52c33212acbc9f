# Closed-set CTC readout of a stage-1 (objective: ctc) checkpoint on the corpus test split's
# classification clips: for each clip, the label whose tokens have the lowest CTC loss against the
# adapter's audio tokens (read against the LM's embedding table + the learnt blank), and the greedy
# CTC decoding. What the adapter alone puts on the audio tokens, in the LM's own words.
#   python docs/reports/run10-experiment/label_readout.py runs/default/ctc/checkpoint-500 runs/default/corpus
# Labels are scored by their summed CTC loss, which favours labels of fewer tokens: a lower bound
# on what the audio tokens carry, not a classifier.
import sys, json, torch, datasets
from safetensors.torch import load_file
from qwenlike.checkpoint import from_pretrained
from qwenlike.audio import projector_tokens
from qwenlike import audio as A
torch.set_num_threads(2)
ck, corpus = sys.argv[1], sys.argv[2]
m = from_pretrained(ck).eval()
sd = load_file(f"{ck}/delta.safetensors")
E = m.lm.get_input_embeddings().weight.detach().float()
W = torch.cat([E, sd["ctc_head.blank"].float()[None]]); V = E.shape[0]; scale = sd["ctc_head.scale"].float()
tok = m.tokenizer
masked = sorted((set(tok.all_special_ids) | set(tok.added_tokens_decoder)) & set(range(V)))
sets = json.load(open(f"{corpus}/label_sets.json"))
sets.setdefault("speaker_gender", ["female", "male"])
ds = datasets.load_from_disk(corpus)["test"].cast_column("audio", datasets.Audio(decode=False))
tasks = ("sound_event", "instrument", "language_id", "speaker_gender")
res = {t: [0, 0, 0] for t in tasks}
for i, t in enumerate(ds["task"]):
    if t not in tasks: continue
    r = ds[i]
    wav = A.load(r["audio"]["bytes"] if r["audio"]["bytes"] else r["audio"]["path"])
    with torch.no_grad():
        h, v = m.encoder(A.log_mel([wav], n_mels=80))
        p = m.projector(h)[0, : projector_tokens(int(v[0]), m.config.projector.stride, m.config.projector.mode)]
        lg = scale * (p.float() @ W.T); lg[:, masked] = -1e4
        lp = lg.log_softmax(-1)
        labels = sets[t]
        losses = []
        for lab in labels:
            ids = tok(lab, add_special_tokens=False)["input_ids"]
            losses.append(float(torch.nn.functional.ctc_loss(lp[:, None], torch.tensor([ids]), torch.tensor([lp.shape[0]]),
                                                            torch.tensor([len(ids)]), blank=V, reduction="sum")))
    pred = labels[min(range(len(labels)), key=losses.__getitem__)]
    out, prev = [], None
    for s in lg.argmax(-1).tolist():
        if s != prev and s != V: out.append(s)
        prev = s
    greedy = tok.decode(out).strip()
    gold = r["answer"].strip()
    res[t][0] += pred == gold; res[t][1] += 1; res[t][2] += gold.lower() in greedy.lower()
    if res[t][1] <= 2: print(t, repr(gold), "->", repr(pred), "| greedy:", repr(greedy[:80]))
for t, (c, n, g) in res.items():
    print(f"{t:16s} closed-set {c / max(n, 1):.3f}  greedy-contains {g / max(n, 1):.3f}  n {n}")
