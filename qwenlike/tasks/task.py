"""Task definitions: one YAML file -> a Task that turns corpus rows into conversations and scores answers.

Floor 3 (imports chat's message format, errors). A task file (see task_mixture/README.md):

    name: speaker_gender            # [a-z0-9_]+
    family: speech                  # speech | sound | music | chat | any word for user tasks
    mode: analysis                  # analysis (audio + text instruction) | voice_chat (audio only)
    description: ...
    sources: [{corpus: speaker_gender}]
    audio: [audio]                  # row fields that are clips, in order ([audio, audio2] for pairs)
    meta: []                        # meta keys the templates read (checked at load)
    answer: "{answer}"              # the assistant's reply, a template over the row
    answer_format: one word, male or female
    labels: [female, male]          # closed set; `corpus` = the corpus's label_sets.json; omit if open
    metrics: [accuracy]
    tags: "<|startofanalysis|><|{language|tag}|><|gender|><|en|><|notimestamps|><|wo_itn|>"
    prompts: [at least 5 natural paraphrases]
    system: optional system prompt

Three prompt forms build the user turn of an analysis task:
  tags     the Qwen-Audio tag sequence as the text instruction;
  natural  one paraphrase, chosen by the sample's seed;
  spoken   the paraphrase read by a TTS (`speak(text) -> audio`) as an extra clip, plus a short
           task-free text cue, so the task is told by speech only but the turn stays analysis mode.
A voice_chat task's user turn is the clip alone in every form.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import yaml

from ..errors import UserError
from .sources import (
    AUDIO_FIELDS,
    LOCAL_KINDS,
    SOURCE_KEYS,
    SOURCE_KINDS,
    TEXT_FIELDS,
    Chain,
    ChainStream,
    RowView,
    SourceSpec,
    normalise_row,
)
from .template import Template, TemplateError

FORMS = ("tags", "natural", "spoken")
MODES = ("analysis", "voice_chat")
TASK_KEYS = {"name", "family", "mode", "description", "sources", "audio", "meta", "answer", "answer_format",
             "labels", "metrics", "tags", "prompts", "system", "notes"}  # fmt: skip
REQUIRED = ("name", "family", "mode", "sources", "answer", "metrics")
MIN_PROMPTS = 5
# the text that stays in a spoken-instruction turn: it names no task, only where the request is
SPOKEN_CUES = (
    "Audio {n} is my spoken request about the recording. Please answer it.",
    "Listen to my question in Audio {n} and answer it about the recording.",
    "My instruction is spoken in Audio {n}.",
    "Please do what I ask in Audio {n}.",
    "Answer the spoken question in Audio {n}.",
)
Speaker = Callable[[str], Any]  # text -> audio payload (wav bytes, path or 16 kHz array)


def sample_seed(*keys: object) -> int:
    """A 63-bit seed that depends only on its keys (stable across processes, unlike hash())."""
    return int.from_bytes(hashlib.sha1("\x1f".join(map(str, keys)).encode()).digest()[:8], "big") >> 1


@dataclass
class Task:
    """A validated task definition. `conversation(row, form)` serves training AND evaluation."""

    name: str
    path: Path
    family: str
    mode: str
    description: str
    sources: list[SourceSpec]
    audio: tuple[str, ...]
    meta: tuple[str, ...]
    answer: Template
    answer_format: str
    metrics: tuple[str, ...]
    tags: Template | None
    prompts: tuple[Template, ...]
    system: str | None = None
    metric_inputs: dict[str, str] = field(default_factory=dict)  # metric -> text transform (scoring.TRANSFORMS)
    labels_from_corpus: bool = False
    _labels: tuple[str, ...] | None = field(default=None, repr=False)

    # ---- closed sets ------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._labels is not None or self.labels_from_corpus

    @property
    def labels(self) -> tuple[str, ...] | None:
        """The closed label set (in the order the file or label_sets.json gives), None for an open task."""
        if self._labels is None and self.labels_from_corpus:
            raise UserError(
                f"{self.path}: labels come from the corpus's label_sets.json; load the tasks with "
                "label_sets=DIR/label_sets.json (or call task.set_labels)"
            )
        return self._labels

    def set_labels(self, labels: Sequence[str]) -> None:
        labels = tuple(str(x) for x in labels)
        if not labels or len(set(labels)) != len(labels):
            raise UserError(f"{self.path}: label set must be non-empty and without duplicates, got {list(labels)[:10]}")
        self._labels = labels

    def parse_label(self, prediction: str) -> str:
        """The label a free-text prediction names: an exact (case/punctuation-insensitive) match,
        else the longest label the prediction starts with, else the prediction itself."""
        p = _norm(prediction)
        by_norm = {_norm(l): l for l in self.labels or ()}
        if p in by_norm:
            return by_norm[p]
        starts = [l for n, l in by_norm.items() if n and (p.startswith(n + " ") or p.startswith(n + ","))]
        return max(starts, key=len) if starts else prediction.strip()

    def classify_prompt(self) -> str:
        """A row-independent instruction for classifying a user's clip (CLI `classify --task`):
        the first natural prompt that reads no row field, else the tag sequence if it reads none."""
        for p in self.prompts:
            if not p.refs:
                return p.render({}, {})
        if self.tags is not None and not self.tags.refs:
            return self.tags.render({}, {})
        raise UserError(f"{self.path}: every prompt of {self.name!r} reads row fields; pass a question")

    # ---- rows -> conversations --------------------------------------------------------------
    def row(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Normalise a raw corpus-schema row (idempotent: a normalised row comes back equal)."""
        return normalise_row(raw, self.name)

    def _fill(self, tpl: Template, row: Mapping[str, Any], what: str) -> str:
        try:
            return tpl.render(row, row["meta"])
        except KeyError as e:
            raise UserError(
                f"{self.path}: row {row.get('id')!r} has no value for {{{e.args[0]}}} used by {what}"
            ) from None

    def reference(self, row: Mapping[str, Any]) -> str:
        """The assistant's answer for a row (the training target and the evaluation reference)."""
        return self._fill(self.answer, self.row(row), "answer")

    def label_of(self, row: Mapping[str, Any]) -> str:
        """The closed-set label a row is scored on: its `label` column, else its answer (note_analysis
        answers "C4, velocity 80" and is scored on "C4"). Scoring, the probe and the label head share it."""
        row = self.row(row)
        return str(row["label"] or self.reference(row))

    def instruction(self, row: Mapping[str, Any], form: str, seed: int | None = None) -> str:
        """The text instruction of a prompt form ('' for voice chat)."""
        return self._instruction(self.row(row), form, seed)

    def _instruction(self, row: Mapping[str, Any], form: str, seed: int | None) -> str:
        if self.mode == "voice_chat":
            return ""
        if form == "tags":
            return self._fill(self.tags, row, "tags")  # type: ignore[arg-type]
        if form in ("natural", "spoken"):
            seed = sample_seed(self.name, row["id"]) if seed is None else seed
            k = int(np.random.default_rng([seed & 0xFFFFFFFF, seed >> 32, 1]).integers(len(self.prompts)))
            return self._fill(self.prompts[k], row, f"prompts[{k}]")
        raise UserError(f"unknown prompt form {form!r} (one of {', '.join(FORMS)})")

    def conversation(
        self,
        row: Mapping[str, Any],
        form: str = "natural",
        seed: int | None = None,
        speak: Speaker | None = None,
        with_answer: bool = True,
        system: str | None = None,
    ) -> list[dict[str, Any]]:
        """The messages of one sample (chat.py format). `with_answer=False` gives the prompt for
        generation and label scoring. `speak` is required for the spoken form."""
        return self.conversation_of_row(self.row(row), form, seed, speak, with_answer, system)

    def conversation_of_row(
        self,
        row: Mapping[str, Any],
        form: str = "natural",
        seed: int | None = None,
        speak: Speaker | None = None,
        with_answer: bool = True,
        system: str | None = None,
    ) -> list[dict[str, Any]]:
        """`conversation` for a row already normalised by `Task.row` (the sampler's hot path)."""
        clips = []
        for f in self.audio:
            if row.get(f) is None:
                raise UserError(f"{self.path}: row {row.get('id')!r} has no {f}")
            clips.append({"type": "audio", "audio": row[f]})
        content: list[dict[str, Any]] = list(clips)
        if self.mode == "analysis":
            text = self._instruction(row, form, seed)
            if form == "spoken":
                if speak is None:
                    raise UserError("the spoken prompt form needs a TTS: pass speak= (e.g. qwenlike.tasks.CachedTTS(qwenlike.tasks.EspeakTTS()))")
                content.append({"type": "audio", "audio": speak(text)})
                s = sample_seed(self.name, row["id"]) if seed is None else seed
                text = SPOKEN_CUES[(s >> 8) % len(SPOKEN_CUES)].format(n=len(content))
            content.append({"type": "text", "text": text})
        elif form not in FORMS + ("voice",):
            raise UserError(f"unknown prompt form {form!r} (one of {', '.join(FORMS)})")
        sys_prompt = system if system is not None else self.system
        msgs: list[dict[str, Any]] = [{"role": "system", "content": sys_prompt}] if sys_prompt else []
        msgs.append({"role": "user", "content": content})
        if with_answer:
            msgs.append({"role": "assistant", "content": self._fill(self.answer, row, "answer")})
        return msgs

    # ---- data ---------------------------------------------------------------------------------
    def open(self, split: str = "train", corpus: str | Path | None = None, kinds: Sequence[str] = LOCAL_KINDS) -> Any:
        """This task's rows of `split` from its sources of the given kinds: a map-style view when
        every source is map-style, else a stream. Raises UserError when no source has rows."""
        parts = []
        for s in self.sources:
            if s.kind in kinds:
                got = s.open(self.name, split, corpus)
                if got is not None and (not isinstance(got, RowView) or len(got)):
                    parts.append(got)
        if not parts:
            raise UserError(f"{self.path}: no rows for split {split!r} from sources of kind {', '.join(kinds)}")
        if all(isinstance(p, RowView) for p in parts):
            return parts[0] if len(parts) == 1 else Chain(parts)
        return ChainStream(parts)

    # ---- evaluation -----------------------------------------------------------------------------
    def score(self, predictions: Sequence[str], rows: Sequence[Mapping[str, Any]], metrics: Sequence[str] | None = None) -> dict[str, float]:
        """Score predictions against the rows' references with the task's metrics, or only the
        named ones (see scoring.py)."""
        from .scoring import score_task

        return score_task(self, predictions, rows, metrics)


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s#+/-]", " ", str(s).lower())).strip()


