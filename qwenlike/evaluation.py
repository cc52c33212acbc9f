"""`qwenlike eval`: suites -> predictions.jsonl, scores.json, report.md with plots. Resumable.

Floor 5. A suite (eval/<name>.yaml) names tasks of the catalogue, their split, a limit and the
prompt form; prompts come from the same task definitions training uses. Closed-set tasks are
answered by label scoring (the argmax of the label likelihoods; the probabilities also give mAP),
open tasks by batched greedy generation. Published multiple-choice benchmarks (AIR-Bench
foundation, MMAU) run through adapters over their own JSON files.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import yaml

from .chat import analysis
from .errors import UserError
from .jsonl import append as _append
from .jsonl import repair_and_read

EVAL_DIR = Path(__file__).resolve().parent.parent / "eval"
MAX_LABELS_FOR_SCORING = 64


@dataclass
class SuiteTask:
    task: str
    split: str = "test"
    limit: int | None = None
    form: str = "natural"
    max_new_tokens: int = 64
    scoring: str = "auto"  # auto | labels | generate


@dataclass
class Suite:
    name: str
    description: str = ""
    corpus: str | None = None
    tasks: list[SuiteTask] = field(default_factory=list)
    adapter: str | None = None  # airbench | mmau
    data: str | None = None  # the benchmark's JSON file (adapters)
    audio_root: str | None = None
    path: str = ""


def _fields(cls) -> set[str]:
    return set(cls.__dataclass_fields__)


def load_suite(name_or_path: str) -> Suite:
    p = Path(name_or_path)
    if not p.exists():
        p = EVAL_DIR / f"{name_or_path}.yaml"
    if not p.exists():
        known = ", ".join(sorted(x.stem for x in EVAL_DIR.glob("*.yaml")))
        raise UserError(f"unknown suite {name_or_path!r} (known: {known}; or give a YAML path)")
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise UserError(f"{p}: invalid YAML ({str(e).splitlines()[0]})") from None
    bad = set(raw) - _fields(Suite)
    if bad:
        raise UserError(f"{p}: unknown key(s) {sorted(bad)}")
    tasks = []
    for i, t in enumerate(raw.pop("tasks", []) or []):
        t = {"task": t} if isinstance(t, str) else dict(t)
        bad = set(t) - _fields(SuiteTask)
        if bad:
            raise UserError(f"{p}: tasks[{i}] has unknown key(s) {sorted(bad)}")
        tasks.append(SuiteTask(**t))
    raw.setdefault("name", p.stem)
    return Suite(tasks=tasks, path=str(p), **raw)


# ----------------------------------------------------------------------------------------------
# items: (task, id, conversation, reference, labels, row)
# ----------------------------------------------------------------------------------------------
@dataclass
class Item:
    task: str
    id: str
    conversation: list
    reference: str
    labels: Sequence[str] | None
    row: dict
    duration: float = 0.0
    max_new_tokens: int = 64


def _task_items(suite: Suite, corpus: str | None, limit: int | None) -> Iterator[tuple[Any, list[Item]]]:
    from .tasks import load_tasks

    corpus = corpus or suite.corpus
    label_sets = Path(corpus) / "label_sets.json" if corpus and (Path(corpus) / "label_sets.json").exists() else None
    catalogue = load_tasks(label_sets=label_sets)
    for st in suite.tasks:
        if st.task not in catalogue:
            raise UserError(f"{suite.path}: unknown task {st.task!r}")
        task = catalogue[st.task]
        rows = task.open(st.split, corpus)
        n = len(rows) if hasattr(rows, "__len__") else None
        cap = min(x for x in (limit, st.limit, n) if x is not None) if any(x is not None for x in (limit, st.limit, n)) else None
        items = []
        for i, row in enumerate(rows):
            if cap is not None and i >= cap:
                break
            row = task.row(row)
            labels = None
            if st.scoring != "generate" and task.closed and task.labels and (st.scoring == "labels" or len(task.labels) <= MAX_LABELS_FOR_SCORING):
                labels = list(task.labels)
            conv = task.conversation_of_row(row, form=st.form, with_answer=False)
            items.append(Item(task.name, str(row["id"]), conv, task.reference(row), labels, row, row.get("duration", 0.0), st.max_new_tokens))
        yield task, items


def _choice_items(suite: Suite, limit: int | None) -> list[Item]:
    """AIR-Bench foundation / MMAU multiple choice: the options are scored as labels."""
    if not suite.data:
        raise UserError(f"{suite.path}: adapter {suite.adapter!r} needs data: <the benchmark's JSON file>")
    data_path = Path(suite.data)
    if not data_path.exists():
        raise UserError(f"{data_path}: benchmark file not found")
    root = Path(suite.audio_root) if suite.audio_root else data_path.parent
    entries = json.loads(data_path.read_text())
    items = []
    for k, e in enumerate(entries[:limit] if limit else entries):
        if suite.adapter == "airbench":  # keys of AIR-Bench's Foundation meta JSON
            choices = [e[c] for c in ("choice_a", "choice_b", "choice_c", "choice_d") if e.get(c)]
            audio, answer = root / e["task_name"] / e["dataset_name"] / e["path"], e["answer_gt"]
            group, uid = e.get("task_name", ""), str(e.get("uniq_id", k))
        elif suite.adapter == "mmau":  # keys of MMAU's test-mini JSON
            choices, answer = list(e["choices"]), e["answer"]
            audio, group, uid = root / e["audio_id"], e.get("task", ""), str(e.get("id", k))
        else:
            raise UserError(f"{suite.path}: unknown adapter {suite.adapter!r} (airbench | mmau)")
        options = "\n".join(f"({chr(65 + i)}) {c}" for i, c in enumerate(choices))
        q = f"{e['question']}\nChoose one of:\n{options}\nAnswer with the option's text."
        items.append(Item(group or suite.adapter, uid, analysis([str(audio)], q), answer, choices, {"id": uid, "group": group}))
    return items


# ----------------------------------------------------------------------------------------------
# running
# ----------------------------------------------------------------------------------------------
def config_hash(suite: Suite, model_config: dict, limit: int | None) -> str:
    suite_text = Path(suite.path).read_text() if suite.path else json.dumps(asdict(suite), sort_keys=True)
    blob = json.dumps({"suite": suite_text, "model": model_config, "limit": limit}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def weights_fingerprint(model: Any) -> str:
    """A short hash of a model's weights (every 61st value of every tensor): a retrained model in the
    same folder, or another delta over the same base, gets another fingerprint."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().flatten()[::61].float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _check_resume(out: Path, stamp: dict, done: dict, groups: list) -> None:
    """A rerun resumes only what the same model, suite and data predicted: predictions of another
    run in the same folder are refused (never mixed into the scores), with one line saying why."""
    f = out / "eval_run.json"
    if done:
        old = json.loads(f.read_text()) if f.exists() else None
        if old != stamp:
            what = "an unrecorded run" if old is None else ", ".join(
                f"{k} {old.get(k)} -> {v}" for k, v in stamp.items() if old.get(k) != v)
            raise UserError(f"{out}: holds predictions of another model or suite ({what}); "
                            f"pass a new --out, or delete {out / 'predictions.jsonl'} to start over")
        stale = [it.id for _, items in groups for it in items
                 if (it.task, it.id) in done and done[(it.task, it.id)].get("reference") != it.reference]
        if stale:
            raise UserError(f"{out}: {len(stale)} stored predictions have other references than the data now "
                            f"(e.g. {stale[0]}: the corpus was rebuilt?); pass a new --out or delete {out / 'predictions.jsonl'}")
    tmp = out / "eval_run.json.tmp"
    tmp.write_text(json.dumps(stamp, indent=1, sort_keys=True))
    tmp.replace(f)


