"""The one training loop: every stage (align, sft, full), 1 or N processes, plain / DDP / DeepSpeed.

Floor 5. `qwenlike train CONFIG.yaml [key=value ...]` -> `main(argv)`; launchers run
`python -m qwenlike.train CONFIG.yaml ...` under `torchrun` or `deepspeed`.

Numerics live in `step()` alone: the loss of a micro-batch is its summed token cross-entropy
divided by the number of assistant tokens in the whole global batch (all micro-batches of the
accumulation window, all processes), times P because DDP and DeepSpeed average gradients over
P processes. The gradient is then exactly the gradient of the mean token loss of one big batch.

A run writes to `output_dir`:
    train_log.jsonl      one JSON object per logged step (step, loss, lr, tokens/s, audio-s/s, ...)
    checkpoint-N/        a model folder `qwenlike ask --model` loads (full weights, or a delta over
                         `base/` when parts of the model are frozen) + train_config.yaml + the
                         resume state (optimizer, schedule, RNG, data position)
    base/                the frozen starting model of a `model.tiny` run (delta checkpoints point here)
    loss.png, tb/        the loss curve; TensorBoard events when tensorboard is installed
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import signal
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import audio as A
from .config import TrainConfig, dump_yaml, load_config
from .errors import UserError

STATE = "trainer_state.json"
OPTIMIZER = "optimizer.pt"
DS_DIR = "deepspeed"
CONFIG_FILE = "train_config.yaml"
LOG = "train_log.jsonl"


# ----------------------------------------------------------------------------------------------
# processes
# ----------------------------------------------------------------------------------------------
@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def all_sum(self, values: list[float]) -> list[float]:
        """Sum a few numbers over processes (float64 so token counts stay exact)."""
        if self.world == 1:
            return values
        t = torch.tensor(values, dtype=torch.float64)
        torch.distributed.all_reduce(t)
        return t.tolist()

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()


def init_dist(cfg: TrainConfig) -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    use_cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        raise UserError("device=cuda but no GPU is visible")
    if use_cuda and local_world > torch.cuda.device_count():  # every rank says so, not only the ones past the last GPU
        raise UserError(f"{local_world} processes on this node but {torch.cuda.device_count()} GPU(s) visible: "
                        "start one process per GPU, or pass device=cpu")  # fmt: skip
    device = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if use_cuda else "gloo"
        if cfg.deepspeed:
            import deepspeed

            deepspeed.init_distributed(dist_backend=backend)
        else:
            torch.distributed.init_process_group(backend=backend)
    # several processes on few cores: one pool per process, never oversubscribed (5x slower if so)
    threads = cfg.threads or max(1, (os.cpu_count() or 1) // max(local_world, 1))
    torch.set_num_threads(threads)
    return Dist(rank, world, local_rank, local_world, device)


def fast_bf16(device: torch.device) -> bool:
    """bf16 autocast pays off on GPUs and on CPUs with bf16 matrix units (AMX, AVX512-BF16); on an
    AVX2-only CPU a bf16 matmul is ~30x slower than fp32 (measured: 0.7 vs 20 GFLOP/s)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_precision(cfg: TrainConfig, device: torch.device) -> str:
    if cfg.precision != "auto":
        return cfg.precision
    return "bf16" if fast_bf16(device) else "fp32"


def precision_note(cfg: TrainConfig, device: torch.device) -> str:
    """The precision for the start-up line, with why where `auto` fell back to fp32 on a CPU."""
    precision = resolve_precision(cfg, device)
    if cfg.precision == "auto" and precision == "fp32" and device.type == "cpu":
        return ("fp32 (auto: this CPU has no AMX or AVX512-BF16, where a bf16 matmul runs ~100x slower than fp32; "
                "a recipe timed in bf16 on an AMX CPU takes 2-3x longer here)")
    return precision


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    s = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        s["cuda"] = torch.cuda.get_rng_state_all()
    return s


def set_rng_state(s: dict[str, Any]) -> None:
    random.setstate(s["python"])
    np.random.set_state(s["numpy"])
    torch.set_rng_state(s["torch"])
    if "cuda" in s and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])


