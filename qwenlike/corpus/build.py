"""`qwenlike corpus build`: generate the offline multi-task corpus as a datasets DatasetDict.

    qwenlike corpus build --out DIR [--tasks t1,t2|all] [--per-task N] [--seed S] [--voices english|multilingual]

Layout while building: DIR/.work/config.json and one `<task>/<split>/<index>.json` (+ .wav) per
item, the JSON written last (atomically) as the item's completion marker, so a killed build
rerun with the same options picks up where it stopped. Assembly sorts rows by (task, index),
so the result does not depend on worker order: the same seed gives byte-identical files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

from qwenlike.errors import UserError

from .common import SPLITS, dumps

# 2: a test item no longer shares a recording or a caption with train under another name
# (common.partition's `content`); train and validation items are as version 1 made them.
# 3: a language-id clip is one speaker's run of utterances, 3-6 s of speech, not one word or caption.
# 4: MBROLA voices speak through espeak-ng --pho | mbrola (speech._mbrola), peak-normalised: the
# same samples on a busy CPU, where espeak-ng's own pipe to mbrola lost some.
CORPUS_VERSION = 4
DEFAULT_SIZES = (20, 5, 10)  # train, validation, test per task: the default small build
SILENT_RMS = 10 ** (-40 / 20)  # below -40 dBFS after level normalisation: nothing audible was made


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qwenlike corpus build", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output folder (datasets.load_from_disk opens it)")
    p.add_argument("--tasks", default="all", help="comma-separated task names, or 'all' (default)")
    p.add_argument("--per-task", type=int, default=None, metavar="N",
                   help="train items per task; validation gets ceil(N/4), test ceil(N/2) (default 20/5/10)")
    p.add_argument("--sizes", default=None, metavar="TRAIN,VAL,TEST", help="items per split for every task")
    p.add_argument("--task-size", action="append", default=[], metavar="TASK=TRAIN,VAL,TEST",
                   help="items per split for one task (repeatable)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--voices", choices=["english", "multilingual"], default="english",
                   help="TTS voices of speaker_gender and language_id: English voices only (default; the default "
                        "model's corpus), or also MBROLA's voices of 12 more languages (scripts/install_assets.sh)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="processes (default 2)")
    p.add_argument("--keep-work", action="store_true", help="keep DIR/.work after assembly")
    p.add_argument("--overwrite", action="store_true", help="discard an unfinished build made with other options")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _sizes(text: str, what: str) -> tuple[int, int, int]:
    try:
        parts = tuple(int(x) for x in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or min(parts) < 0 or parts[0] + parts[2] == 0:
        raise UserError(f"{what}: expected TRAIN,VAL,TEST as three non-negative integers, got {text!r}")
    return parts  # type: ignore[return-value]


def resolve_plan(args: argparse.Namespace) -> dict:
    """Validated build options as a JSON-able dict (also the resume key)."""
    from .catalog import BY_NAME, TASKS

    if args.tasks.strip() == "all":
        tasks = [t.name for t in TASKS]
    else:
        tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
        bad = [t for t in tasks if t not in BY_NAME]
        if bad or not tasks:
            raise UserError(f"unknown task(s) {', '.join(bad) or '(none)'}; known: {', '.join(BY_NAME)}")
        tasks = [t.name for t in TASKS if t.name in tasks]  # catalogue order, no duplicates
    if args.per_task is not None and args.sizes:
        raise UserError("give --per-task or --sizes, not both")
    if args.per_task is not None:
        if args.per_task < 1:
            raise UserError(f"--per-task must be >= 1, got {args.per_task}")
        n = args.per_task
        default = (n, -(-n // 4), -(-n // 2))
    elif args.sizes:
        default = _sizes(args.sizes, "--sizes")
    else:
        default = DEFAULT_SIZES
    sizes = {t: list(default) for t in tasks}
    for spec in args.task_size:
        name, _, val = spec.partition("=")
        if name not in sizes:
            raise UserError(f"--task-size {spec!r}: {name!r} is not one of the tasks being built")
        sizes[name] = list(_sizes(val, f"--task-size {name}"))
    if args.workers < 1:
        raise UserError(f"--workers must be >= 1, got {args.workers}")
    plan = {"version": CORPUS_VERSION, "seed": int(args.seed), "tasks": tasks, "sizes": sizes}
    if args.voices != "english":  # absent for the default, so earlier builds' options still match
        plan["voices"] = args.voices
    return plan


# ---------------------------------------------------------------------------------------------
# one item (runs in a worker process)
# ---------------------------------------------------------------------------------------------
def item_id(task: str, split: str, index: int) -> str:
    return f"{task}-{split}-{index:05d}"


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def make_item(job: tuple[str, str, int, int, str, str]) -> tuple[str, str, int, str]:
    """Generate, check and store one item; returns (task, split, index, "" or a skip reason)."""
    task, split, index, seed, work, voices = job
    from .catalog import BY_NAME
    from .common import SourceMissing, normalise, rms, rng_for, set_build_seed, set_build_voices, wav_bytes

    set_build_seed(seed)
    set_build_voices(voices)
    spec = BY_NAME[task]
    folder = Path(work) / task / split
    marker = folder / f"{index:05d}.json"
    if marker.exists():
        return task, split, index, ""
    folder.mkdir(parents=True, exist_ok=True)
    last: Exception | None = None
    for attempt in range(4):
        # Attempt 0 uses the item's own stream; a retry (a draw the generator rejected) another one.
        rng = rng_for(seed, task, split, index) if attempt == 0 else rng_for(seed, task, split, index, attempt)
        try:
            ex = spec.gen(split, index, rng)
        except SourceMissing as e:
            return task, split, index, str(e) or "source missing"
        except (RuntimeError, ValueError, IndexError) as e:
            last = e
            continue
        level = rng_for(seed, task, split, index, "level")
        audio = normalise(ex.audio, level)
        dur = len(audio) / 16000
        lo, hi = spec.duration
        if not lo <= dur <= hi:
            last = RuntimeError(f"duration {dur:.2f}s outside {lo}-{hi}s")
            continue
        if min(rms(audio), rms(ex.audio2) if ex.audio2 is not None else 1.0) < SILENT_RMS:
            last = RuntimeError("silent clip")  # e.g. a note outside a soundfont preset's key range
            continue
        _atomic_write(folder / f"{index:05d}.wav", wav_bytes(audio))
        if ex.audio2 is not None:
            _atomic_write(folder / f"{index:05d}.b.wav", wav_bytes(normalise(ex.audio2, level)))
        row = {
            "id": item_id(task, split, index), "task": task, "answer": ex.answer, "label": ex.label,
            "text": ex.text, "language": ex.language, "voice": ex.voice, "source": ex.source,
            "group": "|".join(sorted(set(ex.group))), "duration": round(dur, 4), "meta": dumps(ex.meta),
            "audio2": ex.audio2 is not None,
        }
        _atomic_write(marker, json.dumps(row, sort_keys=True, ensure_ascii=False).encode("utf-8"))
        return task, split, index, ""
    raise RuntimeError(f"{item_id(task, split, index)}: generation failed 4 times: {last}")


def _prewarm() -> None:
    """Scan the installed sources once in the parent (pure Python tables, safe to fork)."""
    from . import recordings, sounds, speech, tasks_music, tasks_sound, tasks_speech, text

    text.sentences()
    speech.english_voices()
    speech.language_voices()
    speech.world_voices()
    for f in (recordings.ktuberling_words, recordings.klettres_sounds, recordings.tuxpaint_stamps,
              sounds.events, sounds.vocal_sounds, sounds.beds, sounds.instruments):
        f()
    for f in (tasks_speech.voice_parts, tasks_speech.world_voice_parts, tasks_speech.sentence_parts,
              tasks_speech.asr_train_sentences, tasks_speech.english_word_recordings,
              tasks_speech.word_recording_parts, tasks_speech.stamp_parts, tasks_sound.event_parts,
              tasks_sound.vocal_parts, tasks_sound.bed_parts, tasks_music.recorded_instrument_parts):
        try:
            f()
        except Exception:  # a missing source is reported per item by the workers
            pass
    for kind in ("style", "composer"):
        try:
            tasks_music._work_parts(kind)
        except Exception:
            pass


def _init_worker() -> None:
    import warnings

    warnings.filterwarnings("ignore")
    if "torch" in sys.modules:  # inherited through fork (e.g. under pytest): one thread per worker
        sys.modules["torch"].set_num_threads(1)


# ---------------------------------------------------------------------------------------------
# assembly
# ---------------------------------------------------------------------------------------------
def features():
    from datasets import Audio, Features, Value

    s = Value("string")
    return Features({
        "id": s, "task": s, "audio": Audio(sampling_rate=16000), "audio2": Audio(sampling_rate=16000),
        "answer": s, "label": s, "text": s, "language": s, "voice": s, "source": s, "group": s,
        "duration": Value("float64"), "meta": s,
    })


COLUMNS = ("id", "task", "audio", "audio2", "answer", "label", "text", "language", "voice", "source", "group",
           "duration", "meta")


def iter_rows(work: Path, plan: dict, split: str):
    """Rows of one split in catalogue order, audio as WAV bytes, one at a time."""
    for task in plan["tasks"]:
        n = plan["sizes"][task][SPLITS.index(split)]
        for i in range(n):
            marker = work / task / split / f"{i:05d}.json"
            if not marker.exists():
                continue  # an item whose source is missing (reported as a skipped task)
            row = json.loads(marker.read_text(encoding="utf-8"))
            wav = (work / task / split / f"{i:05d}.wav").read_bytes()
            row["audio"] = {"bytes": wav, "path": f"{row['id']}.wav"}
            has2 = row.pop("audio2")
            row["audio2"] = ({"bytes": (work / task / split / f"{i:05d}.b.wav").read_bytes(),
                              "path": f"{row['id']}.b.wav"} if has2 else None)
            yield row


def collect_rows(work: Path, plan: dict, split: str) -> list[dict]:
    """All rows of one split in memory (small builds and tests)."""
    return list(iter_rows(work, plan, split))


def _light(row: dict) -> dict:
    """A row without its audio bytes (hashes kept for the leak check): what the card needs."""
    from .checks import audio_hash

    out = {k: v for k, v in row.items() if k not in ("audio", "audio2")}
    out["audio_sha1"] = audio_hash(row, "audio")
    out["audio2_sha1"] = audio_hash(row, "audio2")
    return out


def _write_split(work: Path, plan: dict, split: str, arrow_path: Path) -> tuple[list[dict], list[str], str]:
    """Stream one split into an Arrow file in batches (memory stays bounded for large builds);
    returns the light rows, the per-clip problems and a content fingerprint."""
    import pyarrow as pa
    from datasets.arrow_writer import ArrowWriter

    from .checks import audio_problems

    feats = features()
    light, problems, batch = [], [], []
    h = hashlib.sha256()
    writer = ArrowWriter(features=feats, path=str(arrow_path))

    def flush() -> None:
        if batch:
            writer.write_table(pa.Table.from_pydict({c: [r[c] for r in batch] for c in COLUMNS}, schema=feats.arrow_schema))
            batch.clear()

    for row in iter_rows(work, plan, split):
        problems += audio_problems({split: [row]})
        lr = _light(row)
        h.update(f"{row['id']}:{lr['audio_sha1']}:{lr['audio2_sha1']}".encode())
        light.append(lr)
        batch.append(row)
        if len(batch) >= 256:
            flush()
    flush()
    writer.finalize()
    # A content fingerprint instead of datasets' random one: state.json must be reproducible too.
    return light, problems, h.hexdigest()[:16]


def _shards(ds) -> int:
    """Shards of about 500 MB, as datasets would choose."""
    return int(-(-ds.data.nbytes // (500 << 20)))


def assemble(out: Path, work: Path, plan: dict) -> dict[str, list[dict]]:
    """Write the DatasetDict, label_sets.json, README.md (data card) and build.json into `out`.

    Returns the rows per split without audio bytes (with `audio_sha1`), as the card uses them.
    """
    from datasets import Dataset, DatasetDict, NamedSplit

    from . import card, checks
    from .catalog import BY_NAME

    tmp = out / ".assemble"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    rows: dict[str, list[dict]] = {}
    parts = {}
    problems: list[str] = []
    for s in SPLITS:
        path = work / f"assemble-{s}.arrow"
        rows[s], probs, fp = _write_split(work, plan, s, path)
        problems += probs
        ds = Dataset.from_file(str(path), split=NamedSplit(s))
        ds._fingerprint = fp
        parts[s] = ds
    problems = checks.leaks(rows) + problems
    if problems:
        raise RuntimeError("corpus checks failed: " + "; ".join(problems[:5]))
    from datasets.utils import logging as ds_logging

    ds_logging.disable_progress_bar()  # our own bar already showed the work; a save is a blink
    try:
        # One shard at least: datasets writes no file for an empty split otherwise, and then
        # cannot load it back (e.g. a --sizes 0,0,40 test-only build).
        DatasetDict(parts).save_to_disk(str(tmp / "dd"), num_shards={s: max(1, _shards(parts[s])) for s in SPLITS})
    finally:
        ds_logging.enable_progress_bar()
    for name in sorted(os.listdir(tmp / "dd")):
        dest = out / name
        if dest.is_dir():
            shutil.rmtree(dest)
        os.replace(tmp / "dd" / name, dest)
    shutil.rmtree(tmp)
    label_sets = {t: list(BY_NAME[t].labels) for t in plan["tasks"] if BY_NAME[t].labels}
    (out / "label_sets.json").write_text(json.dumps(label_sets, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "README.md").write_text(card.render(rows, plan), encoding="utf-8")
    (out / "build.json").write_text(json.dumps(plan, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return rows


# ---------------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------------
def _warn_missing_sources(voices: str = "english") -> None:
    """One warning line per missing source package, before any work starts."""
    from . import music, recordings, sounds, speech
    from .common import warn_once

    for eng, ok in speech.engines().items():
        if not ok:
            warn_once(eng, f"TTS engine {eng} is not installed; its voices are skipped (run scripts/install_assets.sh)")
    checks = {
        "ktuberling-data": recordings.KTUBERLING, "klettres-data": recordings.KLETTRES,
        "tuxpaint-stamps-default": recordings.TUXPAINT, "wesnoth-1.16-data": sounds.WESNOTH,
        "hedgewars-data": sounds.HEDGEWARS, "gcompris-qt-data": sounds.GCOMPRIS, "hydrogen-drumkits": sounds.HYDROGEN,
    }
    for pkg, path in checks.items():
        if not Path(path).is_dir():
            warn_once(pkg, f"{pkg} is not installed; its recordings are skipped")
    if voices == "multilingual" and len(speech.world_voices()) < len(speech.MBROLA_WORLD):
        warn_once("mbrola-world", f"--voices multilingual: {len(speech.world_voices())} of the "
                  f"{len(speech.MBROLA_WORLD)} MBROLA voices of other languages are installed (scripts/install_assets.sh)")
    if not music.available():
        warn_once("fluidsynth", "fluidsynth/pyfluidsynth or the GM soundfont is missing; rendered music is skipped")
    if not music.works("bach"):
        warn_once("music21", "music21 is not installed; corpus music (style, composer) is skipped")


def print_counts(rows: dict[str, list[dict]], plan: dict, file=sys.stdout) -> None:
    print(f"{'task':<24}{'train':>7}{'validation':>12}{'test':>6}", file=file)
    for t in plan["tasks"]:
        c = [sum(1 for r in rows[s] if r["task"] == t) for s in SPLITS]
        print(f"{t:<24}{c[0]:>7}{c[1]:>12}{c[2]:>6}", file=file)
    tot = [len(rows[s]) for s in SPLITS]
    print(f"{'total':<24}{tot[0]:>7}{tot[1]:>12}{tot[2]:>6}", file=file)


def build(plan: dict, out: Path, workers: int = 2, keep_work: bool = False, overwrite: bool = False,
          quiet: bool = False) -> dict[str, list[dict]]:
    """Build (or resume) the corpus described by `plan` into `out`; returns the rows per split."""
    out.mkdir(parents=True, exist_ok=True)
    work = out / ".work"
    cfg = work / "config.json"
    key = json.dumps(plan, sort_keys=True)
    done = out / "build.json"
    if done.exists() and json.dumps(json.loads(done.read_text()), sort_keys=True) == key and not work.exists():
        print(f"{out}: already built with these options", file=sys.stderr)
        from datasets import load_from_disk

        dd = load_from_disk(str(out))
        return {s: [{k: v for k, v in r.items() if k not in ("audio", "audio2")}
                    for r in dd[s].remove_columns(["audio", "audio2"])] for s in SPLITS}
    if done.exists() and not cfg.exists() and json.dumps(json.loads(done.read_text()), sort_keys=True) != key:
        if not overwrite:
            raise UserError(f"{out} holds a finished build made with other options; use another --out, "
                            f"or add --overwrite to replace it")
        for name in ("train", "validation", "test", "dataset_dict.json", "build.json", "README.md", "label_sets.json"):
            p = out / name
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    if cfg.exists() and cfg.read_text() != key:
        if not overwrite:
            raise UserError(f"{out} holds an unfinished build with other options; rerun with the same options, "
                            f"or add --overwrite to discard it")
        shutil.rmtree(work)
    elif not cfg.exists() and any(p.name not in (".work",) for p in out.iterdir()) and not done.exists():
        raise UserError(f"{out} is not empty and holds no corpus build; choose an empty or new folder")
    work.mkdir(parents=True, exist_ok=True)
    if not cfg.exists():
        _atomic_write(cfg, key.encode())
    _warn_missing_sources(plan.get("voices", "english"))

    voices = plan.get("voices", "english")
    jobs = [(t, s, i, plan["seed"], str(work), voices) for t in plan["tasks"] for si, s in enumerate(SPLITS)
            for i in range(plan["sizes"][t][si])]
    todo = [j for j in jobs if not (work / j[0] / j[1] / f"{j[2]:05d}.json").exists()]
    # Spread tasks over the run so the progress bar moves evenly and both workers share music and speech.
    todo.sort(key=lambda j: (j[2], j[1], j[0]))
    skipped: dict[str, str] = {}
    t0 = time.time()
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc="corpus", unit="item", disable=quiet,
               file=sys.stderr, dynamic_ncols=True)
    if workers <= 1 or len(todo) < 4:
        for j in todo:
            r = make_item(j)
            if r[3]:
                skipped.setdefault(r[0], r[3])
            bar.update(1)
    else:
        import multiprocessing as mp

        _prewarm()
        # fork: workers inherit the scanned source tables instead of rescanning them (~5 s each).
        ctx = mp.get_context("fork")
        with ctx.Pool(workers, initializer=_init_worker) as pool:
            for r in pool.imap_unordered(make_item, todo, chunksize=1):
                if r[3]:
                    skipped.setdefault(r[0], r[3])
                bar.update(1)
    bar.close()
    for task, why in sorted(skipped.items()):
        print(f"warning: task {task} skipped: {why}", file=sys.stderr)
    rows = assemble(out, work, plan)
    if not keep_work:
        shutil.rmtree(work)
    if not quiet:
        print(f"built {sum(len(v) for v in rows.values())} items in {time.time() - t0:.1f}s -> {out}", file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Entry point for `qwenlike corpus build`; returns the exit status."""
    args = _parser().parse_args(argv)
    plan = resolve_plan(args)
    # One BLAS/OpenMP thread per worker: two workers already fill the two cores.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    rows = build(plan, Path(args.out), workers=args.workers, keep_work=args.keep_work, overwrite=args.overwrite,
                 quiet=args.quiet)
    print_counts(rows, plan)
    return 0


if __name__ == "__main__":  # python -m qwenlike.corpus.build --out DIR
    try:
        sys.exit(main(sys.argv[1:]))
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