# ------------------------------------------------------------------------------------------------
# loading and validation
# ------------------------------------------------------------------------------------------------
def _fail(path: Path, msg: str) -> UserError:
    return UserError(f"{path}: {msg}")


def _str_list(path: Path, data: Mapping[str, Any], key: str, default: Sequence[str] = ()) -> tuple[str, ...]:
    v = data.get(key, list(default))
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
        raise _fail(path, f"{key} must be a list of non-empty strings, got {v!r}")
    return tuple(v)


def _metrics(path: Path, raw: Any) -> tuple[tuple[str, ...], dict[str, str]]:
    """`[wer, {wer: strip_timestamps}]`: a name, or a name with the transform both sides get first."""
    from .scoring import TRANSFORMS

    if not isinstance(raw, list) or not raw:
        raise _fail(path, f"metrics must be a non-empty list of metric names, got {raw!r}")
    names, inputs = [], {}
    for m in raw:
        if isinstance(m, dict) and len(m) == 1:
            ((m, tf),) = m.items()
            if tf not in TRANSFORMS:
                raise _fail(path, f"metric {m!r}: unknown input transform {tf!r} (known: {', '.join(TRANSFORMS)})")
            inputs[str(m)] = tf
        if not isinstance(m, str) or not m:
            raise _fail(path, f"metrics entries are names or {{name: transform}}, got {m!r}")
        names.append(m)
    return tuple(names), inputs


