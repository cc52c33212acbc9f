"""YAMNet (AudioSet) embeddings + class scores for the same clips as v4_feats.pt (one 5 s crop per file)."""
import sys, time, os, numpy as np, torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../run17-experiment/sound_event_ceiling'))
from yam_frontend import patches, session
from qwenlike.corpus import sounds
from qwenlike.corpus.common import SR
sess = session(2)
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
