"""Voice-chat data: spoken questions (TTS) whose target is the text LM's own reply to the transcript.

Floor 4 (audio, tasks' row schema; transformers only through the LM passed in). Distillation as
Ultravox does it: the audio LM learns to answer speech exactly as its LM answers the same words
typed, so voice chat inherits the LM's behaviour instead of a dataset's reference replies.

    tts = CachedTTS(EspeakTTS(), cache_dir)                  # or PiperTTS(model.onnx)
    rows = make_voice_chat(200, "train", tts, lm, tokenizer, seed=0)   # corpus-schema rows
    ds = to_dataset(rows)                                    # a datasets.Dataset like the corpus's
    rows = distill(corpus_rows, lm, tokenizer)               # replace answers by the LM's replies

The same TTS reads analysis instructions aloud: `speak=tts` for the `spoken` prompt form of
qwenlike.tasks, and `prerender_prompts(tasks, tts)` warms its cache with every fixed paraphrase.
"""

from __future__ import annotations

import io
import json
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .errors import UserError
from .tasks.task import sample_seed
from .tasks.tts import CachedTTS, EspeakTTS, PiperTTS, default_tts  # noqa: F401  (re-exported: the TTS lives with the spoken prompt form)

# Short, varied questions and instructions a user might say to a voice assistant. The split of a
# question (train/validation/test) is a stable hash of its text, so test questions never leak.
QUESTIONS: tuple[str, ...] = (
    # facts
    "What is the capital of France?", "How many legs does a spider have?", "Who wrote Romeo and Juliet?",
    "What is the largest planet in our solar system?", "How many days are there in a leap year?",
    "What is the boiling point of water in Celsius?", "Which ocean is the biggest?", "What do bees make?",
    "What colour do you get when you mix blue and yellow?", "How many continents are there?",
    "What is the chemical symbol for gold?", "Which animal is known as the king of the jungle?",
    "What is the tallest mountain in the world?", "How many hours are in a day?", "What language is spoken in Brazil?",
    "Who painted the Mona Lisa?", "What is the freezing point of water in Fahrenheit?", "What is the longest river in Africa?",
    "How many strings does a violin have?", "What gas do plants take in from the air?", "Which planet is called the red planet?",
    "What is the smallest prime number?", "How many minutes are in an hour?", "What is the opposite of hot?",
    "Which month comes after March?", "What is the capital of Japan?", "How many sides does a hexagon have?",
    "What is a baby cat called?", "Which is heavier, a kilogram of feathers or a kilogram of iron?",
    "What does a thermometer measure?",
    # arithmetic
    "What is seven plus eight?", "What is twelve times three?", "What is one hundred divided by four?",
    "What is nine minus five?", "What is half of sixty?", "What is the square root of eighty one?",
    "What is fifteen percent of two hundred?", "How much is six times seven?", "What is twenty plus twenty two?",
    "If I have three apples and eat one, how many are left?", "What is ten squared?", "What is a third of ninety?",
    "How many seconds are in five minutes?", "What is eleven times eleven?", "What is one thousand minus one?",
    # how-to
    "How do I boil an egg?", "How can I fall asleep faster?", "How do I make a cup of tea?",
    "How do I tie a tie?", "How can I save money on groceries?", "How do I start learning to play the guitar?",
    "How do I plant tomatoes?", "How can I improve my handwriting?", "How do I clean a cast iron pan?",
    "How do I write a good email to my boss?", "How can I stay focused while studying?", "How do I change a flat tyre?",
    "How do I make pancakes?", "How can I learn a new language quickly?", "How do I care for a houseplant?",
    # instructions
    "Tell me a short joke.", "Give me three tips for a job interview.", "Describe a sunset in one sentence.",
    "Suggest a name for a pet goldfish.", "Write a haiku about the rain.", "List three fruits that are red.",
    "Tell me a fun fact about octopuses.", "Give me a word that rhymes with cat.", "Spell the word necessary.",
    "Summarise the story of Cinderella in two sentences.", "Recommend a good book for a long trip.",
    "Give me an idea for a quick dinner.", "Count from one to five in Spanish.", "Say something nice to cheer me up.",
    "Translate good morning into French.", "Name three things you can find in a kitchen.",
    "Give me a motivational quote.", "Explain what a rainbow is to a child.", "Suggest a warm-up exercise before running.",
    "Tell me a riddle.",
    # explanations and opinions
    "Why is the sky blue?", "Why do leaves change colour in autumn?", "What causes thunder?",
    "Why do we need sleep?", "How does a bicycle stay upright?", "What is the difference between weather and climate?",
    "Why is exercise good for you?", "What makes a good friend?", "Is it better to read books or watch films?",
    "What should I do on a rainy weekend?", "Why do cats purr?", "How do airplanes fly?",
    "What is the internet?", "Why does the moon change shape?", "What is photosynthesis?",
    # everyday
    "What should I cook tonight?", "Can you help me plan my day?", "What is a good way to relax after work?",
    "Remind me why breakfast is important.", "What can I do when I feel bored?", "How much water should I drink a day?",
    "What is a healthy snack?", "How do I say thank you in German?", "What is the best time to go for a walk?",
    "Give me a reason to smile today.",
)  # fmt: skip


def question_split(question: str) -> str:
    """test / validation / train by a stable hash of the text (~1/8, ~1/8, ~3/4)."""
    h = sample_seed("voicechat-split", question) % 8
    return "test" if h == 0 else "validation" if h == 1 else "train"


