"""Fit a model's label head: one logistic regression per closed-set task on encoder blocks' pooled frames.

Floor 5 (imports tasks, inputs, probe, checkpoint; the caller loads the model). The head (`projector.LabelHead`,
`AudioLMConfig.label_head`) gives every encoder window one more audio row per task: its label
probabilities times the labels' LM input embeddings. This module fits it the way `qwenlike probe`
measures what the encoder offers (mean and std of each chosen block's frames, side by side; a multinomial logistic
regression with L2, full-batch L-BFGS) on the corpus's train split, puts the weights (standardisation
folded in) into the head, and scores the head alone on the test split. The rest of the model is
untouched; a later `qwenlike train` stage teaches the LM to read the rows (`model.label_head: frozen`
keeps the fit).

    qwenlike label-head --model REF --corpus C --tasks speaker_gender,language_id [--blocks 1,2,3,4] --out DIR
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from .errors import UserError
from .inputs import features_of, windows_of
from .probe import _clips_and_labels, fit_logistic
from .projector import pool_frames


@torch.no_grad()
def window_features(model: Any, waves: Sequence[Any], batch: int = 16) -> tuple[torch.Tensor, list[int]]:
    """Clips -> ((N, 2D x blocks) pooled summary-block frames of every window, the clip index of each row):
    exactly what the model's label head reads. Windows go through the encoder in batches of similar
    length (a window's output does not depend on the rest of its batch: the encoder masks padding),
    and only as far as the last summary block."""
    encoder = model.encoder.eval()
    wins = [(i, win) for i, wave in enumerate(waves) for win in windows_of(wave)]
    order = sorted(range(len(wins)), key=lambda k: len(wins[k][1]))  # little padding within a batch
    pooled: list[torch.Tensor | None] = [None] * len(wins)
    for s in range(0, len(order), batch):
        chunk = order[s : s + batch]
        hidden, valid = encoder(features_of([wins[k][1] for k in chunk], model.config), summary_only=True)
        rows = pool_frames(hidden, valid).cpu()  # fitted on the CPU, in float64
        for j, k in enumerate(chunk):
            if int(valid[j]) > 0:
                pooled[k] = rows[j]
    keep = [k for k in range(len(wins)) if pooled[k] is not None]
    return torch.stack([pooled[k] for k in keep]), [wins[k][0] for k in keep]


def _clip_accuracy(probs: torch.Tensor, owner: list[int], truth: list[int]) -> float:
    """A clip's prediction is the argmax of its windows' mean probabilities."""
    acc = torch.zeros(len(truth), probs.shape[1], dtype=torch.float64)
    acc.index_add_(0, torch.tensor(owner), probs.double())
    return float((acc.argmax(1) == torch.tensor(truth)).double().mean())


def fit_label_head(model: Any, corpus: str, tasks: Sequence[str], blocks: Sequence[int] = (2,), l2: float = 1e-3,
                   progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Give `model` a label head over these encoder blocks (pooled frames side by side) for these closed-set, single-clip tasks
    of the corpus (labels from its label_sets.json, in the task's order), fit each task's classifier
    on the train split, and return per task its train and test accuracy (the head alone)."""
    from .tasks import load_tasks

    if not Path(corpus).exists():
        raise UserError(f"corpus not found: {corpus}")
    sets = Path(corpus) / "label_sets.json"
    catalogue = load_tasks(label_sets=sets if sets.exists() else None)
    if not tasks:
        raise UserError("--tasks: name at least one closed-set task")
    groups = []
    for n in tasks:
        task = catalogue.get(n)
        if task is None:
            raise UserError(f"unknown task {n!r}")
        if not (task.closed and task.labels and len(task.audio) == 1):
            raise UserError(f"task {n!r} is not a closed-set, single-clip task with a label set: a label head cannot read it")
        labels = list(task.labels)
        ids = [model.tokenizer(lab, add_special_tokens=False)["input_ids"] for lab in labels]
        groups.append({"task": n, "labels": labels, "token_ids": ids})
    try:
        model.set_label_head(None)
        model.set_label_head({"blocks": list(blocks), "groups": groups})
    except ValueError as e:
        raise UserError(f"--blocks: {e}") from None
    head = model.label_head
    report, start = [], 0
    for g in groups:
        t0 = time.perf_counter()
        task, labels = catalogue[g["task"]], g["labels"]
        index = {lab: i for i, lab in enumerate(labels)}
        tr_w, tr_y = _clips_and_labels(task, "train", corpus, None)
        te_w, te_y = _clips_and_labels(task, "test", corpus, None)
        unknown = sorted({y for y in tr_y + te_y if y not in index})
        if unknown:
            raise UserError(f"{g['task']}: labels outside its label set, e.g. {unknown[0]!r}")
        if len({*tr_y}) < 2:
            raise UserError(f"{g['task']}: the train split needs 2+ labels to fit a classifier (it has {len({*tr_y})})")
        x_tr, own_tr = window_features(model, tr_w)
        y_rows = torch.tensor([index[tr_y[i]] for i in own_tr])
        w, b = fit_logistic(x_tr, y_rows, len(labels), l2=l2)
        k = len(labels)
        head.linear.weight.data[start : start + k] = w.T.to(head.linear.weight)
        head.linear.bias.data[start : start + k] = b.to(head.linear.bias)
        start += k
        r = {"task": g["task"], "labels": k, "n_train": len(tr_y), "n_test": len(te_y),
             "train_accuracy": _clip_accuracy((x_tr.double() @ w + b).softmax(-1), own_tr, [index[y] for y in tr_y])}  # fmt: skip
        if te_w:
            x_te, own_te = window_features(model, te_w)
            r["test_accuracy"] = _clip_accuracy((x_te.double() @ w + b).softmax(-1), own_te, [index[y] for y in te_y])
        r["seconds"] = round(time.perf_counter() - t0, 1)
        report.append(r)
        if progress:
            test = f"test {r['test_accuracy']:.3f}" if "test_accuracy" in r else "no test split"
            progress(f"{g['task']}: {k} labels, {len(tr_y)} train clips, train {r['train_accuracy']:.3f}, {test} ({r['seconds']:.0f} s)")
    return report


def save_label_head(model: Any, out: str | Path, base: str, report: list[dict[str, Any]], corpus: str) -> Path:
    """A delta checkpoint over `base` (the model the head was fitted on) holding the head's weights only;
    `label_head.json` beside it keeps the fit's figures, label_sets.json the corpus's label sets."""
    from .checkpoint import save_delta

    names = [n for n, _ in model.named_parameters() if n.startswith("label_head.")]
    meta = {"label_head_fit": {"corpus": str(corpus), "tasks": report}}
    path = save_delta(model, out, base, names, None, extra=meta)
    (Path(out) / "label_head.json").write_text(json.dumps(meta["label_head_fit"], indent=1))
    sets = Path(corpus) / "label_sets.json"
    if sets.exists():
        (Path(out) / "label_sets.json").write_text(sets.read_text())
    return path