def _template(path: Path, where: str, src: Any, fields: set[str]) -> Template:
    try:
        t = Template(src)
    except TemplateError as e:
        raise _fail(path, f"{where}: {e}") from None
    for r in t.refs:
        if r.key not in fields:
            hint = f"declare it under meta: [{r.name}]" if r.meta else f"row fields are {', '.join(TEXT_FIELDS)}"
            raise _fail(path, f"{where} names a missing field {{{r.key}}} ({hint})")
    return t


def _sources(path: Path, raw: Any, name: str, meta: tuple[str, ...]) -> list[SourceSpec]:
    if not isinstance(raw, list) or not raw:
        raise _fail(path, "sources must be a non-empty list like [{corpus: TASK}] or [{csv: {path: ...}}]")
    out = []
    targets = set(TEXT_FIELDS) | set(AUDIO_FIELDS) | {"meta"} | {f"meta.{m}" for m in meta}
    for i, s in enumerate(raw):
        if not isinstance(s, dict) or len(s) != 1 or next(iter(s)) not in SOURCE_KINDS:
            raise _fail(path, f"sources[{i}] must have exactly one key of {', '.join(SOURCE_KINDS)}, got {s!r}")
        kind, opts = next(iter(s.items()))
        if kind == "corpus":
            opts = {"task": opts if opts else name}
            if not isinstance(opts["task"], str):
                raise _fail(path, f"sources[{i}]: corpus takes a task name, got {opts['task']!r}")
        else:
            if isinstance(opts, str):
                opts = {"path": opts}
            if not isinstance(opts, dict) or "path" not in opts:
                raise _fail(path, f"sources[{i}]: {kind} needs a mapping with a path, got {opts!r}")
            unknown = set(opts) - SOURCE_KEYS[kind]
            if unknown:
                raise _fail(
                    path,
                    f"sources[{i}]: unknown key(s) {sorted(unknown)} for {kind} (known: {sorted(SOURCE_KEYS[kind])})",
                )
        cols = opts.get("columns") or {}
        defaults = opts.get("defaults") or {}
        for what, m in (("columns", cols), ("defaults", defaults)):
            if not isinstance(m, dict):
                raise _fail(path, f"sources[{i}].{what} must be a mapping, got {m!r}")
            bad = [k for k in m if k not in targets]
            if bad:
                raise _fail(
                    path,
                    f"sources[{i}].{what}: {bad} are not schema fields or declared meta keys ({', '.join(sorted(targets))})",
                )
        out.append(SourceSpec(kind, dict(opts), path.parent, {k: str(v) for k, v in cols.items()}, dict(defaults)))
    return out