# ----------------------------------------------------------------------------------------------
# the model and what of it trains
# ----------------------------------------------------------------------------------------------
def build_model(cfg: TrainConfig, dist: Dist):
    """The starting AudioLM (fp32 master weights), its base path for delta checkpoints, LoRA spec."""
    from .checkpoint import apply_lora, from_pretrained, lora_regex, save_pretrained
    from .tiny import tiny_audiolm

    m = cfg.model
    out = Path(cfg.output_dir)
    if m.tiny:
        model = tiny_audiolm(seed=m.tiny_seed, projector=m.tiny_projector)
        base = out / "base"
        if dist.main and not (base / "config.json").exists():
            save_pretrained(model, base)  # the frozen parts live here once; checkpoints store deltas
        base_ref = "../base"  # relative to checkpoint-N/: the run folder can move
    else:
        from .paths import is_build_spec, resolve_model_ref

        folder = resolve_model_ref(m.path)  # a folder, `default`, or a build spec assembled on first use
        model = from_pretrained(folder)
        base_ref = m.path if (m.path == "default" or is_build_spec(m.path)) else str(folder.resolve())
    model.float()
    if m.encoder_taps is not None and list(m.encoder_taps) != list(model.config.encoder_taps):
        if m.projector != "full":
            raise UserError("model.encoder_taps changes the adapter's input: it needs model.projector: full (a new adapter is trained)")
        torch.manual_seed(cfg.seed)  # the rebuilt projector's init: the same seed, the same weights
        try:
            model.set_encoder_taps(list(m.encoder_taps))
        except ValueError as e:
            raise UserError(f"model.encoder_taps: {e}") from None
    if m.utterance_block is not None and m.utterance_block != model.config.utterance_block:
        if m.projector != "full":
            raise UserError("model.utterance_block adds to the adapter: it needs model.projector: full (the new part is trained)")
        try:
            model.set_utterance_block(m.utterance_block)  # starts at zero: no init to seed
        except ValueError as e:
            raise UserError(f"model.utterance_block: {e}") from None
    if cfg.data.system_prompt:
        model.config.system_prompt = cfg.data.system_prompt
    lora = None
    if "lora" in (m.encoder, m.lm):
        lora = {
            "r": m.lora.r, "alpha": m.lora.alpha, "dropout": m.lora.dropout,
            "target_modules": lora_regex(m.lora.lm_targets if m.lm == "lora" else [],
                                         m.lora.encoder_targets if m.encoder == "lora" else []),
        }  # fmt: skip
        torch.manual_seed(cfg.seed)  # LoRA A matrices are random: the same seed, the same init
        apply_lora(model, lora)
    for name, p in model.named_parameters():
        part = name.split(".", 1)[0]  # encoder | projector | lm
        mode = getattr(m, part)
        p.requires_grad_(mode == "full" or (mode == "lora" and ".lora_" in name))
    if cfg.objective == "ctc":
        model.attach_ctc_head()  # trained with the adapter, kept in checkpoints for resume only
    if not m.tiny:
        base_ref = flatten_base(folder, base_ref, model)
    if m.gradient_checkpointing:
        if hasattr(model.lm, "activation_checkpointing_enable"):  # transformers >= 5.x name
            model.lm.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.lm.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.encoder.gradient_checkpointing = True
        model.lm.config.use_cache = False
    model.to(dist.device).train()
    return model, base_ref, lora


def flatten_base(folder: Path, base_ref: str, model: torch.nn.Module) -> str:
    """Start from a delta checkpoint whose every stored weight trains again here (stage 2 after a
    projector-only stage 1): this run's deltas then sit on that checkpoint's own base, so they do not
    depend on the earlier run's folder."""
    from .checkpoint import delta_parts

    parts = delta_parts(folder)
    if parts is None:
        return base_ref
    ref, names, has_lora = parts
    return ref if not has_lora and names <= set(trainable_names(model)) else base_ref


def trainable_names(model: torch.nn.Module) -> list[str]:
    return [n for n, p in model.named_parameters() if p.requires_grad]


def full_checkpoint(cfg: TrainConfig) -> bool:
    """Save every weight, or only the trained ones over the base (when something is frozen)."""
    m = cfg.model
    return m.encoder == "full" and m.lm == "full" and m.projector == "full"


