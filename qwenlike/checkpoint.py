"""Save and load AudioLM checkpoints; import from and export to transformers' Qwen2-Audio.

Floor 4. A qwenlike checkpoint folder:
    config.json         {"qwenlike": AudioLMConfig, "features": the log-mel settings}
    model.safetensors   every weight (shared tensors stored once)
    tokenizer files     the LM's tokenizer with the audio special tokens and its chat template
Writes are atomic: a folder is written beside its target and renamed into place.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from . import audio as A
from .errors import UserError
from .model import AudioLM, AudioLMConfig, encoder_dict
from .projector import ProjectorConfig

CONFIG = "config.json"
WEIGHTS = "model.safetensors"


def features_dict(config: AudioLMConfig) -> dict[str, Any]:
    return {
        "sampling_rate": A.SAMPLE_RATE, "n_fft": A.N_FFT, "hop_length": A.HOP, "n_mels": config.n_mels,
        "window_samples": A.WINDOW_SAMPLES, "pad_to_window": config.pad_to_window,
    }  # fmt: skip


class atomic_dir:
    """`with atomic_dir(out) as tmp:` write into tmp; on success tmp replaces out in one rename."""

    def __init__(self, out: str | Path):
        self.out = Path(out)

    def __enter__(self) -> Path:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.tmp-", dir=self.out.parent))
        os.chmod(self.tmp, 0o755)  # mkdtemp makes it private; a model folder is shared like any other
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        for f in self.tmp.rglob("*"):  # data on disk before the rename makes it visible
            if f.is_file():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
        old = None
        if self.out.exists():
            old = self.out.with_name(f".{self.out.name}.old-{os.getpid()}")
            os.rename(self.out, old)
        os.rename(self.tmp, self.out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def save_pretrained(model: AudioLM, out: str | Path, extra: dict[str, Any] | None = None) -> Path:
    from safetensors.torch import save_model

    with atomic_dir(out) as tmp:
        meta = {"qwenlike": model.config.to_dict(), "features": features_dict(model.config)}
        if extra:
            meta.update(extra)
        (tmp / CONFIG).write_text(json.dumps(meta, indent=2, sort_keys=True))
        save_model(model, str(tmp / WEIGHTS))
        if model.tokenizer is not None:
            model.tokenizer.save_pretrained(tmp)
    return Path(out)


def _read_config(path: Path) -> dict[str, Any]:
    f = path / CONFIG
    if not path.is_dir():
        raise UserError(f"{path}: model folder not found")
    if not f.exists():
        raise UserError(f"{path}: not a model folder (no {CONFIG})")
    try:
        return json.loads(f.read_text())
    except json.JSONDecodeError as e:
        raise UserError(f"{f}: invalid JSON ({e.msg} at line {e.lineno})") from None


def from_pretrained(path: str | Path, dtype: torch.dtype | None = None, device: str | None = None) -> AudioLM:
    """Load a qwenlike checkpoint, or import a transformers Qwen2-Audio folder on the fly."""
    from safetensors.torch import load_model
    from transformers import AutoTokenizer

    from .paths import resolve_model_ref

    path = resolve_model_ref(path)
    meta = _read_config(path)
    if "delta" in meta:
        model = load_delta(path, meta)
    elif meta.get("model_type") == "qwen2_audio":
        model = import_qwen2_audio(path)
    elif "qwenlike" in meta:
        config = AudioLMConfig.from_dict(meta["qwenlike"])
        tok = AutoTokenizer.from_pretrained(path)
        model = AudioLM(config, tokenizer=tok)
        weights = path / WEIGHTS
        if not weights.exists():
            raise UserError(f"{path}: no {WEIGHTS}")
        missing, unexpected = load_model(model, str(weights), strict=False)
        if missing or unexpected:
            raise UserError(f"{weights}: weights do not fit the config ({len(missing)} missing, {len(unexpected)} unexpected, e.g. {(missing + unexpected)[0]})")
    else:
        raise UserError(f"{path / CONFIG}: neither a qwenlike nor a Qwen2-Audio config")
    model.eval()
    if dtype is not None:
        model.to(dtype)
    if device is not None:
        model.to(device)
    return model


# ----------------------------------------------------------------------------------------------
# Qwen2-Audio <-> qwenlike
# ----------------------------------------------------------------------------------------------
def _q2a_to_ours(key: str) -> str:
    for old, new in (("model.audio_tower.", "audio_tower."), ("model.multi_modal_projector.", "multi_modal_projector."),
                     ("model.language_model.", "language_model.model."), ("lm_head.", "language_model.lm_head.")):  # fmt: skip
        if key.startswith(old):
            key = new + key[len(old) :]
            break
    if key.startswith("audio_tower.layer_norm."):
        return "projector.norm." + key[len("audio_tower.layer_norm.") :]
    if key.startswith("audio_tower."):
        return "encoder.whisper." + key[len("audio_tower.") :]
    if key.startswith("multi_modal_projector."):
        return "projector." + key[len("multi_modal_projector.") :]
    if key.startswith("language_model."):
        return "lm." + key[len("language_model.") :]
    raise UserError(f"unexpected Qwen2-Audio weight {key!r}")


def _ours_to_q2a(key: str) -> str:
    if key.startswith("projector.norm."):
        return "audio_tower.layer_norm." + key[len("projector.norm.") :]
    if key.startswith("encoder.whisper."):
        return "audio_tower." + key[len("encoder.whisper.") :]
    if key.startswith("projector."):
        return "multi_modal_projector." + key[len("projector.") :]
    if key.startswith("lm."):
        return "language_model." + key[len("lm.") :]
    raise ValueError(f"no Qwen2-Audio name for {key!r}")


def _load_safetensors_dir(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise UserError(f"{path}: no .safetensors weights")
    state: dict[str, torch.Tensor] = {}
    for f in files:
        state.update(load_file(str(f)))
    return state


def import_qwen2_audio(path: str | Path) -> AudioLM:
    """A transformers `Qwen2AudioForConditionalGeneration` folder -> AudioLM with identical numerics."""
    from transformers import AutoTokenizer, Qwen2AudioConfig

    path = Path(path)
    cfg = Qwen2AudioConfig.from_pretrained(path)
    config = AudioLMConfig(
        encoder=encoder_dict(cfg.audio_config),
        lm=cfg.text_config.to_dict(),
        projector=ProjectorConfig(kind="pool-linear", stride=2, norm=True),
        encoder_final_norm=False,  # Qwen2-Audio: layers -> AvgPool(2) -> LayerNorm -> Linear
        pad_to_window=True,  # its encoder saw 30 s of features with the padding masked
        chat_template="qwen2-audio",
    )
    tok = AutoTokenizer.from_pretrained(path)
    model = AudioLM(config, tokenizer=tok)
    if tok.convert_tokens_to_ids(config.audio_token) != cfg.audio_token_index:
        raise UserError(f"{path}: tokenizer's {config.audio_token} id differs from audio_token_index={cfg.audio_token_index}")
    state = {_q2a_to_ours(k): v for k, v in _load_safetensors_dir(path).items()}
    if model.lm.config.tie_word_embeddings:
        state.pop("lm.lm_head.weight", None)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not (k == "lm.lm_head.weight" and model.lm.config.tie_word_embeddings)]
    if missing or unexpected:
        raise UserError(f"{path}: Qwen2-Audio weights do not map ({len(missing)} missing, {len(unexpected)} unexpected, e.g. {(missing + unexpected)[0]})")
    return model.eval()


def export_qwen2_audio(model: AudioLM, out: str | Path) -> Path:
    """AudioLM with the Qwen2-Audio layout -> a folder transformers' Qwen2-Audio classes load."""
    from safetensors.torch import save_file
    from transformers import Qwen2AudioConfig, Qwen2AudioEncoderConfig, Qwen2AudioProcessor, WhisperFeatureExtractor

    c = model.config
    if c.projector.kind != "pool-linear" or c.projector.stride != 2 or not c.projector.norm or c.encoder_final_norm or c.encoder_taps or c.utterance_block or c.label_head:
        raise UserError("only models with the Qwen2-Audio layout (pool-linear, stride 2, norm after pooling, no encoder taps, no utterance vector, no label head) export to qwen2-audio")
    if c.lm.get("model_type") != "qwen2":
        raise UserError(f"Qwen2-Audio needs a Qwen2 language model; this one is {c.lm.get('model_type')!r}")
    audio_cfg = Qwen2AudioEncoderConfig(**encoder_dict(c.encoder))
    cfg = Qwen2AudioConfig(audio_config=audio_cfg, text_config=c.lm, audio_token_index=model.audio_token_id)
    state = {}
    for k, v in model.state_dict().items():
        state[_ours_to_q2a(k)] = v.detach().contiguous().clone()
    with atomic_dir(out) as tmp:
        cfg.save_pretrained(tmp)
        save_file(state, str(tmp / WEIGHTS), metadata={"format": "pt"})
        proc = Qwen2AudioProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=c.n_mels), tokenizer=model.tokenizer)
        proc.save_pretrained(tmp)
    return Path(out)