def _predict(model: Any, items: list[Item], batch_size: int) -> list[dict]:
    from .generate import GenerationConfig, generate, score_labels

    out = []
    gen_items = [it for it in items if it.labels is None]
    for it in items:
        if it.labels is not None:
            s = score_labels(model, it.conversation, it.labels)
            out.append({"task": it.task, "id": it.id, "prediction": s.top(1)[0][0], "reference": it.reference,
                        "label_probs": dict(zip(s.labels, [round(p, 6) for p in s.probs]))})  # fmt: skip
    gen_items.sort(key=lambda it: it.duration)  # similar lengths batch with little padding
    for i in range(0, len(gen_items), batch_size):
        chunk = gen_items[i : i + batch_size]
        cfg = GenerationConfig(max_new_tokens=max(it.max_new_tokens for it in chunk))
        res = generate(model, [it.conversation for it in chunk], cfg, row_max_new_tokens=[it.max_new_tokens for it in chunk])
        out += [{"task": it.task, "id": it.id, "prediction": g.text, "reference": it.reference} for it, g in zip(chunk, res)]
    return out


def _facets(row: Any) -> list[tuple[str, str]]:
    """(kind, group) pairs a row's score is also reported for: its corpus source (a voice engine, a
    recording set) and, for speech, where its sentence came from (`sentences:fortunes` natural text
    against `sentences:generated` template sentences, which a model can learn by heart)."""
    if not isinstance(row, dict):
        return []
    from .tasks.sources import parse_meta

    out = [("source", str(row["source"]))] if row.get("source") else []
    sentences = parse_meta(row.get("meta")).get("sentence_source")
    if sentences:
        out.append(("sentences", f"sentences:{sentences}"))
    return out