class EncoderCache:
    """Frozen encoder: each window is encoded once, its (E, D) frames kept in memory by key.

    Installed as the encoder's forward on the instance, so module names and checkpoints are
    untouched; `keys` is set before each forward to the batch's window keys (slot order).
    """

    def __init__(self, encoder: torch.nn.Module):
        self.encoder = encoder
        self.compute = encoder.forward  # the bound original
        self.store: dict[str, torch.Tensor] = {}
        self.keys: list[str] = []
        self.hits = self.misses = 0
        encoder.forward = self.forward

    def forward(self, features: A.Features) -> tuple[torch.Tensor, torch.Tensor]:
        """(W, M, T) -> ((W, E, D), (W,)) from the store where possible."""
        keys = self.keys
        if len(keys) != features.mel.shape[0]:
            raise ValueError(f"encoder cache: {len(keys)=} != windows={features.mel.shape[0]}")
        missing = [w for w, k in enumerate(keys) if k not in self.store]
        self.misses += len(missing)
        self.hits += len(keys) - len(missing)
        if missing:
            idx = torch.tensor(missing)
            with torch.no_grad():
                h, valid = self.compute(A.Features(features.mel[idx], features.frames[idx]))  # (m, E, D)
            for r, w in enumerate(missing):
                self.store[keys[w]] = h[r, : int(valid[r])].detach().clone()
        rows = [self.store[k] for k in keys]
        valid = A.encoder_frames(features.frames.to(rows[0].device))  # (W,)
        e = A.encoder_frames(features.mel.shape[-1])
        out = rows[0].new_zeros(len(rows), e, rows[0].shape[-1])  # (W, E, D), zero past each window
        for w, r in enumerate(rows):
            out[w, : r.shape[0]] = r
        return out, valid


# ----------------------------------------------------------------------------------------------
# optimizer, schedule
# ----------------------------------------------------------------------------------------------
def make_optimizer(cfg: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    """AdamW; no weight decay on biases and norms (1-D parameters). A plain torch optimizer, so
    DeepSpeed uses it as a client optimizer and compiles no C++ op."""
    o = cfg.optim
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    other = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [{"params": decay, "weight_decay": o.weight_decay}, {"params": other, "weight_decay": 0.0}]
    # fused: one kernel over all tensors (CPU and CUDA); the per-tensor loop took ~4 s a step on
    # 160 M parameters on 2 cores
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps, fused=True)


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Learning rate of optimizer step `step` (0-based): linear warmup, then cosine/linear/constant."""
    o = cfg.optim
    if o.warmup_steps and step < o.warmup_steps:
        return o.lr * (step + 1) / o.warmup_steps
    if o.schedule == "constant":
        return o.lr
    span = max(cfg.max_steps - o.warmup_steps, 1)
    t = min(max(step - o.warmup_steps, 0) / span, 1.0)
    floor = o.lr * o.min_lr_ratio
    if o.schedule == "linear":
        return o.lr - (o.lr - floor) * t
    return floor + 0.5 * (o.lr - floor) * (1 + math.cos(math.pi * t))


# ----------------------------------------------------------------------------------------------
# DeepSpeed
# ----------------------------------------------------------------------------------------------
def deepspeed_config(cfg: TrainConfig, accum: int, world: int) -> dict[str, Any]:
    """The recipe's JSON with the batch shape and clipping filled in from our config ("auto")."""
    p = Path(cfg.deepspeed)
    if not p.is_file():
        raise UserError(f"{p}: DeepSpeed config not found")
    try:
        ds = json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise UserError(f"{p}: invalid JSON ({e.msg} at line {e.lineno})") from None
    ours = {
        "train_micro_batch_size_per_gpu": cfg.data.micro_batch_size,
        "gradient_accumulation_steps": accum,
        "train_batch_size": cfg.data.micro_batch_size * accum * world,
        "gradient_clipping": cfg.optim.grad_clip,
    }
    for k, v in ours.items():
        if ds.get(k, "auto") not in ("auto", v):
            raise UserError(f"{p}: {k}={ds[k]} disagrees with the training config ({v}); write \"auto\"")
        ds[k] = v
    for k in ("fp16", "bf16"):
        if ds.get(k, {}).get("enabled") is True:
            raise UserError(f"{p}: {k}.enabled: mixed precision comes from the training config (precision=bf16 autocast)")
    ds.setdefault("zero_allow_untested_optimizer", True)  # our client optimizer is torch's AdamW
    ds.setdefault("steps_per_print", 10**9)
    return ds


