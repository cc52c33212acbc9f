"""Task mixtures and the deterministic, resumable mixture sampler.

A mixture file (task_mixture/mixtures/*.yaml):

    name: instruction
    stage: instruction                   # free text: alignment | instruction | ...
    split: train
    forms: {natural: 0.8, tags: 0.1, spoken: 0.1}   # prompt-form probabilities (voice_chat ignores them)
    temperature: 2.0                     # optional: p_i ∝ w_i * n_i^(1/T), n_i = rows of task i
    tasks: {asr: 4.0, speaker_gender: 1.0, voice_chat: 2.0, ...}   # weights w_i
    sizes: {asr: 100000}                 # optional n_i for streaming sources (no len())

Sampler (MixtureSampler): draw i's randomness is a pure function of (seed, i) (splitmix64), so the
task and form of any draw is known without touching data; each task walks its rows in a seeded
permutation per epoch (map-style) or through a seeded shuffle buffer (streams). State =
{index, per-task drawn/epoch/offset}, JSON-serialisable; resuming from a state (or `skip(n)`)
continues the very same stream. Map-style resume costs nothing; a stream re-reads (without
rendering) the rows of its current epoch up to its offset.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import yaml

from ..errors import UserError
from .sources import LOCAL_KINDS, keep_encoded
from .task import FORMS, Speaker, Task

MIXTURE_KEYS = {"name", "stage", "description", "split", "forms", "temperature", "tasks", "sizes", "system"}
STATE_VERSION = 1
_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


# ------------------------------------------------------------------------------------------------
# counter-based randomness: u(seed, i, stream) in [0, 1), vectorised
# ------------------------------------------------------------------------------------------------
def _splitmix(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _bits(seed: int, index: np.ndarray, stream: int) -> np.ndarray:
    """64 random bits per draw index, independent per (seed, stream)."""
    with np.errstate(over="ignore"):
        key = _splitmix(np.array([(int(seed) * 0x100000001B3 + stream) & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))[0]
        return _splitmix(np.asarray(index, dtype=np.uint64) ^ key)


def _uniform(seed: int, index: np.ndarray, stream: int) -> np.ndarray:
    return (_bits(seed, index, stream) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


# ------------------------------------------------------------------------------------------------
# mixture config
# ------------------------------------------------------------------------------------------------
@dataclass
class Mixture:
    """A validated mixture: task weights, prompt-form probabilities, optional temperature."""

    name: str
    path: Path | None
    weights: dict[str, float]
    forms: dict[str, float] = field(default_factory=lambda: {"natural": 1.0})
    temperature: float | None = None
    split: str = "train"
    stage: str = ""
    sizes: dict[str, int] = field(default_factory=dict)
    system: str | None = None

    def where(self) -> str:
        return str(self.path) if self.path else f"mixture {self.name!r}"

    def probabilities(self, sizes: Mapping[str, int] | None = None) -> dict[str, float]:
        """Task probabilities: p_i ∝ w_i, or p_i ∝ w_i * n_i^(1/T) with a temperature."""
        raw = {}
        for t, w in self.weights.items():
            if self.temperature is not None:
                n = (sizes or {}).get(t, self.sizes.get(t))
                if n is None:
                    raise UserError(
                        f"{self.where()}: temperature sampling needs the size of {t!r} (a streaming source: set sizes.{t})"
                    )
                w = w * float(n) ** (1.0 / self.temperature)
            raw[t] = w
        total = sum(raw.values())
        return {t: v / total for t, v in raw.items()}

    def form_probabilities(self) -> dict[str, float]:
        total = sum(self.forms.values())
        return {f: v / total for f, v in self.forms.items()}

    def open(
        self, tasks: Mapping[str, Task], corpus: str | Path | None = None, kinds: Sequence[str] = LOCAL_KINDS
    ) -> dict[str, Any]:
        """Open every task's rows of this mixture's split."""
        missing = [t for t in self.weights if t not in tasks]
        if missing:
            raise UserError(f"{self.where()}: unknown task(s) {missing}")
        return {t: tasks[t].open(self.split, corpus, kinds) for t in self.weights}


def _number(where: str, key: str, v: Any, positive: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or (positive and v <= 0):
        raise UserError(f"{where}: {key} must be a {'positive' if positive else 'non-negative'} number, got {v!r}")
    return float(v)


def mixture_from_dict(
    data: Mapping[str, Any], path: Path | None = None, tasks: Mapping[str, Task] | None = None
) -> Mixture:
    """Validate a mixture mapping (as read from YAML); `tasks` checks the task names exist."""
    where = str(path) if path else "mixture"
    if not isinstance(data, Mapping):
        raise UserError(f"{where}: a mixture is a YAML mapping")
    unknown = set(data) - MIXTURE_KEYS
    if unknown:
        raise UserError(f"{where}: unknown key(s) {sorted(unknown)} (known: {', '.join(sorted(MIXTURE_KEYS))})")
    if not isinstance(data.get("tasks"), Mapping) or not data["tasks"]:
        raise UserError(f"{where}: tasks must be a non-empty mapping {{task: weight}}")
    weights = {str(t): _number(where, f"tasks.{t}", w) for t, w in data["tasks"].items()}
    weights = {t: w for t, w in weights.items() if w > 0}
    if not weights:
        raise UserError(f"{where}: every task weight is 0")
    if tasks is not None:
        missing = [t for t in weights if t not in tasks]
        if missing:
            raise UserError(f"{where}: unknown task(s) {missing} (known: {', '.join(sorted(tasks))})")
    forms = data.get("forms", {"natural": 1.0})
    if not isinstance(forms, Mapping) or not forms or any(f not in FORMS for f in forms):
        raise UserError(f"{where}: forms must map some of {', '.join(FORMS)} to probabilities, got {forms!r}")
    forms = {f: _number(where, f"forms.{f}", p) for f, p in forms.items()}
    if sum(forms.values()) <= 0:
        raise UserError(f"{where}: form probabilities sum to 0")
    temp = data.get("temperature")
    temp = None if temp is None else _number(where, "temperature", temp, positive=True)
    sizes = data.get("sizes") or {}
    if not isinstance(sizes, Mapping) or not all(isinstance(v, int) and v > 0 for v in sizes.values()):
        raise UserError(f"{where}: sizes must map tasks to positive integers")
    name = data.get("name") or (path.stem if path else "mixture")
    return Mixture(name=str(name), path=path, weights=weights, forms={f: p for f, p in forms.items() if p > 0},
                   temperature=temp, split=str(data.get("split", "train")), stage=str(data.get("stage", "")),
                   sizes=dict(sizes), system=data.get("system"))  # fmt: skip


def default_mixtures_dir() -> Path:
    from .task import default_tasks_dir

    return default_tasks_dir().parent / "mixtures"


def load_mixture(name_or_path: str | Path, tasks: Mapping[str, Task] | None = None) -> Mixture:
    """A mixture by file path or by name in task_mixture/mixtures/."""
    p = Path(name_or_path)
    if not p.exists() and p.suffix not in (".yaml", ".yml"):
        p = default_mixtures_dir() / f"{name_or_path}.yaml"
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{p}: mixture file not found") from None
    except yaml.YAMLError as e:
        raise UserError(f"{p}: not valid YAML: {e}") from None
    return mixture_from_dict(data, p, tasks)


# ------------------------------------------------------------------------------------------------
# sampler
# ------------------------------------------------------------------------------------------------
@dataclass
class Sample:
    """One draw of the mixture stream."""

    index: int
    task: str
    form: str  # tags | natural | spoken | voice (voice_chat tasks)
    seed: int
    row: dict[str, Any]
    messages: list[dict[str, Any]]


class _MapWalker:
    """Seeded permutation per epoch over a map-style task: position = drawn count."""

    def __init__(self, data: Any, seed: int, task: str):
        self.data, self.seed, self.key = data, seed, zlib.crc32(task.encode())
        self.n = len(data)
        if self.n == 0:
            raise UserError(f"task {task!r} has no rows")
        self.drawn = 0
        self._perm: tuple[int, np.ndarray] | None = None

    def _perm_of(self, epoch: int) -> np.ndarray:
        if self._perm is None or self._perm[0] != epoch:
            rng = np.random.default_rng([self.seed & 0xFFFFFFFF, self.seed >> 32, self.key, epoch])
            self._perm = (epoch, rng.permutation(self.n))
        return self._perm[1]

    def next(self) -> dict[str, Any]:
        epoch, pos = divmod(self.drawn, self.n)
        self.drawn += 1
        return self.data[int(self._perm_of(epoch)[pos])]

    def advance(self, k: int) -> None:
        self.drawn += k

    def state(self) -> dict[str, int]:
        return {"drawn": self.drawn, "epoch": self.drawn // self.n, "offset": self.drawn % self.n}

    def load(self, st: Mapping[str, int]) -> None:
        self.drawn = int(st["drawn"])


class _StreamWalker:
    """A seeded shuffle buffer over a re-iterable stream; epoch e reshuffles with seed (seed, task, e)."""

    def __init__(self, data: Any, seed: int, task: str, buffer: int):
        self.data, self.seed, self.key, self.buffer, self.task = data, seed, zlib.crc32(task.encode()), buffer, task
        self.drawn = self.epoch = self.offset = 0
        self._it: Iterator[dict[str, Any]] | None = None

    def _shuffled(self, epoch: int) -> Iterator[dict[str, Any]]:
        rng = np.random.default_rng([self.seed & 0xFFFFFFFF, self.seed >> 32, self.key, epoch])
        buf: list[dict[str, Any]] = []
        for row in self.data:
            if len(buf) < self.buffer:
                buf.append(row)
                continue
            j = int(rng.integers(len(buf)))
            buf[j], row = row, buf[j]
            yield row
        while buf:
            yield buf.pop(int(rng.integers(len(buf))))

    def _open(self) -> None:
        self._it = self._shuffled(self.epoch)
        for _ in range(self.offset):  # resume: re-read this epoch up to the offset
            next(self._it)

    def next(self) -> dict[str, Any]:
        if self._it is None:
            self._open()
        try:
            row = next(self._it)  # type: ignore[arg-type]
        except StopIteration:
            if self.offset == 0:
                raise UserError(f"task {self.task!r}: stream has no rows") from None
            self.epoch, self.offset = self.epoch + 1, 0
            self._open()
            row = next(self._it)  # type: ignore[arg-type]
        self.offset += 1
        self.drawn += 1
        return row

    def advance(self, k: int) -> None:
        for _ in range(k):
            self.next()

    def state(self) -> dict[str, int]:
        return {"drawn": self.drawn, "epoch": self.epoch, "offset": self.offset}

    def load(self, st: Mapping[str, int]) -> None:
        self.drawn, self.epoch, self.offset = int(st["drawn"]), int(st["epoch"]), int(st["offset"])
        self._it = None


class MixtureSampler:
    """Deterministic, resumable stream of Samples over the mixture's tasks.

    `data[t]` is task t's rows: map-style (len + [i], e.g. a datasets.Dataset or Task.open's view)
    or a re-iterable stream (e.g. a datasets.IterableDataset). Rows follow the corpus schema.
    """

    BLOCK = 4096  # draws planned per numpy call

    def __init__(
        self,
        mixture: Mixture,
        tasks: Mapping[str, Task],
        data: Mapping[str, Any],
        seed: int = 0,
        speak: Speaker | None = None,
        state: Mapping[str, Any] | str | None = None,
        shuffle_buffer: int = 1000,
    ):
        if int(seed) < 0 or int(seed) >= 1 << 63:
            raise UserError(f"sampler seed must be in [0, 2**63), got {seed}")
        self.mixture, self.tasks, self.seed, self.speak = mixture, tasks, int(seed), speak
        missing = [t for t in mixture.weights if t not in tasks or t not in data]
        if missing:
            raise UserError(f"{mixture.where()}: no task definition or data for {missing}")
        self.names = sorted(mixture.weights)  # fixed order: the stream never depends on dict order
        sizes = {t: len(data[t]) for t in self.names if hasattr(data[t], "__len__")}
        probs = mixture.probabilities(sizes)
        self.probs = np.array([probs[t] for t in self.names])
        self.cdf = np.cumsum(self.probs)
        self.cdf[-1] = 1.0
        fp = mixture.form_probabilities()
        self.form_names = sorted(fp)
        self.form_cdf = np.cumsum([fp[f] for f in self.form_names])
        self.form_cdf[-1] = 1.0
        if "spoken" in fp and speak is None and any(tasks[t].mode == "analysis" for t in self.names):
            raise UserError(
                f"{mixture.where()}: the spoken form needs a TTS (speak=qwenlike.tasks.CachedTTS(EspeakTTS())) or forms.spoken: 0"
            )
        self.walkers: dict[str, _MapWalker | _StreamWalker] = {}
        for t in self.names:
            d = keep_encoded(data[t]) if hasattr(data[t], "features") else data[t]  # datasets: keep audio encoded
            mapped = hasattr(d, "__len__") and hasattr(d, "__getitem__")
            self.walkers[t] = _MapWalker(d, self.seed, t) if mapped else _StreamWalker(d, self.seed, t, shuffle_buffer)
        self.index = 0
        self._block: tuple[int, list[int], list[int], list[int]] = (0, [], [], [])
        if state is not None:
            self.load_state_dict(json.loads(state) if isinstance(state, str) else state)

    # ---- the pure part: which task and form draw i gets ---------------------------------------
    def plan(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Task and form indices of draws [start, stop), computed without reading any data."""
        idx = np.arange(start, stop, dtype=np.uint64)
        tasks = np.searchsorted(self.cdf, _uniform(self.seed, idx, 1), side="right")
        forms = np.searchsorted(self.form_cdf, _uniform(self.seed, idx, 2), side="right")
        return np.minimum(tasks, len(self.names) - 1), np.minimum(forms, len(self.form_names) - 1)

    def fingerprint(self) -> str:
        """What a state belongs to: a state from another mixture or seed must not be resumed."""
        desc = json.dumps([self.mixture.name, self.seed, self.names, self.probs.round(12).tolist(), self.form_names,
                           self.form_cdf.round(12).tolist()])  # fmt: skip
        return f"{zlib.crc32(desc.encode()):08x}"

    # ---- iteration ---------------------------------------------------------------------------
    def __iter__(self) -> "MixtureSampler":
        return self

    def _planned(self, i: int) -> tuple[int, int, int]:
        """(task, form, sample seed) of draw i, computed a block at a time (numpy per draw is slow)."""
        start = self._block[0]
        if not start <= i < start + len(self._block[1]):
            start = i - i % self.BLOCK
            ti, fi = self.plan(start, start + self.BLOCK)
            seeds = _bits(self.seed, np.arange(start, start + self.BLOCK, dtype=np.uint64), 3) >> np.uint64(1)
            self._block = (start, ti.tolist(), fi.tolist(), seeds.tolist())
        k = i - start
        return self._block[1][k], self._block[2][k], int(self._block[3][k])

    def __next__(self) -> Sample:
        ti, fi, seed = self._planned(self.index)
        name = self.names[ti]
        task = self.tasks[name]
        form = "voice" if task.mode == "voice_chat" else self.form_names[fi]
        row = task.row(self.walkers[name].next())
        msgs = task.conversation_of_row(row, form, seed=seed, speak=self.speak, system=self.mixture.system)
        s = Sample(self.index, name, form, seed, row, msgs)
        self.index += 1
        return s

    def take(self, n: int) -> list[Sample]:
        return [next(self) for _ in range(n)]

    def skip(self, n: int) -> None:
        """Advance n draws without rendering them (map-style tasks read nothing)."""
        ti, _ = self.plan(self.index, self.index + n)
        counts = np.bincount(ti, minlength=len(self.names))
        for t, k in zip(self.names, counts):
            if k:
                self.walkers[t].advance(int(k))
        self.index += n

    # ---- checkpoint state -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, "fingerprint": self.fingerprint(), "index": self.index,
                "tasks": {t: w.state() for t, w in self.walkers.items()}}  # fmt: skip

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("version") != STATE_VERSION or state.get("fingerprint") != self.fingerprint():
            raise UserError(
                f"{self.mixture.where()}: sampler state belongs to another mixture/seed "
                f"({state.get('fingerprint')} != {self.fingerprint()})"
            )
        if set(state["tasks"]) != set(self.walkers):
            raise UserError(f"{self.mixture.where()}: sampler state tasks {sorted(state['tasks'])} != {self.names}")
        self.index = int(state["index"])
        for t, st in state["tasks"].items():
            self.walkers[t].load(st)


def sample_conversations(
    mixture: str | Path,
    corpus: str | Path,
    n: int,
    seed: int = 0,
    speak: Speaker | None = None,
    tasks: Mapping[str, Task] | None = None,
    kinds: Sequence[str] = LOCAL_KINDS,
) -> list[list[dict[str, Any]]]:
    """The first n conversations of a mixture's stream over a corpus build (what data.py trains on).

    Closed label sets come from the corpus's label_sets.json. A mixture with the spoken form gets
    espeak-ng through a disk cache unless `speak` is given."""
    from .task import load_tasks

    if tasks is None:
        sets = Path(corpus) / "label_sets.json"
        tasks = load_tasks(label_sets=sets if sets.exists() else None)
    mix = load_mixture(mixture, tasks)
    if speak is None and "spoken" in mix.forms:
        from .tts import CachedTTS, default_tts

        speak = CachedTTS(default_tts())
    sampler = MixtureSampler(mix, tasks, mix.open(tasks, corpus, kinds), seed=seed, speak=speak)
    return [s.messages for s in sampler.take(n)]