def _by_source(task: Any, pairs: list, preds: list[str], overall: dict) -> dict[str, float]:
    """The primary metric (WER, CER or accuracy) per facet of the rows (e.g. `wer[speech.piper]`,
    `wer[sentences:fortunes]`), for each kind of facet whose rows have more than one value."""
    prim = primary_metric(overall)
    if prim is None or prim[0] not in ("wer", "cer", "accuracy"):
        return {}
    kinds: dict[str, dict[str, list[int]]] = {}
    for i, (it, _) in enumerate(pairs):
        for kind, group in _facets(it.row):
            kinds.setdefault(kind, {}).setdefault(group, []).append(i)
    out = {}
    for groups in kinds.values():
        if len(groups) < 2:
            continue
        for src, idx in sorted(groups.items()):
            sub = dict(task.score([preds[i] for i in idx], [pairs[i][0].row for i in idx]))
            if prim[0] in sub:
                out[f"{prim[0]}[{src}]"] = sub[prim[0]]
    return out


CI_RESAMPLES = 1000
CI_SKIP = ("spider", "spice")  # metrics too slow to recompute a thousand times (SPICE runs Java)


def bootstrap_ci(score: Any, n: int, key: str, seed: str, resamples: int = CI_RESAMPLES) -> list[float] | None:
    """95 % percentile-bootstrap interval of metric `key` over items: `score(idx)` scores the items
    at `idx` (a resample, with repeats) and returns {metric: value}. Corpus-level metrics (WER's
    total edits over total words) are recomputed on each resample, not averaged per item. Seeded
    by `seed` (the task's name), so a report's intervals do not depend on task order or the run."""
    import numpy as np

    if n < 2:
        return None
    rng = np.random.default_rng(int(hashlib.sha256(seed.encode()).hexdigest()[:8], 16))
    vals = []
    for _ in range(resamples):
        v = score(rng.integers(0, n, n).tolist()).get(key)
        if isinstance(v, (int, float)) and v == v:
            vals.append(float(v))
    if len(vals) < resamples // 2:
        return None
    lo, hi = np.percentile(vals, [2.5, 97.5])
    return [round(float(lo), 4), round(float(hi), 4)]


def wilson_ci(k: int, n: int, z: float = 1.959964) -> list[float]:
    """95 % Wilson score interval of a proportion k/n: honest at 0/n and n/n, where a bootstrap
    collapses to a point."""
    p = k / n
    mid = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return [round(max(0.0, mid - half), 4), round(min(1.0, mid + half), 4)]


PROPORTIONS = ("accuracy", "exact_match", "intent_accuracy")  # a mean of per-item 0/1 outcomes


def _task_ci(task: Any, pairs: list, preds: list[str], s: dict) -> list[float] | None:
    """The interval of a task's primary metric (`ci95` in scores.json), or None where it has none:
    Wilson for proportions, a percentile bootstrap over items for everything else."""
    prim = primary_metric(s)
    if task is None or prim is None or len(pairs) < 2:
        return None
    key, value = prim
    k = value * len(pairs)
    if key in PROPORTIONS and abs(k - round(k)) < 1e-6:
        return wilson_ci(round(k), len(pairs))
    names = [m for m in task.metrics if key == m or key.startswith(m + ".")]
    if not names or names[0] in CI_SKIP:
        return None
    rows = [it.row for it, _ in pairs]
    return bootstrap_ci(lambda idx: task.score([preds[i] for i in idx], [rows[i] for i in idx], metrics=names[:1]), len(pairs), key, task.name)


