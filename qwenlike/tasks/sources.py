"""Where a task's rows come from, and how a raw row becomes a row of the corpus schema.

A source is one entry of a task YAML's `sources:` list, one key naming its kind:

    - corpus: asr                      # rows of the offline corpus (DatasetDict on disk) with task == asr
    - csv: {path: clips.csv, columns: {audio: path, label: label}}   # relative to the YAML file
    - jsonl: {path: {train: train.jsonl, test: test.jsonl}}
    - disk: {path: /data/my_set, columns: {...}}                     # datasets.save_to_disk output
    - hf: {path: openslr/librispeech_asr, name: clean, split: {train: train.100, test: test.clean},
           columns: {text: text, answer: text}, streaming: true}    # datasets.load_dataset

`columns` maps a schema field (or `meta.KEY`) to the source column that holds it; `defaults`
gives constants for fields the source lacks (e.g. `language: en`). Rows are normalised lazily
(`RowView[i]`, `RowStream`), so a streaming source is never read ahead of the sampler.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from ..errors import UserError

# the corpus schema (ARCHITECTURE / corpus builder); audio fields hold a payload chat.render accepts
SCHEMA_FIELDS = ("id", "task", "audio", "audio2", "answer", "label", "text", "language", "voice", "source",
                 "group", "duration", "meta")  # fmt: skip
AUDIO_FIELDS = ("audio", "audio2")
TEXT_FIELDS = tuple(f for f in SCHEMA_FIELDS if f not in AUDIO_FIELDS + ("meta",))
SOURCE_KINDS = ("corpus", "csv", "jsonl", "disk", "hf")
SOURCE_KEYS = {
    "corpus": set(),
    "csv": {"path", "columns", "defaults", "split_column"},
    "jsonl": {"path", "columns", "defaults", "split_column"},
    "disk": {"path", "columns", "defaults", "split"},
    "hf": {"path", "name", "split", "columns", "defaults", "streaming", "data_files", "revision"},
}
# kinds opened by default: the ones that work offline (hub sources need `kinds=` to opt in)
LOCAL_KINDS = ("corpus", "csv", "jsonl", "disk")


def audio_payload(value: Any, base: Path | None = None) -> Any:
    """A datasets Audio value / path / bytes / array -> what chat.render and audio.load accept."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        if value.get("bytes"):
            return bytes(value["bytes"])
        if value.get("array") is not None:  # decoded by datasets: resample once here
            from .. import audio as A

            return A.load(value["array"], sr=int(value.get("sampling_rate") or A.SAMPLE_RATE))
        value = value.get("path")
        if not value:
            return None
    if isinstance(value, str) and base is not None and not Path(value).is_absolute() and "://" not in value:
        return str(base / value)
    return value


def parse_meta(value: Any) -> dict[str, Any]:
    """The `meta` column is a JSON string in the corpus; accept a dict or nothing too."""
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    try:
        out = json.loads(value)
    except (TypeError, json.JSONDecodeError) as e:
        raise UserError(f"row meta is not JSON ({e}): {str(value)[:80]!r}") from None
    if not isinstance(out, dict):
        raise UserError(f"row meta must be a JSON object, got {type(out).__name__}")
    return out


def normalise_row(raw: Mapping[str, Any], task: str = "", base: Path | None = None) -> dict[str, Any]:
    """A row with every schema field: text fields as str, audio as a payload, meta as a dict."""
    row: dict[str, Any] = {}
    for f in TEXT_FIELDS:
        v = raw.get(f)
        row[f] = "" if v is None else v
    row["duration"] = float(raw.get("duration") or 0.0)
    row["task"] = row["task"] or task
    for f in AUDIO_FIELDS:
        row[f] = audio_payload(raw.get(f), base)
    row["meta"] = parse_meta(raw.get("meta"))
    for k, v in raw.items():  # columns mapped to meta.KEY by a source
        if k.startswith("meta.") and v is not None:
            row["meta"][k[5:]] = v
    return row


