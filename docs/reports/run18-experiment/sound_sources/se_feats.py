"""Whisper blocks 1-4 features (the label head's) of every sound-event file of the v4 inventory
(branch v4-sounds; QWENLIKE_SOUND_ROOT for the table's files): one crop (<= 5 s) per file,
at most --per-session files per recording session, exact duplicates dropped."""
import sys, time, hashlib, collections, argparse
import numpy as np, torch
from qwenlike.corpus import sounds
from qwenlike.corpus.common import stable_hash, SR
ap = argparse.ArgumentParser(); ap.add_argument('out'); ap.add_argument('--per-session', type=int, default=6)
a = ap.parse_args()
torch.manual_seed(0)
from qwenlike.cli import _load_model
from qwenlike.label_head import window_features
ev = sounds.events()
seen, keep, per = set(), [], collections.Counter()
for e in sorted(ev, key=lambda e: (stable_hash(e.id), e.id)):
    if per[(e.label, e.session)] >= a.per_session: continue
    h = sounds.digest(e)
    if h in seen: continue
    seen.add(h); per[(e.label, e.session)] += 1; keep.append(e)
print(len(ev), 'files;', len(keep), 'kept', flush=True)
model = _load_model(None, None); model.set_label_head(None)
model.set_label_head({"blocks": [1, 2, 3, 4], "groups": [{"task": "x", "labels": ["x", "y"], "token_ids": [[1], [2]]}]})
waves, meta = [], []
t0 = time.time()
for e in keep:
    try: w = sounds.load(e)
    except Exception as ex: print('undecodable', e.id, ex); continue
    if len(w) < int(0.15 * SR): continue
    w = w[: 5 * SR]
    waves.append(np.concatenate([np.zeros(int(0.2 * SR), np.float32), w, np.zeros(int(0.3 * SR), np.float32)]))
    meta.append({'id': e.id, 'label': e.label, 'session': e.session, 'pkg': e.source})
sounds.load.cache_clear()
print('decoded', len(waves), round(time.time() - t0), 's', flush=True)
X, owner = [], []
for s in range(0, len(waves), 128):
    x, o = window_features(model, waves[s:s + 128]); X.append(x); owner += [s + i for i in o]
    print('feats', s + len(waves[s:s + 128]), round(time.time() - t0), 's', flush=True)
torch.save({'x': torch.cat(X), 'owner': owner, 'meta': meta}, a.out)
