"""`qwenlike build`: assemble an untrained-adapter AudioLM from an encoder and an LM on disk.

Floor 4. Sources are whatever `convert.sources` resolves: transformers folders, CTranslate2
Whisper folders (also split across packages), GGUF files, installed package names, or the
aliases `whisper-base` and `smollm2-135m-instruct`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .chat import AUDIO_SPECIAL_TOKENS
from .errors import UserError
from .model import AudioLM, AudioLMConfig, encoder_dict
from .projector import ProjectorConfig

CHATML = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def add_audio_tokens(lm: Any, tokenizer: Any) -> list[int]:
    """Add <|audio_bos|> <|AUDIO|> <|audio_eos|> and give their embeddings the mean of the vocabulary.

    The mean keeps the new rows at the scale of real tokens (random rows at init scale would not be),
    so an untrained model's prompt is not thrown off by them; <|AUDIO|> rows are replaced by audio
    features anyway.
    """
    new = [t for t in AUDIO_SPECIAL_TOKENS if tokenizer.convert_tokens_to_ids(t) in (None, tokenizer.unk_token_id)]
    if new:
        tokenizer.add_tokens(new, special_tokens=True)
    n_old = lm.get_input_embeddings().weight.shape[0]
    if len(tokenizer) > n_old:
        lm.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        with torch.no_grad():
            for emb in {id(e): e for e in (lm.get_input_embeddings(), lm.get_output_embeddings()) if e is not None}.values():
                emb.weight[n_old:] = emb.weight[:n_old].mean(0, keepdim=True)
    return [tokenizer.convert_tokens_to_ids(t) for t in AUDIO_SPECIAL_TOKENS]


def build(encoder: str, llm: str, out: str | Path, projector: str = "stack-mlp", dtype: str = "fp32", stride: int | None = None, seed: int = 0) -> Path:
    from .convert.sources import resolve_encoder, resolve_lm

    torch_dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}.get(dtype)
    if torch_dtype is None:
        raise UserError(f"--dtype must be fp32 or bf16, not {dtype!r}")
    enc_cfg, enc_state, _info = resolve_encoder(encoder)
    lm, tok = resolve_lm(llm, dtype=torch.float32)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if not getattr(tok, "chat_template", None):
        tok.chat_template = CHATML
    add_audio_tokens(lm, tok)
    qwen2 = lm.config.model_type == "qwen2"
    pcfg = ProjectorConfig(kind=projector, stride=stride or (2 if projector == "pool-linear" else 4), hidden=2048)
    config = AudioLMConfig(
        encoder=encoder_dict(enc_cfg),
        lm=lm.config.to_dict(),
        projector=pcfg,
        chat_template="qwen2-audio" if qwen2 else "tokenizer",
    )
    torch.manual_seed(seed)  # the projector's initial weights
    model = AudioLM(config, lm=lm, tokenizer=tok)
    missing, unexpected = model.encoder.whisper.load_state_dict(enc_state, strict=False)
    if unexpected or [k for k in missing if not k.startswith("embed_positions")]:
        raise UserError(f"{encoder}: encoder weights do not fit ({len(missing)} missing, {len(unexpected)} unexpected)")
    model.to(torch_dtype).eval()
    model.save_pretrained(str(out))
    return Path(out)