def ds_stage(engine: Any) -> int:
    return int(engine.zero_optimization_stage()) if engine is not None else 0


class gathered:
    """Gather ZeRO-3 partitioned parameters on every rank for the `with` block (no-op otherwise)."""

    def __init__(self, engine: Any, params: list[torch.nn.Parameter]):
        self.ctx = nullcontext()
        if ds_stage(engine) == 3:
            import deepspeed

            self.ctx = deepspeed.zero.GatheredParameters(params, modifier_rank=None)

    def __enter__(self):
        return self.ctx.__enter__()

    def __exit__(self, *a):
        return self.ctx.__exit__(*a)


# ----------------------------------------------------------------------------------------------
# checkpoints
# ----------------------------------------------------------------------------------------------
def checkpoint_step(path: Path) -> int:
    return int(path.name.split("-")[1])


def complete_checkpoints(out: Path) -> list[Path]:
    """checkpoint-N folders that finished (renamed into place), oldest first."""
    found = [p for p in out.glob("checkpoint-*") if p.name.split("-")[1].isdigit() and (p / STATE).exists()]
    return sorted(found, key=checkpoint_step)


def _fault(kind: str, step: int) -> None:
    """Fault injection for the resume tests: QWENLIKE_FAULT=sigkill-after-step:7 | sigkill-in-save:6."""
    want = os.environ.get("QWENLIKE_FAULT", "")
    if want == f"{kind}:{step}":
        os.kill(os.getpid(), signal.SIGKILL)


def save_checkpoint(cfg: TrainConfig, dist: Dist, model: torch.nn.Module, engine: Any, optimizer: Any,
                    step: int, position: int, base_ref: str, lora: dict | None) -> Path:  # fmt: skip
    """checkpoint-{step}/ written beside its final name and renamed into place when complete."""
    from .checkpoint import save_delta, save_pretrained

    out = Path(cfg.output_dir)
    final = out / f"checkpoint-{step}"
    tmp = out / f".checkpoint-{step}.tmp"
    if dist.main:
        shutil.rmtree(tmp, ignore_errors=True)
    dist.barrier()
    names = list(trainable_names(model))
    params = [p for n, p in model.named_parameters() if full_checkpoint(cfg) or n in names]
    with gathered(engine, params):  # collective under ZeRO-3: every rank enters
        if dist.main:
            extra = {"training": {"step": step}}
            if full_checkpoint(cfg):
                save_pretrained(model, tmp, extra=extra)
            else:
                save_delta(model, tmp, base=base_ref, names=names, lora=lora, extra=extra)
    dist.barrier()
    if engine is not None:  # optimizer partitions, one file per rank
        engine.save_checkpoint(str(tmp / DS_DIR), tag="state", save_latest=False)
    torch.save(rng_state(), tmp / f"rng-rank{dist.rank}.pt")
    dist.barrier()
    if dist.main:
        if engine is None:
            torch.save(optimizer.state_dict(), tmp / OPTIMIZER)
        (tmp / CONFIG_FILE).write_text(dump_yaml(cfg))
        _fault("sigkill-in-save", step)
        state = {"step": step, "data_position": position, "world": dist.world, "deepspeed": engine is not None}
        (tmp / STATE).write_text(json.dumps(state, indent=2))  # last: its presence marks a complete folder
        for f in tmp.rglob("*"):
            if f.is_file():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
        if final.exists():  # a re-run of the same step: replace it
            shutil.rmtree(final)
        os.rename(tmp, final)
        if cfg.keep_checkpoints:
            for old in complete_checkpoints(out)[: -cfg.keep_checkpoints]:
                shutil.rmtree(old, ignore_errors=True)
    dist.barrier()
    return final


