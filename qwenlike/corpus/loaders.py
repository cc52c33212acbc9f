"""Loaders for the public corpora in their published layouts, giving rows in the corpus schema
(docs/corpus.md), so real data and the offline build are interchangeable downstream.

    load("esc50", "/data/ESC-50-master", split="test")   -> datasets.Dataset
    load("librispeech", "/data/LibriSpeech", split="test-clean")

Audio stays on disk: the `audio` column holds {"path": file, "bytes": None} and datasets decodes
it lazily. Each loader names the task(s) it feeds; `group` is the speaker/recording used for
leak-free splits where the corpus has one.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Callable, Iterator

from qwenlike.errors import UserError

from .common import dumps
from .music import pitch_name
from .text import KEYWORDS

Row = dict


def _row(id: str, task: str, audio: Path | dict | None, answer: str, *, label: str = "", text: str = "",
         language: str = "", voice: str = "", source: str, group: str = "", meta: dict | None = None,
         audio2: Path | None = None) -> Row:
    def enc(a):
        if a is None:
            return None
        return a if isinstance(a, dict) else {"path": str(a), "bytes": None}

    return {"id": id, "task": task, "audio": enc(audio), "audio2": enc(audio2), "answer": answer, "label": label,
            "text": text, "language": language, "voice": voice, "source": source, "group": group,
            "duration": _duration(audio), "meta": dumps(meta or {})}


def _duration(audio) -> float:
    """Seconds from the file header (0.0 when the header cannot tell, e.g. bytes or mp4)."""
    if not isinstance(audio, Path):
        return 0.0
    try:
        import soundfile as sf

        return float(sf.info(str(audio)).duration)
    except Exception:  # an undecodable header must not stop a listing; decoding reports it later
        return 0.0


def _need(path: Path, what: str) -> Path:
    if not path.exists():
        raise UserError(f"{path}: not found ({what})")
    return path


def _csv(path: Path, delimiter: str = ",") -> list[dict]:
    with open(_need(path, "metadata table"), newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter=delimiter))


def _find(dirs: list[Path], names: list[str]) -> Path | None:
    for d in dirs:
        for n in names:
            p = d / n
            if p.exists():
                return p
    return None


# ---------------------------------------------------------------------------------------------
def librispeech(root: Path, split: str) -> Iterator[Row]:
    """LibriSpeech/<split>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt + <utt>.flac."""
    base = _need(root / split, "LibriSpeech split folder, e.g. test-clean")
    for trans in sorted(base.glob("*/*/*.trans.txt")):
        for line in trans.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            utt, text = line.split(" ", 1)
            spk = utt.split("-")[0]
            yield _row(utt, "asr", trans.parent / f"{utt}.flac", text, text=text, language="en", voice=spk,
                       source="librispeech", group=f"speaker:{spk}", meta={"chapter": trans.parent.name})


def common_voice(root: Path, split: str) -> Iterator[Row]:
    """Common Voice <locale>/<split>.tsv (client_id, path, sentence, age, gender, accent(s), locale) + clips/."""
    for r in _csv(root / f"{split}.tsv", "\t"):
        clip = root / "clips" / r["path"]
        lang = r.get("locale") or root.name
        meta = {k: r[k] for k in ("age", "gender", "accents", "accent", "variant") if r.get(k)}
        yield _row(Path(r["path"]).stem, "asr", clip, r["sentence"], text=r["sentence"], language=lang,
                   voice=r.get("client_id", ""), source="common_voice", group=f"speaker:{r.get('client_id', '')}",
                   meta=meta)


def covost2(root: Path, split: str, pair: str = "fr_en", clips: Path | None = None) -> Iterator[Row]:
    """CoVoST2 covost_v2.<src>_<tgt>.tsv (path, sentence, translation, client_id, split) over Common Voice clips."""
    src, tgt = pair.split("_")
    clips = clips or root / "clips"
    for r in _csv(root / f"covost_v2.{pair}.tsv", "\t"):
        if r.get("split", split) != split:
            continue
        yield _row(Path(r["path"]).stem, "speech_translation", clips / r["path"], r["translation"], text=r["sentence"],
                   language=src, voice=r.get("client_id", ""), source="covost2", group=f"speaker:{r.get('client_id', '')}",
                   meta={"source_language": src, "target_language": tgt})


def clotho(root: Path, split: str) -> Iterator[Row]:
    """Clotho clotho_captions_<split>.csv (file_name, caption_1..5) + <split>/ audio."""
    audio_dir = _find([root], [split, f"clotho_audio_{split}"]) or root / split
    for r in _csv(root / f"clotho_captions_{split}.csv"):
        caps = [r[k] for k in sorted(r) if k.startswith("caption_") and r[k]]
        yield _row(Path(r["file_name"]).stem, "audio_caption", audio_dir / r["file_name"], caps[0], source="clotho",
                   group=f"file:{r['file_name']}", meta={"captions": caps})


def audiocaps(root: Path, split: str) -> Iterator[Row]:
    """AudioCaps <split>.csv (audiocap_id, youtube_id, start_time, caption); audio as <youtube_id>_<start>.wav
    or <audiocap_id>.wav in <split>/ or audio/ (AudioCaps ships no audio; these are the usual names)."""
    dirs = [root / split, root / "audio" / split, root / "audio", root]
    for r in _csv(root / f"{split}.csv"):
        st = r.get("start_time", "0")
        audio = _find(dirs, [f"{r['youtube_id']}_{st}.wav", f"{r['youtube_id']}.wav", f"{r['audiocap_id']}.wav",
                             f"Y{r['youtube_id']}.wav", f"{r['youtube_id']}_{st}.flac"])
        if audio is None:
            continue  # clip not downloaded: AudioCaps users routinely miss a few percent
        yield _row(r["audiocap_id"], "audio_caption", audio, r["caption"], source="audiocaps",
                   group=f"youtube:{r['youtube_id']}", meta={"youtube_id": r["youtube_id"], "start_time": st})


def esc50(root: Path, split: str, test_fold: int = 5) -> Iterator[Row]:
    """ESC-50 meta/esc50.csv (filename, fold, target, category, src_file) + audio/; split by fold."""
    for r in _csv(root / "meta" / "esc50.csv"):
        fold = int(r["fold"])
        s = "test" if fold == test_fold else ("validation" if fold == (test_fold % 5) + 1 else "train")
        if split not in ("all", s):
            continue
        label = r["category"].replace("_", " ")
        yield _row(Path(r["filename"]).stem, "sound_event", root / "audio" / r["filename"], label, label=label,
                   source="esc50", group=f"freesound:{r['src_file']}", meta={"fold": fold, "target": int(r["target"])})


VOCALSOUND_LABELS = ("cough", "laughter", "sigh", "sneeze", "sniff", "throatclearing")


def vocalsound(root: Path, split: str) -> Iterator[Row]:
    """VocalSound audio_16k/<speaker>_<n>_<label>.wav; split lists datafiles/<split>.json if present."""
    audio = _find([root], ["audio_16k", "audio"]) or root
    keep = None
    lst = _find([root / "datafiles"], [f"{split}.json", f"te.json" if split == "test" else f"{split}.json"])
    if lst is not None:
        data = json.loads(lst.read_text(encoding="utf-8"))
        keep = {Path(d["wav"]).name for d in data.get("data", data)}
    for p in sorted(audio.glob("*.wav")):
        m = re.fullmatch(r"([mf]\d+)_(\d+)_([a-z]+)", p.stem)
        if not m or (keep is not None and p.name not in keep):
            continue
        spk, _n, label = m.groups()
        yield _row(p.stem, "vocal_sound", p, label, label=label, voice=spk, source="vocalsound", group=f"speaker:{spk}",
                   meta={"gender": "male" if spk.startswith("m") else "female"})


def nsynth(root: Path, split: str, task: str = "instrument") -> Iterator[Row]:
    """NSynth nsynth-<split>/examples.json + audio/<note>.wav; task "instrument" or "note_analysis"."""
    base = _find([root], [f"nsynth-{split}", split]) or root
    meta = json.loads(_need(base / "examples.json", "NSynth examples.json").read_text(encoding="utf-8"))
    for note, m in sorted(meta.items()):
        fam = m["instrument_family_str"]
        if task == "note_analysis":
            name = pitch_name(int(m["pitch"]))
            answer, label = f"{name}, velocity {m['velocity']}", name
        else:
            answer = label = fam
        yield _row(note, task, base / "audio" / f"{note}.wav", answer, label=label, source="nsynth",
                   group=f"instrument:{m['instrument_str']}",
                   meta={"midi_pitch": m["pitch"], "velocity": m["velocity"], "instrument_family": fam,
                         "instrument_source": m.get("instrument_source_str", ""), "qualities": m.get("qualities_str", [])})


def meld(root: Path, split: str) -> Iterator[Row]:
    """MELD <split>_sent_emo.csv (Utterance, Speaker, Emotion, Sentiment, Dialogue_ID, Utterance_ID);
    audio as dia<D>_utt<U>.(wav|flac|mp4) in <split>/, <split>_splits/ or audio/<split>/."""
    table = _find([root], [f"{split}_sent_emo.csv", f"{split}.csv"]) or root / f"{split}_sent_emo.csv"
    dirs = [root / split, root / f"{split}_splits", root / "audio" / split, root]
    for r in _csv(table):
        stem = f"dia{r['Dialogue_ID']}_utt{r['Utterance_ID']}"
        audio = _find(dirs, [f"{stem}.wav", f"{stem}.flac", f"{stem}.mp4"])
        if audio is None:
            continue
        label = r["Emotion"].strip().lower()
        yield _row(stem, "speech_emotion", audio, label, label=label, text=r["Utterance"], language="en",
                   voice=r["Speaker"], source="meld", group=f"dialogue:{r['Dialogue_ID']}",
                   meta={"sentiment": r.get("Sentiment", "")})


def clotho_aqa(root: Path, split: str) -> Iterator[Row]:
    """ClothoAQA clotho_aqa_<split>.csv (file_name, QuestionText, answer, confidence) + audio_files/."""
    for k, r in enumerate(_csv(root / f"clotho_aqa_{split}.csv")):
        yield _row(f"{Path(r['file_name']).stem}-{k}", "audio_qa", root / "audio_files" / r["file_name"], r["answer"],
                   source="clotho_aqa", group=f"file:{r['file_name']}",
                   meta={"question": r["QuestionText"], "confidence": r.get("confidence", "")})


def cochlscene(root: Path, split: str) -> Iterator[Row]:
    """CochlScene <Train|Val|Test>/<Scene>/<file>.wav."""
    name = {"train": "Train", "validation": "Val", "test": "Test"}.get(split, split)
    base = _need(root / name, "CochlScene split folder (Train/Val/Test)")
    for p in sorted(base.glob("*/*.wav")):
        label = p.parent.name.lower()
        yield _row(p.stem, "acoustic_scene", p, label, label=label, source="cochlscene", group=f"file:{p.stem}")


def speech_commands(root: Path, split: str) -> Iterator[Row]:
    """Speech Commands <word>/<speaker>_nohash_<n>.wav with validation_list.txt / testing_list.txt;
    words outside the 10 keywords get the label "none" (the task's label set)."""
    lists = {}
    for s, f in (("validation", "validation_list.txt"), ("test", "testing_list.txt")):
        p = root / f
        lists[s] = set(p.read_text().split()) if p.exists() else set()
    for p in sorted(root.glob("*/*.wav")):
        word = p.parent.name
        if word.startswith("_"):
            continue  # _background_noise_
        rel = f"{word}/{p.name}"
        s = "validation" if rel in lists["validation"] else ("test" if rel in lists["test"] else "train")
        if s != split:
            continue
        spk = p.stem.split("_nohash_")[0]
        label = word if word in KEYWORDS else "none"
        yield _row(f"{word}-{p.stem}", "keyword_spotting", p, label, label=label, text=word, language="en", voice=spk,
                   source="speech_commands", group=f"speaker:{spk}", meta={"word": word})


def hf_audio(root: Path, split: str, task: str = "asr", answer_column: str | None = None) -> Iterator[Row]:
    """Any datasets folder (save_to_disk) whose split has an Audio column; answer from `answer_column`
    or the first of text/sentence/transcript/caption/label."""
    from datasets import Audio, DatasetDict, load_from_disk

    ds = load_from_disk(str(root))
    if isinstance(ds, DatasetDict):
        if split not in ds:
            raise UserError(f"{root}: no split {split!r} (has {', '.join(ds)})")
        ds = ds[split]
    audio_cols = [c for c, f in ds.features.items() if isinstance(f, Audio)]
    if not audio_cols:
        raise UserError(f"{root}: no Audio column (columns: {', '.join(ds.column_names)})")
    col = audio_cols[0]
    ds = ds.cast_column(col, Audio(decode=False))
    names = [answer_column] if answer_column else ["text", "sentence", "transcript", "transcription", "caption", "label"]
    ans = next((c for c in names if c in ds.column_names), None)
    if ans is None:
        raise UserError(f"{root}: no answer column among {names}")
    feat = ds.features[ans]
    for k, r in enumerate(ds):
        a = r[ans]
        if hasattr(feat, "int2str") and isinstance(a, int):
            a = feat.int2str(a)
        label = str(a) if hasattr(feat, "int2str") else ""
        yield _row(str(r.get("id", k)), task, {"path": r[col].get("path"), "bytes": r[col].get("bytes")}, str(a),
                   label=label, text=str(r.get("text", r.get("sentence", ""))) if task == "asr" else "",
                   language=str(r.get("language", r.get("locale", ""))), source=f"hf:{root.name}")


LOADERS: dict[str, Callable[..., Iterator[Row]]] = {
    "librispeech": librispeech, "common_voice": common_voice, "covost2": covost2, "clotho": clotho,
    "audiocaps": audiocaps, "esc50": esc50, "vocalsound": vocalsound, "nsynth": nsynth, "meld": meld,
    "clotho_aqa": clotho_aqa, "cochlscene": cochlscene, "speech_commands": speech_commands, "hf": hf_audio,
}


def rows(name: str, root: str | Path, split: str, **kw) -> list[Row]:
    """Rows of one corpus split; UserError for an unknown corpus or a missing layout file."""
    if name not in LOADERS:
        raise UserError(f"unknown corpus {name!r}; known: {', '.join(LOADERS)}")
    root = Path(root)
    if not root.exists():
        raise UserError(f"{root}: no such folder")
    return list(LOADERS[name](root, split, **kw))


def load(name: str, root: str | Path, split: str, **kw):
    """A datasets.Dataset in the corpus schema (audio decoded lazily from the original files)."""
    from datasets import Dataset

    from .build import COLUMNS, features

    rs = rows(name, root, split, **kw)
    if not rs:
        raise UserError(f"{name} at {root}: no items in split {split!r}")
    return Dataset.from_dict({c: [r[c] for r in rs] for c in COLUMNS}, features=features())