# ----------------------------------------------------------------------------------------------
# delta checkpoints: only the trained weights (LoRA adapters, projector, ...) plus a base path
# ----------------------------------------------------------------------------------------------
DELTA_WEIGHTS = "delta.safetensors"


def lora_regex(lm_targets: list[str], encoder_targets: list[str]) -> str:
    """peft `target_modules` as one regex over AudioLM module names (lm.* and encoder.* only)."""
    parts = []
    if lm_targets:
        parts.append(r"lm\..*\.(" + "|".join(lm_targets) + ")")
    if encoder_targets:
        parts.append(r"encoder\..*\.(" + "|".join(encoder_targets) + ")")
    return "|".join(parts)


def apply_lora(model: AudioLM, spec: dict[str, Any]) -> AudioLM:
    """Inject LoRA layers in place; spec = {"r", "alpha", "dropout", "target_modules" (regex)}."""
    from peft import LoraConfig, inject_adapter_in_model

    cfg = LoraConfig(r=spec["r"], lora_alpha=spec["alpha"], lora_dropout=spec["dropout"], target_modules=spec["target_modules"])
    inject_adapter_in_model(cfg, model)
    return model


def merge_lora(model: AudioLM) -> AudioLM:
    """Fold every LoRA layer into its base weight and put the plain layer back (export form)."""
    from peft.tuners.lora import LoraLayer

    for name, module in list(model.named_modules()):
        if isinstance(module, LoraLayer):
            module.merge()
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name) if parent_name else model, child, module.get_base_layer())
    if hasattr(model, "peft_config"):  # no LoRA layer is left: a later stage's LoRA is not a second adapter
        del model.peft_config
    return model


