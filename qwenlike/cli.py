"""`qwenlike <verb>`: thin dispatch to the rooms below. Errors reach the user as one line, exit 2.

Floor 6: the only module that knows argparse (sub-tools with their own argv parsing, such as
`qwenlike corpus`, get the remaining arguments).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Callable

from .errors import UserError

EXIT_USAGE = 2
DEFAULT_MODEL_ENV = "QWENLIKE_MODEL"


def _threads() -> None:
    # 2-core machines: one intra-op thread per core, never oversubscribed by a nested pool
    import torch

    n = int(os.environ.get("OMP_NUM_THREADS", "0") or 0) or os.cpu_count() or 1
    torch.set_num_threads(max(1, n))


def _model_path(arg: str | None) -> str:
    path = arg or os.environ.get(DEFAULT_MODEL_ENV)
    if not path:
        from .paths import default_model_dir

        found = default_model_dir()
        if found is None:
            raise UserError(f"no model: this install has no default model; pass --model DIR or set {DEFAULT_MODEL_ENV}")
        path = str(found)
    return path


def _load_model(arg: str | None, dtype: str | None):
    import torch

    from .checkpoint import from_pretrained

    dt = {None: None, "fp32": torch.float32, "bf16": torch.bfloat16}[dtype]
    return from_pretrained(_model_path(arg), dtype=dt)


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help=f"model folder, 'default', or a build spec such as whisper-base+smollm2-135m-instruct "
                   f"(default: ${DEFAULT_MODEL_ENV} or the shipped default model)")
    p.add_argument("--dtype", choices=["fp32", "bf16"], default=None)


def _gen_args(p: argparse.ArgumentParser) -> None:
    _model_args(p)
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the answer")


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports KiB, macOS bytes)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def _answer(args: argparse.Namespace, conversation: list, clips: list) -> int:
    """Decode the clips (failing on bad files before the model loads), then answer once."""
    from . import audio as A
    from .generate import GenerationConfig, generate

    t = time.perf_counter()
    waves = [A.load(c) for c in clips]  # decoded once: generate gets the arrays, not the paths
    decode_s = time.perf_counter() - t
    _threads()
    t0 = time.perf_counter()
    model = _load_model(args.model, args.dtype)
    t1 = time.perf_counter()
    cfg = GenerationConfig(
        max_new_tokens=args.max_new_tokens, do_sample=args.temperature > 0, temperature=args.temperature,
        top_p=args.top_p, seed=args.seed,
    )  # fmt: skip
    try:
        g = generate(model, [conversation], cfg, clips=[waves])[0]
    except ValueError as e:
        raise UserError(str(e)) from None
    t2 = time.perf_counter()
    if args.json:
        print(json.dumps({
            "answer": g.text, "audio_seconds": round(sum(len(w) for w in waves) / A.SAMPLE_RATE, 3),
            "audio_tokens": g.audio_tokens, "new_tokens": len(g.token_ids), "seconds": round(decode_s + t2 - t1, 3),
            "load_seconds": round(t1 - t0, 3), "peak_rss_mb": peak_rss_mb(), "finish_reason": g.finish_reason,
        }, ensure_ascii=False))  # fmt: skip
    else:
        print(g.text)
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from .chat import analysis

    return _answer(args, analysis(list(args.audio), args.question), list(args.audio))


def cmd_chat(args: argparse.Namespace) -> int:
    from .chat import voice_chat

    return _answer(args, voice_chat(args.audio), [args.audio])


def cmd_convert(args: argparse.Namespace) -> int:
    from .checkpoint import export_qwen2_audio, from_pretrained, save_pretrained

    model = from_pretrained(args.src)
    out = save_pretrained(model, args.out) if args.to == "qwenlike" else export_qwen2_audio(model, args.out)
    print(f"wrote {out} ({args.to})")
    return 0


def cmd_tiny(args: argparse.Namespace) -> int:
    from .tiny import build_tiny_audiolm

    out = build_tiny_audiolm(args.out, seed=args.seed, projector=args.projector)
    print(f"wrote tiny random model to {out}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .server import ServerConfig, serve

    _threads()
    model = _load_model(args.model, args.dtype)
    cfg = ServerConfig(
        model_name=args.model_name or Path(_model_path(args.model)).name, api_key=args.api_key or os.environ.get("QWENLIKE_API_KEY"),
        max_body_mb=args.max_body_mb, max_audio_seconds=args.max_audio_seconds, max_concurrent=args.max_concurrent,
        max_batch=args.max_batch, allow_local_files=args.allow_local_files,
    )  # fmt: skip
    print(f"qwenlike: serving {cfg.model_name} on http://{args.host}:{args.port} (OpenAI API under /v1, page at /)", file=sys.stderr)
    serve(model, cfg, host=args.host, port=args.port)
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    from . import audio as A
    from .chat import analysis
    from .generate import score_labels, score_multilabel

    labels = [x.strip() for x in (args.labels or "").split(",") if x.strip()]
    if args.task:
        from .tasks import load_tasks  # the task catalogue knows each closed-set task's labels

        sets = Path(args.corpus) / "label_sets.json" if args.corpus else None
        if sets is None:  # a trained model ships the label sets of the corpus it learnt from
            from .paths import resolve_model_ref

            here = resolve_model_ref(_model_path(args.model)) / "label_sets.json"
            sets = here if here.exists() else None
        tasks = load_tasks(label_sets=sets)
        if args.task not in tasks:
            raise UserError(f"unknown task {args.task!r}")
        task = tasks[args.task]
        if not task.closed:
            raise UserError(f"task {args.task!r} has open answers, no label set to score")
        labels = labels or list(task.labels or [])
        # a paraphrase that names no row field reads the same for every clip
        question = args.question or next((p.source for p in task.prompts if all(isinstance(x, str) for x in p.parts)), None)
        question = question or "What is this? Answer with one label."
    else:
        question = args.question or "What is this sound? Answer with one label."
    if len(labels) < 2:
        raise UserError("give at least two labels (--labels a,b,c) or a closed-set --task")
    waves = [A.load(a) for a in args.audio]
    _threads()
    model = _load_model(args.model, args.dtype)
    results = []
    for path, w in zip(args.audio, waves):
        if args.multi_label:
            probs = score_multilabel(model, [w], labels)
            chosen = [lab for lab, p in probs.items() if p >= args.threshold]
            results.append({"path": path, "probabilities": probs, "labels": chosen})
        else:
            s = score_labels(model, analysis([w], question), labels, clips=[w])
            top = s.top(args.top_k)
            results.append({"path": path, "label": top[0][0], "top": [{"label": l, "probability": p} for l, p in top],
                            "probabilities": dict(zip(s.labels, s.probs))})  # fmt: skip
    for r in results:
        if args.json:
            print(json.dumps(r, ensure_ascii=False))
        elif args.multi_label:
            print(f"{r['path']}\t" + ", ".join(f"{l}={p:.3f}" for l, p in sorted(r["probabilities"].items(), key=lambda x: -x[1])))
        else:
            print(f"{r['path']}\t" + ", ".join(f"{t['label']}={t['probability']:.3f}" for t in r["top"]))
    return 0


def cmd_caption(args: argparse.Namespace) -> int:
    from .caption import CaptionConfig, caption_files, walk

    files = walk(args.paths)
    if not files:
        raise UserError("no audio files found under the given paths")
    _threads()
    model = _load_model(args.model, args.dtype)
    cfg = CaptionConfig(prompt=args.prompt, batch_size=args.batch_size, max_new_tokens=args.max_new_tokens,
                        also=args.also, model_name=Path(_model_path(args.model)).name)  # fmt: skip
    counts = caption_files(model, files, args.out, cfg, progress=not args.quiet)
    print(f"qwenlike: {counts['captioned']} captioned, {counts['errors']} errors, {counts['skipped']} already done -> {args.out}", file=sys.stderr)
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from .assemble import build

    out = build(args.encoder, args.llm, args.out, projector=args.projector, dtype=args.dtype, stride=args.stride, seed=args.seed)
    print(f"wrote {out} (encoder {args.encoder} + {args.projector} projector + LM {args.llm}; the projector is untrained)")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluation import compare, load_suite, run_eval

    if args.compare:
        print(compare(args.compare))
        return 0
    if not args.suite or not args.out:
        raise UserError("give --suite SUITE --out DIR (or --compare A/scores.json B/scores.json)")
    suite = load_suite(args.suite)
    if args.data:
        suite.data = args.data
    _threads()
    model = _load_model(args.model, args.dtype)
    res = run_eval(model, suite, args.out, model_name=_model_path(args.model), limit=args.limit, corpus=args.corpus,
                   batch_size=args.batch_size, progress=not args.quiet)  # fmt: skip
    for name, s in sorted(res["tasks"].items()):
        ci = f"  ci95=[{s['ci95'][0]:.3g}, {s['ci95'][1]:.3g}]" if s.get("ci95") else ""
        print(f"{name:24s} " + "  ".join(f"{k}={v:.4g}" for k, v in s.items() if isinstance(v, (int, float)) and not isinstance(v, bool)) + ci)
    print(f"qwenlike: wrote {args.out}/predictions.jsonl, scores.json, report.md", file=sys.stderr)
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    from .probe import probe_tasks, table, write_json

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else None
    _threads()
    model = _load_model(args.model, args.dtype)
    say = None if args.quiet else (lambda line: print(f"probe: {line}", file=sys.stderr, flush=True))
    try:
        layers = [int(x) for x in args.layers.split(",") if x.strip()] if args.layers else None
    except ValueError:
        raise UserError(f"--layers takes encoder block numbers like 2,4,6, not {args.layers!r}") from None
    results = probe_tasks(model, args.corpus, tasks, limit=args.limit, progress=say, layers=layers)
    if args.out:
        write_json(results, args.out, {"model": _model_path(args.model), "corpus": args.corpus, "limit": args.limit, "layers": layers})
    print(json.dumps([r.__dict__ for r in results]) if args.json else table(results))
    return 0


def cmd_label_head(args: argparse.Namespace) -> int:
    from .label_head import fit_label_head, save_label_head
    from .paths import is_build_spec

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    try:
        blocks = [int(x) for x in args.blocks.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"--blocks takes encoder block numbers like 1,2,3,4, not {args.blocks!r}") from None
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise UserError(f"--out {out}: exists and is not empty (a fitted model is written as a new folder)")
    ref = args.model or os.environ.get(DEFAULT_MODEL_ENV) or "default"  # what _load_model loads, named as the delta's base
    base = ref if (ref == "default" or is_build_spec(ref)) else str(Path(_model_path(ref)).resolve())
    _threads()
    model = _load_model(args.model, None)
    say = None if args.quiet else (lambda line: print(f"label-head: {line}", file=sys.stderr, flush=True))
    report = fit_label_head(model, args.corpus, tasks, blocks=blocks, l2=args.l2, progress=say)
    save_label_head(model, out, base, report, args.corpus)
    print(json.dumps(report) if args.json else "\n".join(
        f"{r['task']:16s} labels={r['labels']} train={r['train_accuracy']:.3f} test={r.get('test_accuracy', float('nan')):.3f}" for r in report))
    print(f"qwenlike: wrote {out} (a delta over {base}: the label head's weights only)", file=sys.stderr)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .train import run

    run(args.rest)
    return 0


def cmd_corpus(args: argparse.Namespace) -> int:
    if args.action == "fingerprint":
        from .corpus.fingerprint import main as corpus_fingerprint

        return corpus_fingerprint(args.rest)
    from .corpus.build import main as corpus_build

    return corpus_build(args.rest)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qwenlike", description="Audio-understanding LLMs: ask, chat, convert, train, eval, serve.")
    sub = p.add_subparsers(dest="verb", required=True)

    a = sub.add_parser("ask", help="ask a question about one or more clips (analysis mode)")
    a.add_argument("audio", nargs="+", help="audio files (wav, flac, ogg, mp3)")
    a.add_argument("-q", "--question", required=True)
    _gen_args(a)
    a.set_defaults(func=cmd_ask)

    c = sub.add_parser("chat", help="send a clip as a spoken user turn (voice-chat mode)")
    c.add_argument("audio")
    _gen_args(c)
    c.set_defaults(func=cmd_chat)

    v = sub.add_parser("convert", help="import a Qwen2-Audio checkpoint or export to one")
    v.add_argument("src", help="a qwenlike or transformers Qwen2-Audio folder")
    v.add_argument("--to", choices=["qwenlike", "qwen2-audio"], required=True)
    v.add_argument("--out", required=True)
    v.set_defaults(func=cmd_convert)

    s = sub.add_parser("serve", help="OpenAI-compatible server (/v1/chat/completions with audio) and a web page")
    _model_args(s)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--api-key", default=None, help="require 'Authorization: Bearer KEY' (or set QWENLIKE_API_KEY)")
    s.add_argument("--model-name", default=None)
    s.add_argument("--max-body-mb", type=float, default=25.0)
    s.add_argument("--max-audio-seconds", type=float, default=600.0)
    s.add_argument("--max-concurrent", type=int, default=64)
    s.add_argument("--max-batch", type=int, default=8)
    s.add_argument("--allow-local-files", action="store_true", help="let clients name file:// audio on this machine")
    s.set_defaults(func=cmd_serve)

    k = sub.add_parser("classify", help="score labels by the model's likelihood: probabilities, not parsed text")
    k.add_argument("audio", nargs="+")
    k.add_argument("--labels", help="comma-separated labels")
    k.add_argument("--task", help="a closed-set task whose label set and prompt to use (e.g. speaker_gender, sound_event)")
    k.add_argument("--corpus", help="corpus build whose label_sets.json holds the task's labels (tasks with `labels: corpus`; "
                   "default: the model folder's label_sets.json, which the default model ships)")
    k.add_argument("-q", "--question", default=None)
    k.add_argument("--top-k", type=int, default=5)
    k.add_argument("--multi-label", action="store_true", help="independent per-label probabilities (yes/no log-odds)")
    k.add_argument("--threshold", type=float, default=0.5, help="multi-label decision threshold")
    _model_args(k)
    k.add_argument("--json", action="store_true")
    k.set_defaults(func=cmd_classify)

    cp = sub.add_parser("caption", help="caption folders/globs of audio into JSONL; resumable and shardable")
    cp.add_argument("paths", nargs="+", help="files, folders (walked) or globs")
    cp.add_argument("--out", required=True, help="JSONL file (appended to; a rerun skips what is done)")
    cp.add_argument("--prompt", default="Describe the audio in one sentence.")
    cp.add_argument("--batch-size", type=int, default=16)
    cp.add_argument("--max-new-tokens", type=int, default=48)
    cp.add_argument("--also", choices=["csv", "parquet"], default=None, help="also write FILE.csv or FILE.parquet")
    _model_args(cp)
    cp.add_argument("--quiet", action="store_true", help="no progress bar")
    cp.set_defaults(func=cmd_caption)

    bd = sub.add_parser("build", help="assemble an AudioLM (untrained adapter) from an encoder and an LM on disk")
    bd.add_argument("--encoder", required=True, help="whisper-base | a transformers/CTranslate2 Whisper folder | a package name")
    bd.add_argument("--llm", required=True, help="smollm2-135m-instruct | a transformers LM folder | a .gguf file | a package name")
    bd.add_argument("--projector", choices=["pool-linear", "stack-mlp"], default="stack-mlp")
    bd.add_argument("--stride", type=int, default=None, help="encoder frames per audio token (default 2 pool, 4 stack)")
    bd.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    bd.add_argument("--seed", type=int, default=0)
    bd.add_argument("--out", required=True)
    bd.set_defaults(func=cmd_build)

    ev = sub.add_parser("eval", help="run a benchmark suite: predictions.jsonl, scores.json, report.md (resumable)")
    ev.add_argument("--suite", help="smoke | core | airbench | mmau | a suite YAML")
    ev.add_argument("--out", help="output folder (a rerun resumes)")
    ev.add_argument("--corpus", help="offline corpus folder (qwenlike corpus build) for catalogue tasks")
    ev.add_argument("--data", help="benchmark JSON for adapter suites (AIR-Bench foundation, MMAU)")
    ev.add_argument("--limit", type=int, default=None, help="at most N items per task")
    ev.add_argument("--batch-size", type=int, default=8)
    _model_args(ev)
    ev.add_argument("--quiet", action="store_true")
    ev.add_argument("--compare", nargs="+", metavar="SCORES", help="print scores.json files side by side")
    ev.set_defaults(func=cmd_eval)

    pr = sub.add_parser("probe", help="linear probe on the frozen encoder's pooled features: what a closed-set task's data offers before any training")
    pr.add_argument("--corpus", required=True, help="offline corpus folder (qwenlike corpus build): train split fits, test split scores")
    pr.add_argument("--tasks", help="comma-separated closed-set tasks (default: every closed-set single-clip task)")
    pr.add_argument("--limit", type=int, default=None, help="at most N clips per split and task")
    pr.add_argument("--layers", help="probe these encoder blocks' outputs (1-based, e.g. 2,4,6) instead of the encoder's final output; each clip is encoded once")
    pr.add_argument("--out", help="also write the results as JSON")
    pr.add_argument("--json", action="store_true")
    pr.add_argument("--quiet", action="store_true")
    _model_args(pr)
    pr.set_defaults(func=cmd_probe)

    lh = sub.add_parser("label-head", help="fit a label head (one linear classifier per closed-set task on an encoder block) onto a model")
    lh.add_argument("--corpus", required=True, help="offline corpus folder: its train split fits, its test split scores the head alone")
    lh.add_argument("--tasks", required=True, help="comma-separated closed-set tasks, e.g. speaker_gender,language_id")
    lh.add_argument("--blocks", default="2", help="encoder blocks whose pooled frames the head reads, side by side (1-based, e.g. 1,2,3,4; default 2)")
    lh.add_argument("--l2", type=float, default=1e-3, help="L2 penalty of the logistic regressions")
    lh.add_argument("--out", required=True, help="new folder: a delta checkpoint over --model with the head")
    lh.add_argument("--json", action="store_true")
    lh.add_argument("--quiet", action="store_true")
    lh.add_argument("--model", help=f"model folder, 'default', or a build spec (default: the shipped default model)")
    lh.set_defaults(func=cmd_label_head)

    tr = sub.add_parser("train", help="train a recipe: qwenlike train CONFIG.yaml [--resume] [key=value ...]")
    tr.add_argument("rest", nargs=argparse.REMAINDER, help="CONFIG.yaml [--resume] [key=value ...] (see recipes/)")
    tr.set_defaults(func=cmd_train)

    co = sub.add_parser("corpus", help="offline corpus for all 30 tasks: qwenlike corpus build --out DIR [--tasks ...] [--per-task N] [--seed S]")
    co.add_argument("action", choices=["build", "fingerprint"],
                    help="build: make a corpus; fingerprint DIR [--expect FILE]: digests per task and split, compared with a recorded one")
    co.add_argument("rest", nargs=argparse.REMAINDER, help="options of `qwenlike corpus build --help` or `qwenlike corpus fingerprint --help`")
    co.set_defaults(func=cmd_corpus)

    t = sub.add_parser("tiny", help="write a tiny random model (for smoke tests; answers are noise)")
    t.add_argument("--out", required=True)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--projector", choices=["pool-linear", "stack-mlp"], default="stack-mlp")
    t.set_defaults(func=cmd_tiny)
    return p


def _run(fn: Callable[[], int]) -> int:
    try:
        return fn()
    except UserError as e:
        print(f"qwenlike: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("qwenlike: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug, not bad input: still one line, the traceback on request
        if os.environ.get("QWENLIKE_DEBUG"):
            raise
        msg = " ".join(str(e).split())[:300]
        print(f"qwenlike: internal error: {type(e).__name__}: {msg} (set QWENLIKE_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is ever fetched from a hub
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    args = build_parser().parse_args(argv)
    return _run(lambda: args.func(args))


if __name__ == "__main__":
    sys.exit(main())
