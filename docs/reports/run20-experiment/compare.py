"""Two `qwenlike eval` scores.json files side by side: each task's primary metric (and mAP where
there is one), the second model's 95 % interval, and a mark where the second falls outside the
first's interval."""
import json, sys

from qwenlike.evaluation import primary_metric
a, b = (json.load(open(p))["tasks"] for p in sys.argv[1:3])
names = sys.argv[3:5] if len(sys.argv) > 4 else ["first", "second"]
print(f"{'task':<24} {'metric':<15} {names[0]:>8} -> {names[1]:<8} {'interval of ' + names[1]:<22} mAP")
for t in sorted(set(a) | set(b)):
    ra, rb = a.get(t, {}), b.get(t, {})
    m = (primary_metric(ra) or primary_metric(rb))[0]
    lo, hi = ra.get("ci95", [None, None])
    va, vb = ra.get(m), rb.get(m)
    out = "" if None in (va, vb, lo) or lo <= vb <= hi else "  *"
    ci = rb.get("ci95", ["-", "-"])
    fmt = lambda v: "-" if v is None else f"{v:.3f}"
    print(f"{t:<24} {m:<15} {fmt(va):>8} -> {fmt(vb):<8} [{ci[0]}, {ci[1]}]{'':<6} {fmt(ra.get('mAP'))} -> {fmt(rb.get('mAP'))}{out}")
