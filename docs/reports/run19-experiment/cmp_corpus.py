"""Compare two corpus builds item by item: metadata and the audio bytes; prints the differing items."""
import hashlib, sys
from datasets import Audio, load_from_disk

a, b = load_from_disk(sys.argv[1]), load_from_disk(sys.argv[2])
total = diff = 0
for split in a:
    da, db = a[split], b[split]
    for col in ("audio", "audio2"):
        if col in da.column_names:
            da, db = da.cast_column(col, Audio(decode=False)), db.cast_column(col, Audio(decode=False))
    assert len(da) == len(db), (split, len(da), len(db))
    for i, (ra, rb) in enumerate(zip(da, db)):
        total += 1
        def key(r):
            out = {}
            for k, v in r.items():
                if isinstance(v, dict) and "bytes" in v:
                    out[k] = hashlib.sha1(v["bytes"] or b"").hexdigest()
                else:
                    out[k] = v
            return out
        ka, kb = key(ra), key(rb)
        if ka != kb:
            diff += 1
            cols = [k for k in ka if ka[k] != kb[k]]
            print(split, i, ra.get("task"), ra.get("voice"), ra.get("source"), cols)
print(f"{diff} of {total} items differ")
sys.exit(1 if diff else 0)
