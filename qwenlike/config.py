"""Typed training config: dataclasses + YAML + dotted `key=value` overrides.

Floor 1: imports nothing of ours but `errors`. Unknown keys and badly typed values raise
`UserError` with one line naming the key; the resolved config (defaults filled in, overrides
applied) is what `train.py` saves beside every checkpoint as `train_config.yaml`.

    cfg = load_config("recipes/tiny.yaml", ["output_dir=runs/x", "optim.lr=1e-3"])
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .errors import UserError

TRAINABLE = ("frozen", "full", "lora")  # how one part of the model is trained


@dataclass
class LoraConfig:
    """LoRA adapters (peft) on the LM and, with `model.encoder: lora`, on the encoder."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    lm_targets: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    encoder_targets: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"])


@dataclass
class ModelConfig:
    path: str | None = None  # a qwenlike checkpoint or a transformers Qwen2-Audio folder
    tiny: bool = False  # build `tiny.tiny_audiolm(tiny_seed)` instead (CI, tests)
    tiny_seed: int = 0
    tiny_projector: str = "stack-mlp"
    encoder: str = "frozen"  # frozen | full | lora
    projector: str = "full"  # frozen | full
    lm: str = "frozen"  # frozen | full | lora
    lora: LoraConfig = field(default_factory=LoraConfig)
    gradient_checkpointing: bool = False
    cache_encoder_features: bool = False  # frozen encoder only: encode each clip once, reuse
    encoder_taps: list[int] | None = None  # earlier encoder blocks the adapter also sees (None: as loaded)
    utterance_block: int | None = None  # encoder block pooled into an utterance vector added to the audio tokens (0: none, None: as loaded)
    label_head: str = "frozen"  # frozen | full: a loaded model's label head (`qwenlike label-head` fits it; frozen keeps that fit)


@dataclass
class DataConfig:
    manifest: str | None = None  # JSONL, one {"messages": [...]} per line, audio paths relative to it
    corpus: str | None = None  # offline corpus folder (qwenlike corpus build) ...
    mixture: str | None = None  # ... sampled with this task mixture YAML (qwenlike.tasks)
    corpus_samples: int = 20000  # conversations drawn from the mixture's seeded stream
    micro_batch_size: int = 4  # conversations per forward pass per process
    bucket_batches: int = 16  # sort by length within windows of this many micro-batches (1 = no bucketing)
    max_audio_seconds: float = 0.0  # drop longer conversations (0 = keep all)
    num_workers: int = 0  # DataLoader worker processes decoding audio and building batches
    system_prompt: str | None = None  # overrides the model's own system prompt when set


@dataclass
class OptimConfig:
    lr: float = 1e-4
    weight_decay: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    warmup_steps: int = 0
    schedule: str = "cosine"  # cosine | linear | constant (after warmup)
    min_lr_ratio: float = 0.1  # the cosine/linear floor as a fraction of lr
    grad_clip: float = 1.0  # 0 = no clipping


@dataclass
class TrainConfig:
    output_dir: str = "runs/train"
    max_steps: int = 100  # optimizer steps
    seed: int = 0
    global_batch_size: int = 0  # conversations per optimizer step; 0 = micro_batch_size * grad_accum * processes
    grad_accum: int = 1  # used when global_batch_size is 0
    precision: str = "auto"  # auto (bf16 where bf16 matmuls are fast: GPU, CPU with AMX/AVX512-BF16) | bf16 | fp32
    device: str = "auto"  # auto | cpu | cuda
    save_every: int = 0  # 0 = only at the end
    keep_checkpoints: int = 0  # keep the newest N checkpoint-* folders (0 = all)
    log_every: int = 1
    progress: bool = True  # tqdm bar on rank 0 when stderr is a terminal
    tensorboard: bool = True  # when the tensorboard package is installed
    loss_plot: bool = True  # loss.png at the end (matplotlib)
    resume: str | None = None  # "auto" (newest checkpoint in output_dir) | a checkpoint folder
    deepspeed: str | None = None  # a DeepSpeed JSON config (recipes/ds_zero*.json)
    threads: int = 0  # torch intra-op threads per process; 0 = cores / processes
    objective: str = "lm"  # lm (next-token loss on the answers) | ctc (adapter only: AudioLM.ctc_loss, no LM pass)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    def validate(self) -> "TrainConfig":
        m, d, o = self.model, self.data, self.optim
        for name, val, allowed in (
            ("model.encoder", m.encoder, TRAINABLE), ("model.lm", m.lm, TRAINABLE),
            ("model.projector", m.projector, ("frozen", "full")), ("model.label_head", m.label_head, ("frozen", "full")), ("precision", self.precision, ("auto", "bf16", "fp32")),
            ("device", self.device, ("auto", "cpu", "cuda")), ("optim.schedule", o.schedule, ("cosine", "linear", "constant")),
            ("model.tiny_projector", m.tiny_projector, ("stack-mlp", "pool-linear")), ("objective", self.objective, ("lm", "ctc")),
        ):  # fmt: skip
            if val not in allowed:
                raise UserError(f"{name}={val!r}: expected one of {', '.join(allowed)}")
        if bool(m.path) == bool(m.tiny):
            raise UserError("set exactly one of model.path and model.tiny=true")
        if (d.manifest is None) == (d.corpus is None):
            raise UserError("set exactly one of data.manifest and data.corpus")
        if d.corpus is not None and not d.mixture:
            raise UserError("data.corpus needs data.mixture (a task mixture YAML)")
        if d.corpus is not None and d.corpus_samples < 1:
            raise UserError(f"data.corpus_samples={d.corpus_samples}: must be at least 1")
        if self.objective == "ctc" and (m.lm != "frozen" or m.projector != "full"):
            raise UserError(f"objective=ctc trains the adapter alone: it needs model.lm=frozen and model.projector=full (they are {m.lm!r}, {m.projector!r})")
        if m.cache_encoder_features and m.encoder != "frozen":
            raise UserError(f"model.cache_encoder_features needs model.encoder=frozen (it is {m.encoder!r})")
        if all(getattr(m, k) == "frozen" for k in ("encoder", "projector", "lm")):
            raise UserError("nothing to train: model.encoder, model.projector and model.lm are all frozen")
        for name, val in (("max_steps", self.max_steps), ("data.micro_batch_size", d.micro_batch_size),
                          ("grad_accum", self.grad_accum), ("data.bucket_batches", d.bucket_batches),
                          ("log_every", self.log_every), ("model.lora.r", m.lora.r)):  # fmt: skip
            if val < 1:
                raise UserError(f"{name}={val}: must be at least 1")
        for name, val in (("save_every", self.save_every), ("global_batch_size", self.global_batch_size),
                          ("optim.lr", o.lr), ("optim.warmup_steps", o.warmup_steps), ("data.num_workers", d.num_workers),
                          ("keep_checkpoints", self.keep_checkpoints), ("data.max_audio_seconds", d.max_audio_seconds)):  # fmt: skip
            if val < 0:
                raise UserError(f"{name}={val}: must not be negative")
        return self

    def accumulation(self, world: int) -> int:
        """Micro-batches per process per optimizer step, so that the global batch is what was asked."""
        if not self.global_batch_size:
            return self.grad_accum
        per_pass = self.data.micro_batch_size * world
        if self.global_batch_size % per_pass:
            raise UserError(
                f"global_batch_size={self.global_batch_size} is not a multiple of "
                f"data.micro_batch_size * processes = {self.data.micro_batch_size} * {world}"
            )
        return self.global_batch_size // per_pass