def load_task(path: str | Path, label_sets: Mapping[str, Sequence[str]] | None = None) -> Task:
    """Load and validate one task file (a path, or the name of a catalogue task); every problem is
    a UserError that names the file."""
    path = Path(path)
    if not path.exists() and re.fullmatch(r"[a-z0-9_]+", str(path)):
        path = default_tasks_dir() / f"{path}.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: task file not found") from None
    except yaml.YAMLError as e:
        raise _fail(path, f"not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise _fail(path, "a task file is a YAML mapping")
    unknown = set(data) - TASK_KEYS
    if unknown:
        raise _fail(path, f"unknown key(s) {sorted(unknown)} (known: {', '.join(sorted(TASK_KEYS))})")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise _fail(path, f"missing key(s) {missing}")
    name = data["name"]
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]+", name):
        raise _fail(path, f"name must match [a-z0-9_]+, got {name!r}")
    mode = data["mode"]
    if mode not in MODES:
        raise _fail(path, f"mode must be one of {MODES}, got {mode!r}")
    meta = _str_list(path, data, "meta")
    audio = _str_list(path, data, "audio", ["audio"])
    if audio not in (("audio",), ("audio", "audio2")):
        raise _fail(path, f"audio must be [audio] or [audio, audio2], got {list(audio)}")
    fields = set(TEXT_FIELDS) | {f"meta.{m}" for m in meta}
    metrics, metric_inputs = _metrics(path, data["metrics"])
    tags, prompts = None, ()
    if mode == "analysis":
        if "tags" not in data:
            raise _fail(path, "an analysis task needs a tags sequence")
        tags = _template(path, "tags", data["tags"], fields)
        raw_prompts = data.get("prompts")
        if not isinstance(raw_prompts, list) or len(set(map(str, raw_prompts))) < MIN_PROMPTS:
            raise _fail(path, f"an analysis task needs at least {MIN_PROMPTS} distinct prompts")
        prompts = tuple(_template(path, f"prompts[{i}]", p, fields) for i, p in enumerate(raw_prompts))
    elif "tags" in data or "prompts" in data:
        raise _fail(path, "a voice_chat task has no tags or prompts: its user turn is the audio alone")
    labels = data.get("labels")
    fixed: tuple[str, ...] | None = None
    from_corpus = labels == "corpus"
    if labels is not None and not from_corpus:
        if not isinstance(labels, list) or not labels:
            raise _fail(path, f"labels must be a non-empty list or `corpus`, got {labels!r}")
        fixed = tuple(str(x) for x in labels)
        if len(set(fixed)) != len(fixed):
            raise _fail(path, "labels has duplicates")
    system = data.get("system")
    if system is not None and not isinstance(system, str):
        raise _fail(path, "system must be a string")
    for k in ("family", "description", "answer_format"):
        if k in data and not isinstance(data[k], str):
            raise _fail(path, f"{k} must be a string")
    task = Task(
        name=name, path=path, family=data["family"], mode=mode, description=data.get("description", ""),
        sources=_sources(path, data["sources"], name, meta), audio=audio, meta=meta,
        answer=_template(path, "answer", data["answer"], fields), answer_format=data.get("answer_format", ""),
        metrics=metrics, metric_inputs=metric_inputs, tags=tags, prompts=prompts, system=system, labels_from_corpus=from_corpus, _labels=fixed,
    )  # fmt: skip
    if from_corpus and label_sets and name in label_sets:
        task.set_labels(label_sets[name])
    return task