def load_checkpoint(path: Path, cfg: TrainConfig, dist: Dist, model: torch.nn.Module, engine: Any,
                    optimizer: Any) -> dict[str, Any]:  # fmt: skip
    """Restore weights, optimizer, RNG; return the state (step, data position)."""
    from safetensors.torch import load_file, load_model

    from .checkpoint import DELTA_WEIGHTS, WEIGHTS

    state = json.loads((path / STATE).read_text())
    if state["deepspeed"] != (engine is not None):
        raise UserError(f"{path}: saved {'with' if state['deepspeed'] else 'without'} DeepSpeed; resume it the same way")
    if engine is not None:
        engine.load_checkpoint(str(path / DS_DIR), tag="state", load_optimizer_states=True, load_lr_scheduler_states=False)
    else:
        if full_checkpoint(cfg):
            # safetensors stores tied weights once; load_model knows which names share a tensor
            missing, unexpected = load_model(model, str(path / WEIGHTS), strict=False)
            if missing or unexpected:
                raise UserError(f"{path}: saved weights do not fit this model (e.g. {(missing + unexpected)[0]})")
        else:
            weights = load_file(str(path / DELTA_WEIGHTS))
            params = dict(model.named_parameters())
            missing = sorted(set(trainable_names(model)) - set(weights))
            if missing or set(weights) - set(params):
                raise UserError(f"{path}: saved weights do not fit this run's trainable parameters (e.g. {(missing or sorted(set(weights) - set(params)))[0]})")
            with torch.no_grad():
                for k, v in weights.items():
                    params[k].copy_(v)
        optimizer.load_state_dict(torch.load(path / OPTIMIZER, weights_only=False))
    rng = path / f"rng-rank{dist.rank}.pt"
    if rng.exists():  # another world size: the RNG streams differ anyway
        set_rng_state(torch.load(rng, weights_only=False))
    return state


def resume_path(cfg: TrainConfig) -> Path | None:
    if not cfg.resume:
        return None
    if cfg.resume == "auto":
        found = complete_checkpoints(Path(cfg.output_dir))
        return found[-1] if found else None  # nothing saved yet: start from scratch
    p = Path(cfg.resume)
    if not (p / STATE).exists():
        raise UserError(f"resume={p}: not a complete checkpoint folder (no {STATE})")
    return p


# ----------------------------------------------------------------------------------------------
# logging
# ----------------------------------------------------------------------------------------------
class Logger:
    def __init__(self, cfg: TrainConfig, dist: Dist, start_step: int):
        self.main = dist.main
        self.path = Path(cfg.output_dir) / LOG
        self.tb = None
        if not self.main:
            return
        if self.path.exists():  # a resumed run: drop what the killed run logged past the checkpoint
            keep = [line for line in self.path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= start_step]
            self.path.write_text("".join(line + "\n" for line in keep))
        if cfg.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(Path(cfg.output_dir) / "tb"), purge_step=start_step + 1)
            except ImportError:  # tensorboard is optional
                self.tb = None
        self.bar = None
        if cfg.progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=cfg.max_steps, initial=start_step, desc="train", dynamic_ncols=True, disable=None)

    def log(self, row: dict[str, Any]) -> None:
        if not self.main:
            return
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")
        if self.tb is not None:
            for k, v in row.items():
                if k != "step" and isinstance(v, (int, float)):
                    self.tb.add_scalar(f"train/{k}", v, row["step"])

    def tick(self, row: dict[str, Any]) -> None:
        if self.main and self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{row['loss']:.4f}", lr=f"{row['lr']:.2e}", tok_s=f"{row['tokens_per_s']:.0f}")

    def close(self) -> None:
        if self.main and self.bar is not None:
            self.bar.close()
        if self.tb is not None:
            self.tb.close()


