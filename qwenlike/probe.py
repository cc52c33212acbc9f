"""Linear probe on a model's frozen audio encoder: how much of a closed-set task its features carry.

Floor 4 (imports tasks, inputs, audio; the caller loads the model). Each clip is encoded at its own length (30 s windows for
longer clips), its encoder frames pooled to mean and standard deviation, and a multinomial logistic
regression (L2, full-batch L-BFGS, standardised features) is fitted on the train split and scored
on the test split. No adapter and no LM take part, so the figure is what the encoder + the corpus
offer a classifier before any alignment: a task the probe cannot separate on held-out items is a
data or encoder limit that training the adapter for longer will not lift; a task the probe gets
right and the model does not is an alignment (adapter/LM training) gap.

`--layers 1,3,6` probes the output of those encoder blocks instead (1 = the first block; the
default is the encoder's final output, after its last norm): every clip is encoded once and each
layer gets its own probe, which tells whether a task's cue (a speaker's pitch, a language) is
clearer in the middle of the encoder than at its top, where Whisper keeps what transcription needs.

    qwenlike probe --corpus runs/default/corpus [--tasks sound_event,instrument] [--layers 2,4,6] [--model REF] [--out F.json]
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from . import audio as A
from .errors import UserError
from .inputs import features_of, windows_of


@dataclass
class ProbeResult:
    task: str
    labels: int  # classes seen in the train split
    n_train: int
    n_test: int
    train_accuracy: float
    test_accuracy: float
    chance: float  # the majority-label baseline: the most frequent train label's share of the test split
    encode_seconds: float
    layer: int | None = None  # encoder block whose output was probed; None: the encoder's final output


@torch.no_grad()
def pooled_features(model: Any, waves: Sequence[Any], layers: Sequence[int] | None = None) -> dict[int | None, torch.Tensor]:
    """Clips -> {layer: (N, 2D)}: per clip the mean and std of its valid encoder frames over all its
    windows, for each encoder block in `layers` (1-based) or, with None, the encoder's final output."""
    encoder = model.encoder.eval()
    blocks = encoder.whisper.layers
    keys: list[int | None] = list(layers) if layers else [None]
    _check_layers(model, layers)
    seen: dict[int, torch.Tensor] = {}
    hooks = [blocks[k - 1].register_forward_hook(lambda _m, _i, o, k=k: seen.__setitem__(k, o[0] if isinstance(o, tuple) else o))
             for k in keys if k is not None]
    out: dict[int | None, list[torch.Tensor]] = {k: [] for k in keys}
    try:
        for wave in waves:
            frames: dict[int | None, list[torch.Tensor]] = {k: [] for k in keys}
            for win in windows_of(wave):
                hidden, valid = encoder(features_of([win], model.config))  # (1, E, D), (1,)
                n = int(valid[0])
                for k in keys:
                    frames[k].append((hidden if k is None else seen[k])[0, :n].float())
            for k in keys:
                h = torch.cat(frames[k])  # (T, D)
                std = h.std(0) if h.shape[0] > 1 else torch.zeros_like(h[0])
                out[k].append(torch.cat([h.mean(0), std]))
    finally:
        for h in hooks:
            h.remove()
    return {k: torch.stack(v) for k, v in out.items()}


def _check_layers(model: Any, layers: Sequence[int] | None) -> None:
    n = len(model.encoder.whisper.layers)
    for k in layers or ():
        if not 1 <= k <= n:
            raise UserError(f"--layers: the encoder has blocks 1..{n}, not {k}")


def fit_linear(x: torch.Tensor, y: torch.Tensor, n_classes: int, l2: float = 1e-3, iters: int = 300):
    """Multinomial logistic regression on standardised x: returns predict(x) -> (N,) class ids."""
    w, b = fit_logistic(x, y, n_classes, l2, iters)
    return lambda q: (q.double() @ w + b).argmax(-1)


