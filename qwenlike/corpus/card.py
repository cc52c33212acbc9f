"""The data card (DIR/README.md) of a build: counts per task and split, hours of audio, label
distributions, voices and languages, sources and licences, weak labels, leak-check result."""

from __future__ import annotations

from collections import Counter

from . import music, recordings, sounds, speech
from .common import SPLITS

LICENCES = {**{f"speech.{k}": v for k, v in speech.LICENCES.items()},
            **{f"recordings.{k}": v for k, v in recordings.LICENCES.items()},
            **{f"sounds.{k}": v for k, v in sounds.LICENCES.items()},
            "music.fluidsynth": music.LICENCES["fluidsynth"], "music.music21": music.LICENCES["music21"],
            "text.fortunes": "fortunes (BSD-style, Debian fortunes)",
            "mix.scene": "scenes mixed by this project from the sounds.* recordings and procedural noise beds",
            "speech.mix": "concatenations/mixtures of the speech.* voices"}


def render(rows: dict[str, list[dict]], plan: dict) -> str:
    from .catalog import BY_NAME
    from .checks import leaks

    out = ["# qwenlike offline corpus", "",
           f"Built by `qwenlike corpus build` (corpus version {plan['version']}, seed {plan['seed']}). "
           "Open with `datasets.load_from_disk(DIR)`; columns are documented in docs/corpus.md.", ""]
    secs = {s: sum(r["duration"] for r in rows[s]) for s in SPLITS}
    out += ["## Size", "", "| split | items | hours |", "|---|---:|---:|"]
    out += [f"| {s} | {len(rows[s])} | {secs[s] / 3600:.3f} |" for s in SPLITS]
    out += ["", "## Items per task", "", "| # | task | family | train | validation | test | hours |", "|---|---|---|---:|---:|---:|---:|"]
    for k, t in enumerate(plan["tasks"], 1):
        c = [sum(1 for r in rows[s] if r["task"] == t) for s in SPLITS]
        h = sum(r["duration"] for s in SPLITS for r in rows[s] if r["task"] == t) / 3600
        out.append(f"| {k} | {t} | {BY_NAME[t].family} | {c[0]} | {c[1]} | {c[2]} | {h:.3f} |")
    out += ["", "## Label distributions (closed-set tasks)", ""]
    for t in plan["tasks"]:
        if BY_NAME[t].labels is None:
            continue
        parts = []
        for s in SPLITS:
            cnt = Counter(r["label"] for r in rows[s] if r["task"] == t)
            parts.append(f"{s}: " + ", ".join(f"{k} {v}" for k, v in sorted(cnt.items())))
        out.append(f"- **{t}** ({len(BY_NAME[t].labels)} labels): " + "; ".join(parts))
    out += ["", "## Voices and languages", ""]
    for s in SPLITS:
        voices = Counter(v for r in rows[s] for v in r["voice"].split("|") if v)
        langs = Counter(r["language"] for r in rows[s] if r["language"])
        engines = Counter(r["source"] for r in rows[s] if r["source"].startswith(("speech.", "recordings.")))
        out.append(f"- **{s}**: {len(voices)} voices; languages: " + ", ".join(f"{k} {v}" for k, v in sorted(langs.items())))
        out.append(f"  speech sources: " + ", ".join(f"{k} {v}" for k, v in sorted(engines.items())))
    test_voices = {v for r in rows["test"] for v in r["voice"].split("|") if v}
    train_voices = {v for r in rows["train"] for v in r["voice"].split("|") if v}
    out.append(f"- voices in test but never in train (held out): {len(test_voices - train_voices)}; "
               f"shared (Piper 'joe', single-speaker recordings): {len(test_voices & train_voices)}")
    out += ["", "## Sources and licences", "", "| source module | items | licence |", "|---|---:|---|"]
    src = Counter(r["source"] for s in SPLITS for r in rows[s])
    for k, v in sorted(src.items()):
        out.append(f"| {k} | {v} | {LICENCES.get(k, LICENCES.get(k.split('.')[0] + '.' + k.split('.')[-1], 'see docs/corpus.md'))} |")
    out += ["", "## Weak labels", "",
            "- speaker_age: espeak-ng voice-variant age bands; 'child' is an adult voice with raised pitch and rate.",
            "- speech_emotion: TTS prosody (rate, pitch, loudness, punctuation), not acted emotion.",
            "- voice_chat: `answer` is a computed reference reply; `meta.distill` marks it for replacement by the text LM's reply.",
            "", "## Held-out splits", "",
            "Test items use held-out sentences, templates, names, Tux Paint stamps, espeak-ng/MBROLA/Pico voices and "
            "variants, event/vocal/instrument recordings, ambience recordings (or their last 30 %) and music21 works. "
            "A held-out recording or stamp whose bytes or caption a train one also has (a packaged twin under "
            "another name) is left out of test. The column `group` lists each item's held-out source items."]
    problems = leaks(rows)
    out.append(f"Leak check (audio hash and source item, test vs train): "
               f"{'passed' if not problems else 'FAILED: ' + '; '.join(problems[:5])}.")
    sizes = {tuple(v) for v in plan["sizes"].values()}
    if len(sizes) == 1:
        size_text = "/".join(map(str, next(iter(sizes)))) + " (train/validation/test) for every task"
    else:
        size_text = "; ".join(f"{t} {'/'.join(map(str, plan['sizes'][t]))}" for t in plan["tasks"])
    out += ["", "## Build options", "", f"- seed {plan['seed']}, corpus version {plan['version']}",
            f"- tasks: {', '.join(plan['tasks'])}", f"- sizes: {size_text}",
            f"- voices: {plan.get('voices', 'english')} (speaker_gender and language_id; docs/corpus.md)",
            "- full options: `build.json` in the same folder", ""]
    return "\n".join(out)


def append_asr_check(out_dir, results: list[dict], model: str = "Whisper base") -> str:
    """Add (or replace) the per-voice ASR check section of DIR/README.md.

    `results`: [{"voice": id, "items": n, "wer": float}] from an external recogniser (the corpus
    package runs no model itself); returns the section text.
    """
    from pathlib import Path

    path = Path(out_dir) / "README.md"
    text = path.read_text(encoding="utf-8")
    head = f"## ASR check ({model}, test split)"
    if head in text:
        text = text[: text.index(head)].rstrip() + "\n"
    lines = [head, "", "| voice | items | WER |", "|---|---:|---:|"]
    lines += [f"| {r['voice']} | {r['items']} | {r['wer']:.3f} |" for r in sorted(results, key=lambda r: r["voice"])]
    section = "\n".join(lines) + "\n"
    path.write_text(text.rstrip() + "\n\n" + section, encoding="utf-8")
    return section