def save_delta(model: AudioLM, out: str | Path, base: str, names: list[str], lora: dict[str, Any] | None,
               extra: dict[str, Any] | None = None) -> Path:
    """Write only the parameters in `names` (and the config, tokenizer) plus the base model's path.

    `base` is relative to `out`, absolute, `default` or a build spec (`paths.is_build_spec`). `from_pretrained(out)` loads the base, injects the
    same LoRA layers, loads these weights and merges them: the result is a plain AudioLM.
    """
    from safetensors.torch import save_file

    params = dict(model.named_parameters())
    state = {n: params[n].detach().contiguous().clone() for n in names}
    with atomic_dir(out) as tmp:
        meta = {"qwenlike": model.config.to_dict(), "features": features_dict(model.config),
                "delta": {"base": base, "lora": lora}}  # fmt: skip
        if extra:
            meta.update(extra)
        (tmp / CONFIG).write_text(json.dumps(meta, indent=2, sort_keys=True))
        save_file(state, str(tmp / DELTA_WEIGHTS), metadata={"format": "pt"})
        if model.tokenizer is not None:
            model.tokenizer.save_pretrained(tmp)
    return Path(out)


def pack_delta(src: str | Path, out: str | Path, dtype: torch.dtype = torch.float16) -> Path:
    """A delta checkpoint as it ships: its config, tokenizer and trained weights (stored in `dtype`,
    fp16 by default: half the bytes, loaded back into fp32 parameters), without the training state
    (optimizer, RNG, trainer state; the resolved train_config.yaml stays). Written atomically. A stage
    trained on an earlier LoRA stage (its base is that delta) is folded into one delta over the first
    plain base, so that the package needs no training folder."""
    from safetensors.torch import save_file

    src = Path(src)
    meta = _read_config(src)
    if "delta" not in meta:
        raise UserError(f"{src}: not a delta checkpoint (nothing to pack)")
    training = {"optimizer.pt", "trainer_state.json", DELTA_WEIGHTS}
    meta, state = _fold_delta_bases(src, meta, _delta_weights(src))
    state = {k: v.to(dtype).contiguous() for k, v in state.items()}
    with atomic_dir(out) as tmp:
        for f in src.iterdir():
            if f.is_file() and f.name not in training and not f.name.startswith("rng-rank"):
                shutil.copy2(f, tmp / f.name)
        meta["delta"]["stored_dtype"] = str(dtype).replace("torch.", "")
        (tmp / CONFIG).write_text(json.dumps(meta, indent=2, sort_keys=True))
        save_file(state, str(tmp / DELTA_WEIGHTS), metadata={"format": "pt"})
        os.chmod(tmp / DELTA_WEIGHTS, 0o644)  # safetensors writes 0600; a shipped file is readable by all
    return Path(out)


