"""Tiny models built from configs, no hub: for tests, benchmarks and the README's first run.

A byte-level BPE tokenizer trained on a fixed text (deterministic), with Qwen2's chat special
tokens and the audio tokens; tiny Whisper / Qwen2 / Qwen2-Audio configs with random weights.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .chat import AUDIO_SPECIAL_TOKENS

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_TEXT = """
the quick brown fox jumps over the lazy dog. what is the capital of france? paris is the capital.
a dog is barking in the distance while rain falls on a tin roof. someone is speaking english.
transcribe the audio. what sound is this? classify the sound event. describe the music.
a man says hello, how are you today. a woman sings a song with a piano. the bell rings twice.
one two three four five six seven eight nine ten. yes no maybe. cat bird car train engine.
Audio 1: Audio 2: what language is spoken? is the speaker male or female? count the knocks.
"""


def tiny_tokenizer(vocab_size: int = 400, audio_tokens: bool = True):
    """A deterministic byte-level BPE tokenizer with ChatML (and, unless told not to, audio) special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    audio = AUDIO_SPECIAL_TOKENS if audio_tokens else []
    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + audio
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([_TEXT] * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"] + audio,
    )
    fast.chat_template = CHATML_TEMPLATE
    return fast


def tiny_whisper_config(n_mels: int = 80, d_model: int = 64, layers: int = 2, heads: int = 4):
    from transformers import WhisperConfig

    return WhisperConfig(
        num_mel_bins=n_mels,
        d_model=d_model,
        encoder_layers=layers,
        encoder_attention_heads=heads,
        encoder_ffn_dim=4 * d_model,
        decoder_layers=1,
        decoder_attention_heads=heads,
        decoder_ffn_dim=4 * d_model,
        max_source_positions=1500,
        vocab_size=64,
        pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=3,
        begin_suppress_tokens=None, suppress_tokens=None,
    )  # fmt: skip


def tiny_qwen2_config(vocab_size: int, hidden: int = 64, layers: int = 2, heads: int = 4, kv_heads: int = 2):
    from transformers import Qwen2Config

    return Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=4096,
        tie_word_embeddings=False,
    )


def tiny_qwen2_audio(seed: int = 0, n_mels: int = 128):
    """A random `Qwen2AudioForConditionalGeneration`, its processor, and nothing from a hub."""
    from transformers import (
        Qwen2AudioConfig,
        Qwen2AudioEncoderConfig,
        Qwen2AudioForConditionalGeneration,
        Qwen2AudioProcessor,
        WhisperFeatureExtractor,
    )

    tok = tiny_tokenizer()
    text = tiny_qwen2_config(len(tok))
    text.pad_token_id = tok.pad_token_id
    audio = Qwen2AudioEncoderConfig(
        num_mel_bins=n_mels, encoder_layers=2, encoder_attention_heads=4, encoder_ffn_dim=128, d_model=32
    )
    cfg = Qwen2AudioConfig(audio_config=audio, text_config=text, audio_token_index=tok.convert_tokens_to_ids("<|AUDIO|>"))
    torch.manual_seed(seed)
    model = Qwen2AudioForConditionalGeneration(cfg).eval()
    # random init leaves the audio tower's LayerNorms at identity: perturb every parameter a little
    # so a wrong mapping of any tensor shows up in the logits
    with torch.no_grad():
        g = torch.Generator().manual_seed(seed + 1)
        for p in model.parameters():
            p.add_(0.02 * torch.randn(p.shape, generator=g))
    proc = Qwen2AudioProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=n_mels), tokenizer=tok)
    return model, proc


def save_tiny_qwen2_audio(out: str | Path, seed: int = 0) -> Path:
    """Write a tiny random Qwen2-Audio checkpoint folder, as transformers saves one."""
    model, proc = tiny_qwen2_audio(seed)
    out = Path(out)
    model.save_pretrained(out)
    proc.save_pretrained(out)
    return out


def tiny_audiolm(seed: int = 0, projector: str = "stack-mlp", n_mels: int = 80, lm_type: str = "llama"):
    """A random AudioLM of ~0.3 M parameters with the tiny tokenizer and the LM's own chat template."""
    from transformers import LlamaConfig

    from .model import AudioLM, AudioLMConfig, encoder_dict
    from .projector import ProjectorConfig

    tok = tiny_tokenizer()
    if lm_type == "qwen2":
        lm_cfg = tiny_qwen2_config(len(tok))
    else:
        lm_cfg = LlamaConfig(
            vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096, tie_word_embeddings=True,
        )  # fmt: skip
    lm_cfg.pad_token_id = tok.pad_token_id
    lm_cfg.eos_token_id = tok.eos_token_id
    enc = tiny_whisper_config(n_mels=n_mels)
    cfg = AudioLMConfig(
        encoder=encoder_dict(enc),
        lm=lm_cfg.to_dict(),
        projector=ProjectorConfig(kind=projector, stride=4 if projector == "stack-mlp" else 2, hidden=64),
        chat_template="tokenizer",
    )  # fmt: skip
    torch.manual_seed(seed)
    return AudioLM(cfg, tokenizer=tok).eval()


def build_tiny_audiolm(out: str | Path, seed: int = 0, projector: str = "stack-mlp") -> Path:
    model = tiny_audiolm(seed=seed, projector=projector)
    model.save_pretrained(str(out))
    return Path(out)