def run_eval(model: Any, suite: Suite, out_dir: str | Path, model_name: str = "", limit: int | None = None,
             corpus: str | None = None, batch_size: int = 8, progress: bool = True) -> dict:  # fmt: skip
    """Predict (resuming from predictions.jsonl), score, and write scores.json + report.md."""
    from .metrics import mean_average_precision

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pred_file = out / "predictions.jsonl"
    done = {(r["task"], r["id"]): r for r in repair_and_read(pred_file)}
    if suite.adapter:
        groups: list[tuple[Any, list[Item]]] = [(None, _choice_items(suite, limit))]
    else:
        groups = list(_task_items(suite, corpus, limit))
    # what a stored prediction depends on: the suite, the model's config and weights (not --limit:
    # a bigger limit resumes a smaller one's items)
    stamp = {"config_hash": config_hash(suite, model.config.to_dict(), None), "weights": weights_fingerprint(model)}
    _check_resume(out, stamp, done, groups)
    total = sum(len(items) for _, items in groups)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="item", desc=f"eval {suite.name}", dynamic_ncols=True)
    scores: dict[str, dict] = {}
    t0 = time.perf_counter()
    for task, items in groups:
        todo = [it for it in items if (it.task, it.id) not in done]
        if bar is not None:
            bar.update(len(items) - len(todo))
        step = max(batch_size, 1)
        for i in range(0, len(todo), step):
            recs = _predict(model, todo[i : i + step], batch_size)
            _append(pred_file, recs)  # whole lines, fsync'd: a killed run resumes here
            done.update({(r["task"], r["id"]): r for r in recs})
            if bar is not None:
                bar.update(len(recs))
        by_task: dict[str, list[tuple[Item, dict]]] = {}
        for it in items:
            by_task.setdefault(it.task, []).append((it, done[(it.task, it.id)]))
        for name, pairs in by_task.items():
            preds = [r["prediction"] for _, r in pairs]
            if task is not None:
                s = dict(task.score(preds, [it.row for it, _ in pairs]))
            else:
                s = {"accuracy": sum(p.strip().lower() == it.reference.strip().lower() for p, (it, _) in zip(preds, pairs)) / len(pairs)}
            if task is not None:
                s.update(_by_source(task, pairs, preds, s))
                ci = _task_ci(task, pairs, preds, s)
                if ci is not None:
                    s["ci95"] = ci  # of the primary metric
            if all("label_probs" in r for _, r in pairs) and task is not None and task.labels:
                s["mAP"] = mean_average_precision([r["label_probs"] for _, r in pairs], [it.reference for it, _ in pairs], labels=list(task.labels))
            s["n"] = len(pairs)
            # NaN (a metric with nothing to score, e.g. no tempo questions) is null in JSON, not NaN
            scores[name] = {k: ((None if v != v else round(v, 6)) if isinstance(v, float) else v) for k, v in s.items()}
    if bar is not None:
        bar.close()
    result = {
        "model": model_name, "suite": suite.name, "config_hash": config_hash(suite, model.config.to_dict(), limit),
        "weights": stamp["weights"],
        "limit": limit, "seconds": round(time.perf_counter() - t0, 2), "tasks": scores,
    }  # fmt: skip
    tmp = out / "scores.json.tmp"
    tmp.write_text(json.dumps(result, indent=2, sort_keys=True))
    tmp.replace(out / "scores.json")
    write_report(result, list(done.values()), out)
    return result


# ----------------------------------------------------------------------------------------------
# reports
# ----------------------------------------------------------------------------------------------
PRIMARY = ("accuracy", "wer", "cer", "bleu", "cider_d", "f1", "event_f1", "iou", "token_f1", "agreement")


def primary_metric(s: dict) -> tuple[str, float] | None:
    for k in PRIMARY:
        for key, v in s.items():
            if key.lower().startswith(k) and isinstance(v, (int, float)):
                return key, float(v)
    nums = [(k, float(v)) for k, v in s.items() if k != "n" and isinstance(v, (int, float))]
    return nums[0] if nums else None