def _fold_delta_bases(path: Path, meta: dict[str, Any], state: dict[str, torch.Tensor]):
    """A delta whose base is itself a LoRA delta (a stage trained on a merged earlier stage) -> one delta
    over the first plain base: the earlier stage's weights that this one did not retrain are kept, and
    the two LoRAs become one of rank r1 + r2 (A stacked, B side by side, each B scaled by its own
    alpha/r, alpha = rank), which adds exactly the same weight change as merging both in turn."""
    from .paths import is_build_spec

    while True:
        ref = _base_ref(path, meta["delta"]["base"])
        if ref == "default" or is_build_spec(ref):
            return meta, state
        base = Path(ref)
        base_meta = _read_config(base) if (base / CONFIG).exists() else {}
        if "delta" not in base_meta:
            return meta, state
        base_state = _delta_weights(base)
        lora1, lora2 = base_meta["delta"].get("lora"), meta["delta"].get("lora")
        plain = {**{k: v for k, v in base_state.items() if ".lora_" not in k},
                 **{k: v for k, v in state.items() if ".lora_" not in k}}  # fmt: skip
        if lora1 and lora2:
            lora, lora_state = _stack_loras(lora1, base_state, lora2, state)
        else:
            lora = lora1 or lora2
            lora_state = {k: v for k, v in (base_state if lora1 else state).items() if ".lora_" in k}
        meta = {**meta, "delta": {**meta["delta"], "base": _base_ref(base, base_meta["delta"]["base"]), "lora": lora}}
        state, path = {**plain, **lora_state}, base


def _stack_loras(spec1: dict[str, Any], s1: dict[str, torch.Tensor], spec2: dict[str, Any], s2: dict[str, torch.Tensor]):
    """Two LoRAs over the same weights as one: rank r1 + r2, alpha = rank (scale 1), each B carrying its
    own scale; a module only one of them adapts gets zeros in the other's rows."""
    r1, r2 = int(spec1["r"]), int(spec2["r"])
    k1, k2 = spec1["alpha"] / r1, spec2["alpha"] / r2
    names: dict[str, dict[str, str]] = {}  # module -> {"A": its lora_A key, "B": its lora_B key}
    for k in (*s1, *s2):
        if ".lora_" in k:
            module, _, rest = k.partition(".lora_")
            names.setdefault(module, {})[rest[0]] = k
    out: dict[str, torch.Tensor] = {}
    for m in sorted(names):
        a_key, b_key = names[m]["A"], names[m]["B"]
        a1, b1 = s1.get(a_key), s1.get(b_key)
        a2, b2 = s2.get(a_key), s2.get(b_key)
        fan_in = (a1 if a1 is not None else a2).shape[1]
        fan_out = (b1 if b1 is not None else b2).shape[0]
        a1 = a1.float() if a1 is not None else torch.zeros(r1, fan_in)
        b1 = b1.float() * k1 if b1 is not None else torch.zeros(fan_out, r1)
        a2 = a2.float() if a2 is not None else torch.zeros(r2, fan_in)
        b2 = b2.float() * k2 if b2 is not None else torch.zeros(fan_out, r2)
        out[a_key] = torch.cat([a1, a2], 0)
        out[b_key] = torch.cat([b1, b2], 1)
    t1, t2 = spec1["target_modules"], spec2["target_modules"]
    spec = {"r": r1 + r2, "alpha": r1 + r2, "dropout": 0.0,
            "target_modules": t1 if t1 == t2 else f"(?:{t1})|(?:{t2})"}  # fmt: skip
    return spec, out