def fit_logistic(x: torch.Tensor, y: torch.Tensor, n_classes: int, l2: float = 1e-3, iters: int = 300):
    """The same regression's weights on raw x: (w (D, C), b (C,)) in float64, the standardisation
    folded in (logits = x @ w + b), so that one Linear layer applies it."""
    mu, sd = x.double().mean(0), x.double().std(0).clamp(min=1e-6)
    z = (x.double() - mu) / sd
    w = torch.zeros(z.shape[1], n_classes, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=iters, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(z @ w + b, y) + 0.5 * l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    w_ = w.detach() / sd[:, None]
    return w_, b.detach() - mu @ w_


def _clips_and_labels(task: Any, split: str, corpus: str, limit: int | None) -> tuple[list, list[str]]:
    rows = task.open(split, corpus)
    if rows is None:
        return [], []
    waves, labels = [], []
    for i, raw in enumerate(rows):
        if limit is not None and i >= limit:
            break
        row = task.row(raw)
        waves.append(A.load(row[task.audio[0]]))
        labels.append(task.label_of(row))
    return waves, labels


def probe_tasks(model: Any, corpus: str, tasks: Sequence[str] | None = None, limit: int | None = None,
                progress: Callable[[str], None] | None = None, layers: Sequence[int] | None = None) -> list[ProbeResult]:
    """Probe each closed-set, single-clip task of the corpus (or those named) with `model`'s encoder
    (an AudioLM: only its encoder runs); at most `limit` clips per split. With `layers`, one result
    per task and encoder block (1-based) instead of one on the encoder's final output."""
    from .tasks import load_tasks

    if not Path(corpus).exists():
        raise UserError(f"corpus not found: {corpus}")
    _check_layers(model, layers)  # before any clip is loaded
    sets = Path(corpus) / "label_sets.json"
    catalogue = load_tasks(label_sets=sets if sets.exists() else None)
    usable = {n: t for n, t in catalogue.items() if t.closed and len(t.audio) == 1}
    names = list(tasks) if tasks else list(usable)
    for n in names:
        if n not in catalogue:
            raise UserError(f"unknown task {n!r}")
        if n not in usable:
            raise UserError(f"task {n!r} is not a closed-set, single-clip task: nothing to probe")
    results = []
    for n in names:
        t0 = time.perf_counter()
        task = catalogue[n]
        tr_w, tr_y = _clips_and_labels(task, "train", corpus, limit)
        te_w, te_y = _clips_and_labels(task, "test", corpus, limit)
        classes = sorted(set(tr_y))
        if len(classes) < 2 or not te_y:
            if progress:
                progress(f"{n}: skipped (needs 2+ train labels and a test split)")
            continue
        f_tr = pooled_features(model, tr_w, layers)
        f_te = pooled_features(model, te_w, layers)
        secs = time.perf_counter() - t0
        idx = {c: i for i, c in enumerate(classes)}
        y_tr = torch.tensor([idx[c] for c in tr_y])
        top = max(classes, key=tr_y.count)
        for layer, x_tr in f_tr.items():
            predict = fit_linear(x_tr, y_tr, len(classes))
            pred = [classes[int(i)] for i in predict(f_te[layer])]
            r = ProbeResult(n, len(classes), len(tr_y), len(te_y),
                            float((predict(x_tr) == y_tr).double().mean()),
                            sum(p == y for p, y in zip(pred, te_y)) / len(te_y),
                            te_y.count(top) / len(te_y), round(secs, 1), layer)
            results.append(r)
            if progress:
                at = "" if layer is None else f" at block {layer}"
                progress(f"{n}{at}: test accuracy {r.test_accuracy:.3f} (train {r.train_accuracy:.3f}, majority label {r.chance:.3f}, "
                         f"{r.n_train} train / {r.n_test} test clips, {secs:.0f} s)")
    return results


def table(results: Sequence[ProbeResult]) -> str:
    lines = ["| task | encoder output | labels | train clips | test clips | probe train acc | probe test acc | majority-label baseline |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        at = "final" if r.layer is None else f"block {r.layer}"
        lines.append(f"| {r.task} | {at} | {r.labels} | {r.n_train} | {r.n_test} | {r.train_accuracy:.3f} | "
                     f"{r.test_accuracy:.3f} | {r.chance:.3f} |")
    return "\n".join(lines)


def write_json(results: Sequence[ProbeResult], out: str | Path, meta: dict) -> None:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(json.dumps({**meta, "tasks": [asdict(r) for r in results]}, indent=1) + "\n")
    tmp.replace(out)  # never a half-written file