def default_tasks_dir() -> Path:
    """task_mixture/tasks of the source tree (QWENLIKE_TASK_MIXTURE overrides the folder)."""
    import os

    root = os.environ.get("QWENLIKE_TASK_MIXTURE")
    return (Path(root) if root else Path(__file__).resolve().parents[2] / "task_mixture") / "tasks"


def read_label_sets(path: str | Path | None) -> dict[str, list[str]]:
    """label_sets.json of a corpus build (a file or its folder); {} for None."""
    if path is None:
        return {}
    p = Path(path)
    p = p / "label_sets.json" if p.is_dir() else p
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise UserError(f"{p}: cannot read label sets: {e}") from None
    if not isinstance(data, dict):
        raise UserError(f"{p}: label sets must be a JSON object {{task: [labels]}}")
    return data


def load_tasks(
    *dirs_or_files: str | Path, label_sets: str | Path | Mapping[str, Sequence[str]] | None = None
) -> dict[str, Task]:
    """All tasks of the catalogue (default folder) plus any extra folders/files, by name.
    A name defined twice is an error naming both files."""
    sets = read_label_sets(label_sets) if not isinstance(label_sets, Mapping) else dict(label_sets)
    paths: list[Path] = []
    for d in dirs_or_files or (default_tasks_dir(),):
        d = Path(d)
        if d.is_dir():
            paths += sorted(d.glob("*.yaml")) + sorted(d.glob("*.yml"))
        elif d.exists():
            paths.append(d)
        else:
            raise UserError(f"{d}: no such task file or folder")
    out: dict[str, Task] = {}
    for p in paths:
        t = load_task(p, sets)
        if t.name in out:
            raise UserError(f"{p}: task {t.name!r} is already defined in {out[t.name].path}")
        out[t.name] = t
    return out