TRAINING_ONLY = ("ctc_head.",)  # weights a checkpoint keeps for resume that are not part of the model


def _delta_weights(path: Path) -> dict[str, torch.Tensor]:
    """A delta folder's model weights: its stored tensors without the training-only ones (`objective:
    ctc`'s head: blank vector and logit scale, kept for resume)."""
    from safetensors.torch import load_file

    return {k: v for k, v in load_file(str(path / DELTA_WEIGHTS)).items() if not k.startswith(TRAINING_ONLY)}


def delta_parts(path: str | Path) -> tuple[str, set[str], bool] | None:
    """(base reference as stored or made absolute, stored weight names, has LoRA) of a delta checkpoint,
    or None for any other model folder."""
    from safetensors import safe_open

    path = Path(path)
    meta = _read_config(path)
    if "delta" not in meta:
        return None
    with safe_open(str(path / DELTA_WEIGHTS), framework="pt") as f:
        names = {k for k in f.keys() if not k.startswith(TRAINING_ONLY)}
    return _base_ref(path, meta["delta"]["base"]), names, bool(meta["delta"].get("lora"))


def _base_ref(path: Path, ref: str) -> str:
    """A delta's stored base reference, usable from anywhere: `default` and build specs as written,
    a path relative to the delta folder made absolute."""
    from .paths import is_build_spec

    if ref == "default" or is_build_spec(ref) or Path(ref).is_absolute():
        return ref
    return str((path / ref).resolve())


def load_delta(path: Path, meta: dict[str, Any], merge: bool = True) -> AudioLM:
    """A delta checkpoint -> base model + its LoRA layers + the stored weights (merged by default)."""
    from .paths import resolve_model_ref

    # a build spec (e.g. whisper-base+smollm2-135m-instruct) is assembled from installed packages
    base = resolve_model_ref(_base_ref(path, meta["delta"]["base"]))
    if not (base / CONFIG).exists():
        raise UserError(f"{path}: its base model {base} is missing (a delta checkpoint stores only trained weights)")
    if (base / CONFIG).resolve() == (path / CONFIG).resolve():
        raise UserError(f"{path}: a delta checkpoint cannot be its own base")
    model = from_pretrained(base)
    taps = meta.get("qwenlike", {}).get("encoder_taps", [])
    if list(taps) != list(model.config.encoder_taps):
        try:
            model.set_encoder_taps(taps)  # a wider adapter input than the base's: its weights are in the delta
        except ValueError as e:
            raise UserError(f"{path}: {e}") from None
    utterance = meta.get("qwenlike", {}).get("utterance_block", 0)
    if utterance != model.config.utterance_block:
        try:
            model.set_utterance_block(utterance)  # trained over a base without one: its weights are in the delta
        except ValueError as e:
            raise UserError(f"{path}: {e}") from None
    head = meta.get("qwenlike", {}).get("label_head")
    if head != model.config.label_head:
        try:
            model.set_label_head(head)  # fitted over a base without one: its weights are in the delta
        except ValueError as e:
            raise UserError(f"{path}: {e}") from None
    if meta["delta"].get("lora"):
        apply_lora(model, meta["delta"]["lora"])
    f = path / DELTA_WEIGHTS
    if not f.exists():
        raise UserError(f"{path}: no {DELTA_WEIGHTS}")
    state = _delta_weights(path)
    params = dict(model.named_parameters())
    unknown = sorted(set(state) - set(params))
    if unknown:
        raise UserError(f"{f}: {len(unknown)} weights do not fit the base model, e.g. {unknown[0]}")
    with torch.no_grad():
        for k, v in state.items():
            if params[k].shape != v.shape:
                raise UserError(f"{f}: {k} has shape {tuple(v.shape)}, the base model's is {tuple(params[k].shape)}")
            params[k].copy_(v)
    return merge_lora(model) if merge else model
