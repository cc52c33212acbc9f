# Greedy CTC decoding of an `objective: ctc` checkpoint (qwenlike train, recipes/default-ctc.yaml) on
# a corpus's English test clips with transcripts: how well the stage-1 adapter alone reads speech.
#   python docs/reports/ctc-readout/ctc_decode.py runs/default/ctc/checkpoint-450 runs/default/corpus
# `Readout` (a checkpoint's audio tokens as CTC log-probabilities over the LM's vocabulary + blank)
# is shared with docs/reports/run10-experiment/label_readout.py.
import sys, json, torch, datasets, jiwer
from safetensors.torch import load_file
from qwenlike.checkpoint import from_pretrained
from qwenlike.audio import projector_tokens
from qwenlike import audio as A


class Readout:
    """A stage-1 checkpoint read the way `objective: ctc` trains it: each audio token against the LM's
    input embedding table plus the learnt blank (index V), special and added tokens masked."""

    def __init__(self, ck):
        self.m = m = from_pretrained(ck).eval()
        sd = load_file(f"{ck}/delta.safetensors")
        E = m.lm.get_input_embeddings().weight.detach().float()
        self.W = torch.cat([E, sd["ctc_head.blank"].float()[None]]); self.V = E.shape[0]
        self.scale = sd["ctc_head.scale"].float()
        self.tok = tok = m.tokenizer
        self.masked = sorted((set(tok.all_special_ids) | set(tok.added_tokens_decoder)) & set(range(self.V)))

    def logits(self, row):
        """(audio tokens, V + 1) CTC logits of a corpus row's clip."""
        wav = A.load(row["audio"]["bytes"] if row["audio"]["bytes"] else row["audio"]["path"])
        m = self.m
        with torch.no_grad():
            h, v = m.encoder(A.log_mel([wav], n_mels=80))
            p = m.projector(h)[0, : projector_tokens(int(v[0]), m.config.projector.stride, m.config.projector.mode)]
            lg = self.scale * (p.float() @ self.W.T); lg[:, self.masked] = -1e4
        return lg

    def greedy(self, lg):
        """Best path, repeats merged and blanks dropped, as text."""
        out, prev = [], None
        for s in lg.argmax(-1).tolist():
            if s != prev and s != self.V: out.append(s)
            prev = s
        return self.tok.decode(out).strip()


def test_split(corpus):
    return datasets.load_from_disk(corpus)["test"].cast_column("audio", datasets.Audio(decode=False))


if __name__ == "__main__":
    torch.set_num_threads(2)
    ck, corpus = sys.argv[1], sys.argv[2]
    R = Readout(ck)
    ds = test_split(corpus)
    keep = [i for i, (t, l, x) in enumerate(zip(ds["task"], ds["language"], ds["text"]))
            if t in ("asr", "voice_chat", "speaker_gender") and (l or "en").startswith("en") and x]
    refs, hyps, keys = [], [], []
    for i in keep:
        r = ds[i]
        meta = json.loads(r["meta"] or "{}"); k = r["task"] + ":" + meta.get("sentence_source", "words")
        refs.append(r["text"].strip().lower()); hyps.append(R.greedy(R.logits(r)).lower() or "x")
        keys.append([k, k + ":" + meta.get("engine", "recorded"), "all"])
    res = {}
    for k in sorted({k for ks in keys for k in ks}):
        idx = [j for j, ks in enumerate(keys) if k in ks]
        res[k] = (round(jiwer.wer([refs[j] for j in idx], [hyps[j] for j in idx]), 3), len(idx))
    for k, v in res.items(): print(f"{k:40s} wer {v[0]:.3f}  n {v[1]}")
    for j in range(4): print(repr(refs[j]), "->", repr(hyps[j]))
