"""Write the web page's task label sets (qwenlike/web/label_sets.json) from the task catalogue.

    python scripts/make_label_sets.py                          # tasks with labels written in their YAML
    python scripts/make_label_sets.py --corpus CORPUS_DIR      # + tasks whose labels come from a corpus build

Only single-clip analysis tasks with a closed label set are listed (the classify panel scores one clip).
Each entry: {"labels": [...], "prompt": first paraphrase without row fields, "family": ...}.
tests/test_web.py checks that the shipped file matches the catalogue.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "qwenlike" / "web" / "label_sets.json"


def label_sets(corpus: str | Path | None = None) -> dict[str, dict[str, Any]]:
    from qwenlike.tasks import load_tasks

    out: dict[str, dict[str, Any]] = {}
    for name, task in sorted(load_tasks(label_sets=corpus).items()):
        if task.mode != "analysis" or len(task.audio) != 1 or not task.closed:
            continue
        if task.labels_from_corpus and corpus is None:
            continue
        labels = list(task.labels or ())
        if len(labels) < 2:
            continue
        # a paraphrase that names no row field reads the same for every clip
        prompt = next((p.source for p in task.prompts if all(isinstance(x, str) for x in p.parts)), "")
        out[name] = {"labels": labels, "prompt": prompt, "family": task.family}
    return out


def render(sets: dict[str, dict[str, Any]]) -> str:
    return json.dumps(sets, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", help="a corpus build folder (or its label_sets.json) for tasks with `labels: corpus`")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    sets = label_sets(args.corpus)
    Path(args.out).write_text(render(sets), encoding="utf-8")
    print(f"make_label_sets: {len(sets)} task label sets -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