def plot_loss(log: Path, out: Path) -> Path | None:
    """loss.png from train_log.jsonl (matplotlib, headless); None when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], lw=1.2)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (mean CE per assistant token)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


# ----------------------------------------------------------------------------------------------
# the loop
# ----------------------------------------------------------------------------------------------
def load_examples(cfg: TrainConfig, model: Any):
    from .data import measure, read_corpus, read_manifest

    d = cfg.data
    convs = read_manifest(d.manifest) if d.manifest else read_corpus(d.corpus, d.mixture, d.corpus_samples, cfg.seed)
    examples = measure(convs, model.tokenizer, model.config)
    if d.max_audio_seconds:
        examples = [e for e in examples if e.samples <= d.max_audio_seconds * A.SAMPLE_RATE]
    examples = [e for e in examples if e.labels > 0]  # nothing to learn (e.g. an empty answer)
    if not examples:
        raise UserError("no training conversations left (check data.max_audio_seconds and the answers)")
    return examples


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Run training as configured; returns a summary (last loss, steps, throughput)."""
    from .data import BatchPlan, Collate, loader

    dist = init_dist(cfg)
    out = Path(cfg.output_dir)
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
    dist.barrier()
    seed_all(cfg.seed)
    model, base_ref, lora = build_model(cfg, dist)
    accum = cfg.accumulation(dist.world)
    examples = load_examples(cfg, model)
    plan = BatchPlan(examples, cfg.data.micro_batch_size, cfg.data.bucket_batches, cfg.seed)
    per_step = accum * dist.world  # micro-batches per optimizer step, all processes
    cache = EncoderCache(model.encoder) if cfg.model.cache_encoder_features else None
    if cfg.model.encoder == "frozen":
        model.encoder.eval()  # frozen: no dropout, and the same frames whether cached or not

    optimizer = make_optimizer(cfg, model)
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)  # before ZeRO-3 partitions them
    engine = None
    net: torch.nn.Module = model
    if cfg.deepspeed:
        import deepspeed

        # the encoder reads its position table directly (not through a module call): ZeRO-3
        # must gather it whenever the encoder module runs
        deepspeed.zero.register_external_parameter(model.encoder, model.encoder.whisper.embed_positions.weight)
        engine, optimizer, _, _ = deepspeed.initialize(
            model=model, optimizer=optimizer, config=deepspeed_config(cfg, accum, dist.world),
            model_parameters=[p for p in model.parameters() if p.requires_grad],
        )  # fmt: skip
        net = engine
    elif dist.world > 1:
        # a micro-batch without audio leaves the projector (and encoder) without a gradient
        text_only = any(e.samples == 0 for e in examples)
        net = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=text_only)

    step, position = 0, 0
    ckpt = resume_path(cfg)
    if ckpt is not None:
        state = load_checkpoint(ckpt, cfg, dist, model, engine, optimizer)
        step, position = state["step"], state["data_position"]
        if dist.main:
            print(f"resumed from {ckpt} at step {step}", file=sys.stderr)
    if dist.main:
        (out / CONFIG_FILE).write_text(dump_yaml(cfg))
        waste, flat = plan.waste()
        print(
            f"train: {len(examples)} conversations, {dist.world} process(es) x {accum} accumulation x "
            f"{cfg.data.micro_batch_size} = global batch {cfg.data.micro_batch_size * per_step}; "
            f"{n_train / 1e6:.2f} M trainable parameters; precision {precision_note(cfg, dist.device)}; padding waste {waste:.1%} bucketed vs {flat:.1%} unbucketed",
            file=sys.stderr,
        )  # fmt: skip
    logger = Logger(cfg, dist, step)
    batches = loader(plan, Collate(examples, model.tokenizer, model.config), position, dist.rank, dist.world, cfg.data.num_workers)
    precision = resolve_precision(cfg, dist.device)
    autocast = torch.autocast(dist.device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
    summary: dict[str, Any] = {"losses": []}
    t_start = time.perf_counter()
    tokens_total = seconds_total = 0.0
    row: dict[str, Any] = {}

    while step < cfg.max_steps:
        t0 = time.perf_counter()
        lr = lr_at(cfg, step)
        for g in optimizer.param_groups:
            g["lr"] = lr
        micro = [next(batches) for _ in range(accum)]
        # THE normaliser: assistant tokens in the whole global batch (all micro-batches, processes)
        n_global = dist.all_sum([float(sum(m.labels for m in micro))])[0]
        loss_sum = tokens = seconds = text_waste = audio_waste = 0.0
        for i, mb in enumerate(micro):
            b = mb.batch.to(dist.device)
            if cache is not None:
                cache.keys = mb.window_keys
            last = i == accum - 1
            sync = nullcontext() if (last or engine is not None or dist.world == 1) else net.no_sync()
            with sync:
                with autocast:
                    # loss = sum CE * P / n_global: DDP/DeepSpeed average over P -> grad of the global mean
                    res = net(input_ids=b.input_ids, attention_mask=b.attention_mask, audio=b.audio, labels=b.labels,
                              loss_normalizer=n_global / dist.world, objective=cfg.objective)  # fmt: skip
                if engine is not None:
                    engine.backward(res["loss"], scale_wrt_gas=False)  # the scaling is already ours
                    engine.step()  # DeepSpeed steps the optimizer only at the accumulation boundary
                else:
                    res["loss"].backward()
            loss_sum += float(res["loss_sum"])
            tokens += mb.tokens
            seconds += b.audio_seconds
            text_waste += mb.text_waste / accum
            audio_waste += mb.audio_waste / accum
        if engine is None:
            grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip or float("inf")))
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        else:
            grad_norm = float(engine.get_global_grad_norm() or 0.0)
        step += 1
        position += per_step
        loss_sum, tokens, seconds, text_waste, audio_waste = dist.all_sum([loss_sum, tokens, seconds, text_waste, audio_waste])
        dt = time.perf_counter() - t0
        tokens_total += tokens
        seconds_total += seconds
        loss = loss_sum / n_global
        summary["losses"].append(loss)
        row = {
            "step": step, "loss": loss, "lr": lr, "grad_norm": grad_norm, "tokens_per_s": tokens / dt,
            "audio_seconds_per_s": seconds / dt, "assistant_tokens": int(n_global), "tokens": int(tokens),
            "text_padding": text_waste / dist.world, "audio_padding": audio_waste / dist.world,
            "step_seconds": dt, "elapsed": time.perf_counter() - t_start,
        }  # fmt: skip
        if step % cfg.log_every == 0 or step == cfg.max_steps:
            logger.log(row)
        logger.tick(row)
        _fault("sigkill-after-step", step)
        if (cfg.save_every and step % cfg.save_every == 0) or step == cfg.max_steps:
            save_checkpoint(cfg, dist, model, engine, optimizer, step, position, base_ref, lora)
    logger.close()
    elapsed = time.perf_counter() - t_start
    if dist.main and cfg.loss_plot and (out / LOG).exists():
        plot_loss(out / LOG, out / "loss.png")
    summary.update(
        steps=step, last=row, seconds=elapsed, tokens_per_s=tokens_total / max(elapsed, 1e-9),
        audio_seconds_per_s=seconds_total / max(elapsed, 1e-9),
        cache={"hits": cache.hits, "misses": cache.misses} if cache else None,
    )  # fmt: skip
    if dist.world > 1 and engine is None:
        torch.distributed.destroy_process_group()
    return summary