def write_report(result: dict, predictions: list[dict], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = result["tasks"]
    lines = [f"# Evaluation: suite `{result['suite']}`", "",
             f"model `{result['model']}` · weights `{result.get('weights', '?')}` · config hash `{result['config_hash']}` · "
             f"limit {result['limit']} · {result['seconds']} s", "",
             "Brackets: 95 % interval of the task's primary metric (accuracy: Wilson score interval; other "
             "metrics: percentile bootstrap, 1,000 resamples of the items).", "",
             "| task | n | scores |", "|---|---|---|"]  # fmt: skip
    for name, s in sorted(tasks.items()):
        ci = s.get("ci95")
        prim_key = (primary_metric(s) or ("", 0))[0]

        def fmt(k: str, v: Any) -> str:
            if not isinstance(v, (int, float)):
                return f"{k} {'—' if v is None else v}"
            return f"{k} {v:.4g}" + (f" [{ci[0]:.3g}, {ci[1]:.3g}]" if k == prim_key and ci else "")

        body = ", ".join(fmt(k, v) for k, v in s.items() if k not in ("n", "ci95"))
        lines.append(f"| {name} | {s.get('n', '')} | {body} |")
    prim = {n: primary_metric(s) for n, s in tasks.items()}
    prim = {n: p for n, p in prim.items() if p is not None}
    if prim:
        names = sorted(prim)
        fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(names) + 2), 4))
        ax.bar(range(len(names)), [prim[n][1] for n in names], color="#4477aa")
        ax.set_xticks(range(len(names)), [f"{n}\n{prim[n][0]}" for n in names], rotation=60, ha="right", fontsize=7)
        ax.set_title(f"{result['suite']}: primary metric per task")
        fig.tight_layout()
        fig.savefig(out / "scores.png", dpi=100)
        plt.close(fig)
        lines += ["", "![primary metric per task](scores.png)"]
    for name in sorted(tasks):
        recs = [r for r in predictions if r["task"] == name and "label_probs" in r]
        if not recs:
            continue
        labels = sorted({r["reference"] for r in recs} | {r["prediction"] for r in recs})
        if len(labels) > 30:
            continue
        idx = {l: i for i, l in enumerate(labels)}
        m = [[0] * len(labels) for _ in labels]
        for r in recs:
            m[idx[r["reference"]]][idx[r["prediction"]]] += 1
        fig, ax = plt.subplots(figsize=(2 + 0.35 * len(labels), 1.5 + 0.35 * len(labels)))
        ax.imshow(m, cmap="Blues")
        ax.set_xticks(range(len(labels)), labels, rotation=70, fontsize=6)
        ax.set_yticks(range(len(labels)), labels, fontsize=6)
        ax.set_xlabel("predicted")
        ax.set_ylabel("reference")
        ax.set_title(f"{name}: confusion")
        fig.tight_layout()
        fig.savefig(out / f"confusion_{name}.png", dpi=100)
        plt.close(fig)
        lines += ["", f"![{name} confusion matrix](confusion_{name}.png)"]
    dest = out / "report.md"
    dest.write_text("\n".join(lines) + "\n")
    return dest


def compare(paths: Sequence[str]) -> str:
    runs = []
    for p in paths:
        try:
            runs.append(json.loads(Path(p).read_text()))
        except (OSError, json.JSONDecodeError) as e:
            raise UserError(f"{p}: cannot read scores ({e})") from None
    head = "| task | metric | " + " | ".join(f"{r['model']} ({r['suite']})" for r in runs) + " |"
    rows = [head, "|---|---|" + "---|" * len(runs)]
    names = sorted({t for r in runs for t in r["tasks"]})
    for t in names:
        metrics = sorted({k for r in runs for k in r["tasks"].get(t, {}) if k != "n"})
        for k in metrics:
            vals = [r["tasks"].get(t, {}).get(k) for r in runs]
            rows.append(f"| {t} | {k} | " + " | ".join("—" if v is None else f"{v:.4g}" if isinstance(v, (int, float)) else str(v) for v in vals) + " |")
    return "\n".join(rows)
