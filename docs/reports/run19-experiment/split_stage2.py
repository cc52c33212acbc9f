"""Recover stage 2's checkpoint from the shipped delta: its LoRA is the first r1 = 16 ranks of the
stacked rank-32 LoRA (A rows 0-15, B columns 0-15, B already scaled by stage 2's alpha/r), its
projector the shipped one (stage 3 froze it); no label head."""
import json, shutil, sys
from pathlib import Path
from safetensors.torch import load_file, save_file

src, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
meta = json.loads((src / "config.json").read_text())
state = load_file(str(src / "delta.safetensors"))
r = meta["delta"]["lora"]["r"]; r1 = 16
assert r == 32 and meta["delta"]["lora"]["alpha"] == r
new = {}
for k, v in state.items():
    if k.startswith("label_head."):
        continue
    if ".lora_A" in k:
        new[k] = v[:r1].contiguous()
    elif ".lora_B" in k:
        new[k] = v[:, :r1].contiguous()
    else:
        new[k] = v
meta["delta"]["lora"] = {**meta["delta"]["lora"], "r": r1, "alpha": r1}
meta["qwenlike"].pop("label_head")
for f in src.iterdir():
    if f.name not in ("config.json", "delta.safetensors", "label_sets.json"):
        shutil.copy2(f, out / f.name)
(out / "config.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
save_file(new, str(out / "delta.safetensors"), metadata={"format": "pt"})
print("kept", len(new), "tensors;", sorted({k.split(".")[0] for k in new}))
