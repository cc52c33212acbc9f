# More speech for the CTC readout: natural sentences from the fortunes files (split at sentence ends,
# 27 files), none overlapping any validation/test text of the corpus, spoken by the corpus's Piper
# voice (the voice the ASR target is measured on), then encoded by frozen Whisper base.
import os, re, sys, time, random, json
from pathlib import Path
from multiprocessing import Pool
import numpy as np
N = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
OUT = Path("runs/ctc-readout"); OUT.mkdir(parents=True, exist_ok=True)
FILES = ("fortunes", "education", "food", "science", "wisdom", "work", "people", "literature", "love",
         "art", "computers", "cookie", "disclaimer", "kids", "miscellaneous", "platitudes", "pets", "sports",
         "songs-poems", "goedel", "paradoxum", "medicine", "magic", "humorists", "riddles", "law", "news")
CLEAN = re.compile(r"^[A-Za-z][A-Za-z ,.'?!;-]*[.?!]$"); END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
def sentences():
    out = set()
    for name in FILES:
        p = Path("/usr/share/games/fortunes") / name
        if not p.is_file(): continue
        for block in p.read_text(encoding="utf-8", errors="replace").split("\n%\n"):
            lines = [l for l in block.split("\n") if not l.strip().startswith("--")]
            if any(l.startswith(("\t", "    ")) for l in lines): continue
            for s in END.split(" ".join(" ".join(lines).split())):
                w = s.split()
                if 4 <= len(w) <= 16 and CLEAN.match(s) and "--" not in s and not any(len(x) > 3 and x.isupper() for x in w):
                    out.add(s)
    return sorted(out)
def norm(s): return " ".join(re.sub(r"[^a-z' ]", " ", s.lower()).split())
def synth(job):
    i, text = job
    os.environ["OMP_NUM_THREADS"] = "1"
    from qwenlike.corpus import speech as S
    import soundfile as sf
    v = [x for x in S.english_voices() if x.engine == "piper"][0]
    rate = 0.85 + 0.3 * ((i * 7919) % 100) / 100
    wav = S.synth(v, text, rate=rate)
    sf.write(OUT / "piper" / f"{i:05d}.wav", wav, 16000, subtype="PCM_16")
    return i
if __name__ == "__main__":
    import datasets
    d = datasets.load_from_disk("runs/default/corpus")
    held = [norm(t) for s in ("validation", "test") for t in list(d[s]["text"]) + list(d[s]["answer"]) if t]
    held = [h for h in held if len(h.split()) >= 3]
    sents = [s for s in sentences() if not any(norm(s) in h or h in norm(s) for h in held)]
    random.Random(0).shuffle(sents)
    sents = sents[:N]
    print(len(sents), "sentences after removing held-out overlaps", flush=True)
    (OUT / "piper").mkdir(exist_ok=True)
    (OUT / "more_sentences.json").write_text(json.dumps(sents))
    todo = [(i, s) for i, s in enumerate(sents) if not (OUT / "piper" / f"{i:05d}.wav").exists()]
    t0 = time.time()
    with Pool(2) as pool:
        for n, _ in enumerate(pool.imap_unordered(synth, todo, chunksize=8)):
            if n % 250 == 0: print("synth", n, len(todo), f"{time.time()-t0:.0f}s", flush=True)
    import torch
    torch.set_num_threads(2)
    from qwenlike.paths import resolve_model_ref
    from qwenlike.model import AudioLM
    from qwenlike import audio as A
    m = AudioLM.from_pretrained(str(resolve_model_ref("whisper-base+smollm2-135m-instruct"))).eval()
    rows = []
    for i, s in enumerate(sents):
        wav = A.load(str(OUT / "piper" / f"{i:05d}.wav"))
        with torch.no_grad():
            h, v = m.encoder(A.log_mel([wav], n_mels=80))
        rows.append(dict(id=f"more-{i}", task="asr", text=s, meta=json.dumps({"sentence_source": "fortunes-more", "engine": "piper"}), h=h[0, : int(v[0])].half().clone()))
        if i % 500 == 0: print("encode", i, f"{time.time()-t0:.0f}s", flush=True)
    torch.save(rows, OUT / "feats_more.pt")
    print("done", len(rows), sum(r["h"].shape[0] for r in rows) / 50 / 3600, "h", f"{time.time()-t0:.0f}s")