# ----------------------------------------------------------------------------------------------
# entry points
# ----------------------------------------------------------------------------------------------
USAGE = "usage: qwenlike train CONFIG.yaml [--resume] [key=value ...]"


def parse_argv(argv: list[str]) -> TrainConfig:
    """CONFIG.yaml [--resume] [key=value ...] -> TrainConfig. `--resume` = `resume=auto`."""
    args = list(argv)
    # launchers (deepspeed) append --local_rank=N; the environment carries the same number
    args = [a for a in args if not a.startswith("--local_rank") and not a.startswith("--local-rank")]
    overrides = [a for a in args if "=" in a and not a.startswith("-")]
    flags = [a for a in args if a.startswith("-")]
    positional = [a for a in args if a not in overrides and a not in flags]
    for f in flags:
        if f == "--resume":
            overrides.append("resume=auto")
        elif f in ("-h", "--help"):
            raise UserError(USAGE)
        else:
            raise UserError(f"unknown option {f} ({USAGE})")
    if len(positional) > 1:
        raise UserError(f"one config file expected, got {positional} ({USAGE})")
    return load_config(positional[0] if positional else None, overrides)


def run(argv: list[str]) -> dict[str, Any]:
    """Parse and train; raises UserError on bad input (the CLI prints it as one line)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    return train(parse_argv(argv))


def main(argv: list[str] | None = None) -> int:
    """`qwenlike train ...` / `python -m qwenlike.train ...`: 0 on success, 2 on bad input."""
    try:
        run(list(sys.argv[1:] if argv is None else argv))
    except UserError as e:
        print(f"qwenlike: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
