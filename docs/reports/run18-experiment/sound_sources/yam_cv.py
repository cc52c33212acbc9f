"""YAMNet (AudioSet) embeddings + class scores for the same clips as v4_feats.pt (one 5 s crop per file)."""
import sys, time, numpy as np, torch, librosa, onnxruntime as ort
from qwenlike.corpus import sounds
from qwenlike.corpus.common import SR
so = ort.SessionOptions(); so.intra_op_num_threads = 2; so.inter_op_num_threads = 1
sess = ort.InferenceSession('/tmp/lead/e17/yam/emb.onnx', so, providers=['CPUExecutionProvider'])
FB = torch.tensor(librosa.filters.mel(sr=16000, n_fft=512, n_mels=64, fmin=125, fmax=7500, htk=True, norm=None), dtype=torch.float32)
WIN = torch.hann_window(400)
def patches(w):
    x = torch.from_numpy(np.asarray(w, np.float32))
    if len(x) < 512 + 95 * 160: x = torch.nn.functional.pad(x, (0, 512 + 95 * 160 - len(x)))
    spec = torch.stft(x, 512, 160, 400, WIN, center=False, return_complex=True).abs()
    lm = torch.log(FB @ spec + 1e-3).T
    return torch.stack([lm[s:s + 96] for s in range(0, lm.shape[0] - 96 + 1, 48)])[:, None].numpy()
d = torch.load('/tmp/lead/e18/v4_feats.pt')
byid = {e.id: e for e in sounds.events()}
out = []; t0 = time.time()
for k, m in enumerate(d['meta']):
    w = sounds.load(byid[m['id']])[: 5 * SR]
    w = np.concatenate([np.zeros(int(0.2 * SR), np.float32), w, np.zeros(int(0.3 * SR), np.float32)])
    res = [sess.run(None, {'audio': q[None]}) for q in patches(w)]
    sc = np.concatenate([r[0] for r in res]); emb = np.concatenate([r[1] for r in res])
    out.append(np.concatenate([emb.mean(0), emb.max(0), sc.mean(0), sc.max(0)]))
    if k % 200 == 0: print(k, round(time.time() - t0), flush=True)
x = torch.tensor(np.stack(out))
torch.save({'x': x, 'owner': list(range(len(out))), 'meta': d['meta']}, '/tmp/lead/e18/v4_yam.pt')
# whisper + yamnet side by side (whisper rows pooled per clip by mean)
xw = torch.zeros(len(out), d['x'].shape[1], dtype=d['x'].dtype); cnt = torch.zeros(len(out))
for r, o in enumerate(d['owner']): xw[o] += d['x'][r]; cnt[o] += 1
xw /= cnt[:, None]
torch.save({'x': torch.cat([xw.double(), x.double()], 1), 'owner': list(range(len(out))), 'meta': d['meta']}, '/tmp/lead/e18/v4_both.pt')
print('done', round(time.time() - t0))
