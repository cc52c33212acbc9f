# Stage-0 feasibility: train the stack-MLP projector with CTC over the LM's own (frozen) embedding
# matrix: logit(frame, token) = <proj(frame), E[token]> * scale. Greedy-decode held-out test ASR.
import sys, time, math, random, json, torch, jiwer
from torch import nn
from safetensors.torch import load_file
from transformers import AutoTokenizer
from qwenlike.projector import ProjectorConfig, build_projector
from qwenlike.paths import resolve_model_ref
torch.set_num_threads(2); torch.manual_seed(0); random.seed(0)
minutes = float(sys.argv[1]) if len(sys.argv) > 1 else 15
extra = sys.argv[2:]  # more training clips (ctc_more.py's runs/ctc-readout/feats_more.pt)
base = resolve_model_ref("whisper-base+smollm2-135m-instruct")
tok = AutoTokenizer.from_pretrained(str(base))
import glob
sd = {}
for f in glob.glob(str(base) + "/*.safetensors"):
    s = load_file(f); sd.update({k: v for k, v in s.items() if k == "lm.lm_head.weight"})
E = next(iter(sd.values())).float(); print("E", E.shape, E.norm(dim=1).mean())
V = E.shape[0]
data = torch.load("runs/ctc-readout/feats.pt")
def prep(rows):
    out = []
    for r in rows:
        ids = tok(r["text"].strip(), add_special_tokens=False)["input_ids"]
        T = math.ceil(r["h"].shape[0] / 4)
        if len(ids) < T: out.append((r["h"], torch.tensor(ids), r))
    return out
for f in extra:
    data["train"] += torch.load(f)
train, test = prep(data["train"]), prep(data["test"])
print(len(train), len(test))
proj = build_projector(ProjectorConfig(kind="stack-mlp", stride=4, hidden=2048, in_dim=512, out_dim=576))
import os
FRAMEWORK = bool(os.environ.get("FRAMEWORK"))  # the trainer's own loss: qwenlike.model.ctc_alignment_loss (objective: ctc)
if FRAMEWORK:
    from qwenlike.model import CTCHead, ctc_alignment_loss
    head = CTCHead(576, 1.0 / E.norm(dim=1).mean().item())
    masked = sorted((set(tok.all_special_ids) | set(tok.added_tokens_decoder)) & set(range(V)))
    blank, scale = head.blank, head.scale
    params = list(proj.parameters()) + list(head.parameters())
elif os.environ.get("FIXED_BLANK"):  # no parameter beyond the adapter (a first, reverted `objective: ctc`)
    E = E[: V - 3]  # the text vocabulary (the three audio tokens are the last rows, all the mean embedding)
    blank = E.mean(0, keepdim=True); scale = torch.tensor(1.0); V = E.shape[0]
    params = list(proj.parameters())
else:
    blank = nn.Parameter(torch.zeros(1, 576)); scale = nn.Parameter(torch.tensor(1.0 / E.norm(dim=1).mean().item()))
    params = list(proj.parameters()) + [blank, scale]
opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.0)
def logits_of(h):  # (B, E, D) -> (B, A, V+1)
    p = proj(h)
    W = torch.cat([E, blank.reshape(1, -1)], 0)
    out = (p @ W.T) * scale
    if FRAMEWORK:
        out[..., masked] = -1e4
    return out
def batches(items, bs=16):
    items = sorted(items, key=lambda x: x[0].shape[0])
    bl = [items[i:i + bs] for i in range(0, len(items), bs)]
    random.shuffle(bl); return bl
def collate(b):
    L = max(x[0].shape[0] for x in b)
    h = torch.zeros(len(b), L, 512)
    for i, x in enumerate(b): h[i, : x[0].shape[0]] = x[0].float()
    lens = torch.tensor([math.ceil(x[0].shape[0] / 4) for x in b])
    tg = torch.cat([x[1] for x in b]); tl = torch.tensor([len(x[1]) for x in b])
    return h, lens, tg, tl
def evaluate():
    proj.eval(); hyps, refs, src = [], [], []
    with torch.no_grad():
        for b in batches(test, 16):
            h, lens, _, _ = collate(b)
            am = logits_of(h).argmax(-1)
            for i, x in enumerate(b):
                seq = am[i, : lens[i]].tolist(); outids = []; prev = None
                for s in seq:
                    if s != prev and s != V: outids.append(s)
                    prev = s
                hyps.append(tok.decode(outids).strip().lower()); refs.append(x[2]["text"].strip().lower()); meta = json.loads(x[2]["meta"] or "{}"); key = x[2]["task"] + ":" + meta.get("sentence_source", "words")
                src.append([key, key + ":" + meta.get("engine", "recorded")])
    proj.train()
    res = {}
    for k in sorted({k for ks in src for k in ks}) + ["all"]:
        idx = [i for i, ks in enumerate(src) if k == "all" or k in ks]
        res[k] = round(jiwer.wer([refs[i] for i in idx], [hyps[i] or "x" for i in idx]), 3)
    return res, list(zip(refs, hyps))[:4]
t0 = time.time(); step = 0; ep = 0
total_steps = None
MAX_STEPS = int(os.environ.get("MAX_STEPS", 0)) or None  # a step budget instead of the time box
while time.time() - t0 < minutes * 60 and step != MAX_STEPS:
    ep += 1
    for b in batches(train):
        h, lens, tg, tl = collate(b)
        if FRAMEWORK:
            p = proj(h)
            rows = torch.cat([p[i, : lens[i]] for i in range(len(b))])
            loss = ctc_alignment_loss(rows, lens.tolist(), [x[1].tolist() for x in b], E, head, masked=masked)["loss"]
        else:
            lp = logits_of(h).float().log_softmax(-1).transpose(0, 1)
            loss = nn.functional.ctc_loss(lp, tg, lens, tl, blank=V, zero_infinity=True)
        opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(params, 1.0); opt.step(); step += 1
        if step % 25 == 0 or step < 4: print(f"ep {ep} step {step} loss {loss.item():.3f} {time.time()-t0:.0f}s", flush=True)
        if time.time() - t0 > minutes * 60 or step == MAX_STEPS: break
    r, ex = evaluate(); print("EVAL ep", ep, r, ex, flush=True)
torch.save({"proj": proj.state_dict(), "blank": blank.data, "scale": scale.data}, "runs/ctc-readout/ctc_proj.pt")