def prerender_prompts(tasks: Mapping[str, Any], speak: Any) -> int:
    """Speak every fixed (field-free) natural prompt of the analysis tasks; returns how many.
    Prompts that name row fields (e.g. {meta.question}) are spoken when a sample needs them."""
    n = 0
    for t in tasks.values():
        for p in getattr(t, "prompts", ()):
            if not p.refs:
                speak(p.source.replace("{{", "{").replace("}}", "}"))
                n += 1
    return n


# ------------------------------------------------------------------------------------------------
# the text LM's reply
# ------------------------------------------------------------------------------------------------
def text_reply(lm: Any, tokenizer: Any, text: str, max_new_tokens: int = 128, system: str | None = None) -> str:
    """The LM's greedy reply to `text` typed as a user message, through its own chat template."""
    import torch

    msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
    prompt = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    enc = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")
    ids = enc["input_ids"].to(lm.device)
    with torch.no_grad():
        out = lm.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=max_new_tokens,
            pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )  # fmt: skip
    return tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True).strip()


# ------------------------------------------------------------------------------------------------
# rows
# ------------------------------------------------------------------------------------------------
def wav_16k(data: Any) -> tuple[bytes, float]:
    """Any clip -> 16 kHz mono 16-bit WAV bytes (the corpus's format) and its duration in seconds."""
    import soundfile as sf

    from . import audio as A

    wav = A.load(data)  # (N,) float32, 16 kHz
    buf = io.BytesIO()
    sf.write(buf, wav, A.SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return buf.getvalue(), round(len(wav) / A.SAMPLE_RATE, 4)


def voice_chat_row(
    question: str, wav: Any, reply: str, *, row_id: str, voice: str, source: str, meta: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """One corpus-schema row of task voice_chat (the clip is stored as 16 kHz WAV bytes)."""
    wav, seconds = wav_16k(wav)
    return {
        "id": row_id, "task": "voice_chat", "audio": {"bytes": wav, "path": None}, "audio2": None,
        "answer": reply, "label": "", "text": question, "language": "en", "voice": voice, "source": source,
        "group": f"question:{sample_seed('q', question) % 10**8:08d}", "duration": seconds,
        "meta": json.dumps({"question": question, "distill": True, **(meta or {})}, sort_keys=True),
    }  # fmt: skip


def make_voice_chat(
    n: int,
    split: str,
    tts: Any,
    lm: Any,
    tokenizer: Any,
    seed: int = 0,
    questions: Sequence[str] = QUESTIONS,
    max_new_tokens: int = 128,
    system: str | None = None,
) -> list[dict[str, Any]]:
    """n voice-chat rows of `split`: item i speaks a question picked by (seed, split, i) from that
    split's questions; the answer is the LM's greedy text-mode reply to the transcript."""
    pool = [q for q in questions if question_split(q) == split] or list(questions)
    lm_name = getattr(getattr(lm, "config", None), "_name_or_path", "") or type(lm).__name__
    rows, replies = [], {}
    for i in range(n):
        rng = np.random.default_rng([seed, sample_seed("voicechat", split) & 0xFFFFFFFF, i])
        q = pool[int(rng.integers(len(pool)))]
        if q not in replies:  # the reply depends on the text only: compute it once per question
            replies[q] = text_reply(lm, tokenizer, q, max_new_tokens, system)
        rows.append(voice_chat_row(
            q, tts(q), replies[q], row_id=f"voice_chat-{split}-{i:05d}", voice=getattr(tts, "name", "tts"),
            source=f"voicechat.{getattr(tts, 'engine', 'tts')}",
            meta={"lm": lm_name, "max_new_tokens": max_new_tokens, "seed": seed},
        ))  # fmt: skip
    return rows


def distill(
    rows: Iterable[Mapping[str, Any]], lm: Any, tokenizer: Any, max_new_tokens: int = 128, system: str | None = None
) -> list[dict[str, Any]]:
    """Replace each voice-chat row's answer by the LM's text-mode reply to its transcript."""
    out, cache = [], {}
    for r in rows:
        text = r.get("text") or ""
        if not text:
            raise UserError(f"row {r.get('id')!r}: voice-chat distillation needs the transcript in `text`")
        if text not in cache:
            cache[text] = text_reply(lm, tokenizer, text, max_new_tokens, system)
        meta = json.loads(r["meta"]) if isinstance(r.get("meta"), str) and r["meta"] else dict(r.get("meta") or {})
        meta.update({"distill": True, "reference_reply": r.get("answer", "")})
        out.append({**r, "answer": cache[text], "meta": json.dumps(meta, sort_keys=True)})
    return out


def to_dataset(rows: Sequence[Mapping[str, Any]]) -> Any:
    """A datasets.Dataset with the corpus's columns (audio stored as encoded WAV bytes)."""
    from datasets import Audio, Dataset, Features, Value

    s = Value("string")
    feats = Features({
        "id": s, "task": s, "audio": Audio(sampling_rate=16000), "audio2": Audio(sampling_rate=16000),
        "answer": s, "label": s, "text": s, "language": s, "voice": s, "source": s, "group": s,
        "duration": Value("float64"), "meta": s,
    })  # fmt: skip
    return Dataset.from_list([dict(r) for r in rows], features=feats)