@dataclass
class SourceSpec:
    """One validated `sources:` entry of a task file."""

    kind: str
    options: dict[str, Any]
    base: Path  # folder of the task YAML: relative paths resolve against it
    columns: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)

    def mapper(self, task: str) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
        """raw source row -> normalised schema row (column renames, defaults, relative paths)."""
        cols, defaults, base = self.columns, self.defaults, self.base

        def fn(raw: Mapping[str, Any]) -> dict[str, Any]:
            out: dict[str, Any] = dict(defaults)
            taken = set()
            for dst, src in cols.items():
                if src not in raw:
                    raise UserError(f"{self.describe()}: column {src!r} (for {dst}) not in row; has {sorted(raw)}")
                out[dst] = raw[src]
                taken.add(dst)
            for k, v in raw.items():  # schema-named columns pass through unless mapped
                if k in SCHEMA_FIELDS and k not in taken:
                    out[k] = v
            if not out.get("answer") and out.get("label"):
                out["answer"] = out["label"]  # a (clip, label) table: the label is the answer
            if not out.get("id"):  # a stable id from the row's content (audio by path), not from read order
                light = {k: (v.get("path") if isinstance(v, Mapping) else v) for k, v in raw.items()
                         if not isinstance(v, (bytes, bytearray))}  # fmt: skip
                digest = hashlib.sha1(json.dumps(light, sort_keys=True, default=str).encode()).hexdigest()[:12]
                out["id"] = f"{task}-{digest}"
            return normalise_row(out, task, base)

        return fn

    def describe(self) -> str:
        return f"{self.kind} source {self.options.get('path', self.options.get('task', ''))!s}"

    def path_for(self, split: str) -> Path | None:
        p = self.options.get("path")
        if isinstance(p, Mapping):
            p = p.get(split)
            if p is None:
                return None
        return (self.base / str(p)) if not Path(str(p)).is_absolute() else Path(str(p))

    def open(self, task: str, split: str, corpus: str | Path | None = None) -> "RowView | RowStream | None":
        """This source's rows of `split`, normalised; None where the source has no such split."""
        if self.kind == "corpus":
            return _open_corpus(self.options["task"], split, corpus)
        if self.kind in ("csv", "jsonl"):
            path = self.path_for(split)
            if path is None:
                return None
            if not path.exists():
                raise UserError(f"{self.describe()}: file not found: {path}")
            rows = _read_csv(path) if self.kind == "csv" else _read_jsonl(path)
            col = self.options.get("split_column", "split")
            if rows and col in rows[0]:
                rows = [r for r in rows if r[col] == split]
            base = path.parent
            spec = SourceSpec(self.kind, self.options, base, self.columns, self.defaults)
            return RowView(rows, spec.mapper(task))
        if self.kind == "disk":
            import datasets

            path = self.path_for(split)
            if path is None:
                return None
            if not path.exists():
                raise UserError(f"{self.describe()}: folder not found: {path}")
            ds = datasets.load_from_disk(str(path))
            if isinstance(ds, datasets.DatasetDict):
                names = self.options.get("split") or {}  # {our split: the DatasetDict's split name}
                name = names.get(split, split) if isinstance(names, Mapping) else split
                if name not in ds:
                    return None
                ds = ds[name]
            return RowView(keep_encoded(ds), self.mapper(task))
        if self.kind == "hf":
            import datasets

            sp = self.options.get("split", split)
            sp = sp.get(split) if isinstance(sp, Mapping) else sp
            if sp is None:
                return None
            kw = {k: self.options[k] for k in ("name", "data_files", "revision") if k in self.options}
            if isinstance(kw.get("data_files"), (str, list)):
                kw["data_files"] = _resolve_files(kw["data_files"], self.base)
            elif isinstance(kw.get("data_files"), Mapping):
                kw["data_files"] = {k: _resolve_files(v, self.base) for k, v in kw["data_files"].items()}
            streaming = bool(self.options.get("streaming", False))
            ds = datasets.load_dataset(self.options["path"], split=sp, streaming=streaming, **kw)
            ds = keep_encoded(ds)
            if streaming:
                return RowStream(lambda: iter(ds), self.mapper(task))
            return RowView(ds, self.mapper(task))
        raise AssertionError(self.kind)


def _resolve_files(v: Any, base: Path) -> Any:
    if isinstance(v, str):
        return str(base / v) if not Path(v).is_absolute() else v
    return [_resolve_files(x, base) for x in v]


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise UserError(f"{path}:{n}: not JSON: {e}") from None
    return out


def keep_encoded(ds: Any) -> Any:
    """Keep audio as encoded bytes: decoding is audio.load's job (and datasets 5 needs torchcodec)."""
    feats = getattr(ds, "features", None) or {}
    if not feats:
        return ds
    from datasets import Audio

    for name, feat in feats.items():
        if isinstance(feat, Audio) and feat.decode:
            ds = ds.cast_column(name, Audio(sampling_rate=feat.sampling_rate, decode=False))
    return ds


_CORPUS_CACHE: dict[str, Any] = {}


def _open_corpus(task: str, split: str, corpus: str | Path | None) -> "RowView | None":
    if corpus is None:
        raise UserError(f"task {task!r} reads the offline corpus: pass corpus=DIR (a `qwenlike` corpus build)")
    import datasets

    key = str(Path(corpus).resolve())
    if key not in _CORPUS_CACHE:
        if not Path(key).exists():
            raise UserError(f"corpus not found: {corpus}")
        _CORPUS_CACHE[key] = datasets.load_from_disk(key)
    dd = _CORPUS_CACHE[key]
    if split not in dd:
        return None
    ds = dd[split]
    idx = [i for i, t in enumerate(ds["task"]) if t == task]
    if not idx:
        return None
    return RowView(keep_encoded(ds.select(idx)), lambda r: normalise_row(r, task))


class RowView:
    """A map-style, lazily normalised view: len() and [i] -> schema row."""

    def __init__(
        self, data: Sequence[Mapping[str, Any]], fn: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    ):
        self.data = data
        self.fn = fn or normalise_row

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.fn(self.data[int(i)])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self[i] for i in range(len(self)))


class RowStream:
    """A re-iterable stream of normalised rows (each iter() starts the source again)."""

    def __init__(
        self,
        make: Callable[[], Iterator[Mapping[str, Any]]],
        fn: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None,
    ):
        self.make = make
        self.fn = fn or normalise_row

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self.fn(r) for r in self.make())


class Chain:
    """Several map-style views as one (a task with more than one source)."""

    def __init__(self, parts: Sequence[Any]):
        self.parts = list(parts)
        self.ends: list[int] = []
        n = 0
        for p in self.parts:
            n += len(p)
            self.ends.append(n)

    def __len__(self) -> int:
        return self.ends[-1] if self.ends else 0

    def __getitem__(self, i: int) -> dict[str, Any]:
        i = int(i)
        start = 0
        for p, end in zip(self.parts, self.ends):
            if i < end:
                return p[i - start]
            start = end
        raise IndexError(i)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self[i] for i in range(len(self)))


class ChainStream:
    """Several streams (or views) one after the other."""

    def __init__(self, parts: Sequence[Iterable[dict[str, Any]]]):
        self.parts = list(parts)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for p in self.parts:
            if isinstance(p, RowView):
                yield from (p[i] for i in range(len(p)))
            else:
                yield from p