# ----------------------------------------------------------------------------------------------
# dict <-> dataclass, with the key path in every error
# ----------------------------------------------------------------------------------------------
def _coerce(value: Any, tp: Any, key: str) -> Any:
    """`value` as type `tp` (from a YAML value or a command-line string), or UserError."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("null", "none", "~")):
            return None
        return _coerce(value, args[0], key)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise UserError(f"{key}: expected a mapping, got {value!r}")
        return from_dict(tp, value, key + ".")
    if origin is list:
        (item,) = typing.get_args(tp)
        if isinstance(value, str):  # command line: a,b,c
            value = [v for v in value.split(",") if v]
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value]  # command line: key=2 reads as a number; a one-item list is what it means
        if not isinstance(value, list):
            raise UserError(f"{key}: expected a list, got {value!r}")
        return [_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
            return value.lower() in ("true", "yes", "1")
        raise UserError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise UserError(f"{key}: expected an integer, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise UserError(f"{key}: expected an integer, got {value!r}") from None
    if tp is float:
        if isinstance(value, bool):
            raise UserError(f"{key}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise UserError(f"{key}: expected a number, got {value!r}") from None
    if tp is str:
        if isinstance(value, (dict, list)):
            raise UserError(f"{key}: expected a string, got {value!r}")
        return str(value)
    raise TypeError(f"unsupported config type {tp!r} for {key}")


def from_dict(cls: type, d: dict[str, Any], prefix: str = "") -> Any:
    """Build dataclass `cls` from a nested dict; unknown keys are errors."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise UserError(f"unknown config key {prefix}{unknown[0]} (known: {', '.join(sorted(names))})")
    return cls(**{k: _coerce(v, hints[k], prefix + k) for k, v in d.items()})


def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def apply_overrides(d: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply `a.b=value` strings to a nested dict (values parsed as YAML scalars)."""
    import yaml

    for ov in overrides:
        if "=" not in ov:
            raise UserError(f"override {ov!r}: expected key=value")
        key, raw = ov.split("=", 1)
        parts = key.strip().split(".")
        if not all(parts):
            raise UserError(f"override {ov!r}: empty key")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        node = d
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise UserError(f"override {ov!r}: {p} is not a section")
        node[parts[-1]] = value
    return d


def load_config(path: str | Path | None, overrides: Sequence[str] = ()) -> TrainConfig:
    """YAML file (optional) + overrides -> a validated TrainConfig."""
    import yaml

    d: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise UserError(f"{p}: config file not found")
        try:
            d = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            raise UserError(f"{p}: invalid YAML ({str(e).splitlines()[0]})") from None
        if not isinstance(d, dict):
            raise UserError(f"{p}: a config must be a mapping of keys")
        d = _resolve_paths(d, p.parent)
    d = apply_overrides(d, overrides)
    return from_dict(TrainConfig, d).validate()


def _resolve_paths(d: dict[str, Any], base: Path) -> dict[str, Any]:
    """Paths written in a recipe starting with './' or '../' are relative to the recipe's folder."""
    for section, key in (("data", "manifest"), ("data", "corpus"), ("data", "mixture"), ("model", "path"), (None, "deepspeed")):
        node = d.get(section) if section else d
        if isinstance(node, dict) and isinstance(node.get(key), str) and node[key].startswith(("./", "../")):
            node[key] = str((base / node[key]).resolve())
    return d


def dump_yaml(cfg: TrainConfig) -> str:
    import yaml

    return yaml.safe_dump(to_dict(cfg), sort_keys=False)
