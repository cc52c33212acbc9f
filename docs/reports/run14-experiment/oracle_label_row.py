"""Does the shipped LM read a label word placed in the audio span? Replace the last G audio rows of
each window with the (mean) input embedding of a label (oracle = the reference; wrong = another label)."""
import sys, json, torch, random
from qwenlike.model import AudioLM
from qwenlike.evaluation import load_suite, _task_items
from qwenlike.generate import score_labels
torch.set_num_threads(2)
model = AudioLM.from_pretrained(sys.argv[1]).eval()
corpus = sys.argv[2]
suite = load_suite(sys.argv[3])
mode = sys.argv[4]  # none | oracle | wrong
tok = model.tokenizer
E = model.lm.get_input_embeddings().weight
def emb(label):
    ids = tok(label, add_special_tokens=False)["input_ids"]
    return E[ids].float().mean(0)
orig = model.encode_audio
cur = {"row": None}
def patched(audio):
    rows = orig(audio)
    if cur["row"] is None: return rows
    rows = rows.clone(); rows[-1] = cur["row"].to(rows.dtype)  # one clip, one window: last row
    return rows
model.encode_audio = patched
rng = random.Random(0)
res = {}
for task, items in _task_items(suite, corpus, None):
    ok = 0
    for it in items:
        if mode == "oracle": cur["row"] = emb(it.reference)
        elif mode == "wrong": cur["row"] = emb(rng.choice([l for l in it.labels if l != it.reference]))
        s = score_labels(model, it.conversation, it.labels)
        ok += s.top(1)[0][0] == it.reference
    res[task.name] = ok / len(items)
    print(task.name, mode, res[task.name], flush=True)
