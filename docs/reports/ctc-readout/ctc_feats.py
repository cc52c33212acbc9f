# Extract frozen Whisper-base encoder frames for English speech items with transcripts.
import sys, io, time, torch, datasets, numpy as np
from qwenlike.paths import resolve_model_ref
from qwenlike.model import AudioLM
from qwenlike import audio as A
torch.set_num_threads(2)
m = AudioLM.from_pretrained(str(resolve_model_ref("whisper-base+smollm2-135m-instruct")))
m.eval()
d = datasets.load_from_disk("runs/default/corpus").cast_column("audio", datasets.Audio(decode=False))
import os; os.makedirs("runs/ctc-readout", exist_ok=True)
out = {}
for split in ["train", "test"]:
    ds = d[split]
    keep = [i for i, (t, l, txt) in enumerate(zip(ds["task"], ds["language"], ds["text"]))
            if t in ("asr", "voice_chat", "speaker_gender") and (l or "en").startswith("en") and txt]
    rows = []
    t0 = time.time()
    for n, i in enumerate(keep):
        r = ds[i]
        wav = A.load(r["audio"]["bytes"] if r["audio"]["bytes"] else r["audio"]["path"])
        if len(wav) > 16000 * 30: continue
        f = A.log_mel([wav], n_mels=80)
        with torch.no_grad():
            h, v = m.encoder(f)
        rows.append(dict(id=r["id"], task=r["task"], text=r["text"], meta=r["meta"], h=h[0, : int(v[0])].half().clone()))
        if n % 200 == 0: print(split, n, len(keep), f"{time.time()-t0:.0f}s", flush=True)
    out[split] = rows
torch.save(out, "runs/ctc-readout/feats.pt")
print({k: len(v) for k, v in out.items()})
