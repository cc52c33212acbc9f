"""Task catalogue: the 30 YAML files load, validate, render through chat.render, match golden
renders in every prompt form, score predictions, and a user task from a CSV works end to end."""

from __future__ import annotations

import csv
import functools
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from qwenlike import chat
from qwenlike.errors import UserError
from qwenlike.tasks import FORMS, MixtureSampler, load_task, load_tasks, mixture_from_dict
from qwenlike.tiny import tiny_tokenizer

GOLDEN = Path(__file__).parent / "golden" / "task_renders.json"
# the 30 tasks of TASKS.md, in its order
TASK_NAMES = (
    "asr", "asr_timestamps", "speech_translation", "language_id", "accent_id", "speaker_gender", "speaker_age",
    "speech_emotion", "speaker_verification", "speaker_count", "keyword_spotting", "intent_slots", "speech_entities",
    "spoken_qa", "overlapped_asr", "vocal_sound", "audio_caption", "sound_event", "acoustic_scene",
    "sound_event_detection", "audio_qa", "audio_grounding", "event_counting", "music_caption", "instrument",
    "music_style", "note_analysis", "music_qa", "composer_id", "voice_chat",
)  # fmt: skip
# what a corpus build's label_sets.json holds for the tasks whose labels come from the corpus
LABEL_SETS = {
    "language_id": ["English", "French", "German"], "accent_id": ["american", "british", "scottish"],
    "speaker_count": ["1", "2", "3", "4"], "keyword_spotting": ["go", "none", "stop", "yes"],
    "vocal_sound": ["cough", "laugh", "sigh"], "sound_event": ["dog bark", "door knock", "glass break"],
    "acoustic_scene": ["campfire", "rain", "traffic"], "event_counting": ["1", "2", "3", "4", "5", "6"],
    "instrument": ["flute", "piano", "violin"], "music_style": ["baroque", "classical", "folk"],
    "note_analysis": ["A4", "C#4", "C4", "G3"], "composer_id": ["bach", "beethoven", "mozart"],
}  # fmt: skip


def wav_bytes(seconds: float = 0.5, freq: float = 440.0, seed: int = 0) -> bytes:
    t = np.arange(int(seconds * 16000)) / 16000
    x = 0.3 * np.sin(2 * np.pi * freq * t) + 0.02 * np.random.default_rng(seed).standard_normal(t.size)
    buf = io.BytesIO()
    sf.write(buf, x.astype(np.float32), 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def synthetic_row(task: str, i: int = 0) -> dict:
    """A corpus-schema row for `task` with task-shaped answer and meta (audio: a short tone)."""
    labels = LABEL_SETS.get(task) or {"speaker_gender": ["female", "male"], "speaker_age": ["adult", "child", "elderly"],
                                      "speech_emotion": ["angry", "happy", "neutral", "sad"],
                                      "speaker_verification": ["different", "same"]}.get(task)  # fmt: skip
    label = labels[i % len(labels)] if labels else ""
    meta: dict = {}
    text, language, answer = "", "", label
    speech = task in TASK_NAMES[:16] or task == "voice_chat"
    if speech:
        text, language = "the quick brown fox jumps over the lazy dog", "en"
    if task in ("asr", "overlapped_asr"):
        answer = text
    elif task == "asr_timestamps":
        answer = "0.10-0.32 the, 0.40-0.71 quick, 0.80-1.12 brown"
    elif task == "speech_translation":
        meta, answer = {"target_language": ["fr", "de"][i % 2]}, ["le renard brun", "der braune Fuchs"][i % 2]
    elif task == "language_id":
        language = {"English": "en", "French": "fr", "German": "de"}[label]
    elif task == "intent_slots":
        answer = json.dumps({"intent": "set_alarm", "slots": {"time": "7 am"}}, sort_keys=True)
    elif task == "speech_entities":
        answer = json.dumps([{"type": "person", "text": "Anna"}, {"type": "city", "text": "Paris"}])
    elif task in ("spoken_qa", "audio_qa", "music_qa"):
        q = {"spoken_qa": "Where does Anna live?", "audio_qa": "Is there a sound of dog bark?",
             "music_qa": "What key is this piece in?"}[task]  # fmt: skip
        meta, answer = {"question": q}, {"spoken_qa": "Paris", "audio_qa": "yes", "music_qa": "G major"}[task]
    elif task == "audio_caption":
        answer = "A dog barks while rain falls on a roof."
    elif task == "sound_event_detection":
        answer = "0.50-1.20 dog bark, 2.10-2.40 door knock"
    elif task == "audio_grounding":
        meta, answer = {"target": "dog bark"}, "0.50-1.20"
    elif task == "event_counting":
        meta = {"event": "door knock"}
    elif task == "music_caption":
        answer = "A slow piano piece in G major, in 3/4 time."
    elif task == "note_analysis":
        answer = f"{label}, velocity {60 + i}"
    elif task == "voice_chat":
        text, answer, meta = (
            "What is the capital of France?",
            "Paris is the capital.",
            {"question": "What is the capital of France?"},
        )
    return {
        "id": f"{task}-{i:04d}", "task": task, "audio": {"bytes": wav_bytes(0.3, 300 + 7 * (i % 50), i), "path": None},
        "audio2": {"bytes": wav_bytes(0.3, 500, i + 1), "path": None} if task == "speaker_verification" else None,
        "answer": answer, "label": label, "text": text, "language": language, "voice": "tone", "source": "test",
        "group": f"g{i}", "duration": 0.3, "meta": json.dumps(meta),
    }  # fmt: skip


@functools.lru_cache(maxsize=None)
def fake_speak(text: str) -> bytes:
    """A deterministic stand-in for TTS: a tone whose pitch depends on the text."""
    return wav_bytes(0.2, 200 + sum(map(ord, text)) % 600)


@pytest.fixture(scope="module")
def tasks():
    return load_tasks(label_sets=LABEL_SETS)


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


# ------------------------------------------------------------------------------------------------
# the catalogue
# ------------------------------------------------------------------------------------------------
def test_catalogue_is_the_30_tasks_with_prompts_tags_and_labels(tasks):
    assert sorted(tasks) == sorted(TASK_NAMES)
    for name, t in tasks.items():
        assert t.path.name == f"{name}.yaml" and t.metrics
        if name == "voice_chat":
            assert t.mode == "voice_chat" and t.tags is None and not t.prompts
            continue
        assert t.mode == "analysis" and t.tags is not None and t.tags.source.startswith("<|startof")
        assert len({p.source for p in t.prompts}) >= 5
    closed = {n for n, t in tasks.items() if t.closed}
    assert closed == set(LABEL_SETS) | {"speaker_gender", "speaker_age", "speech_emotion", "speaker_verification"}
    assert tasks["speaker_gender"].labels == ("female", "male")
    assert tasks["instrument"].labels == tuple(LABEL_SETS["instrument"])
    assert tasks["asr"].labels is None and not tasks["asr"].closed


def test_labels_from_the_corpus_need_its_label_sets(tmp_path):
    t = load_tasks()["sound_event"]  # no label_sets given
    with pytest.raises(UserError, match="label_sets"):
        _ = t.labels
    (tmp_path / "label_sets.json").write_text(json.dumps({"sound_event": ["bell", "dog bark"]}))
    assert load_tasks(label_sets=tmp_path)["sound_event"].labels == ("bell", "dog bark")


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", TASK_NAMES)
def test_every_task_renders_through_chat_render(tasks, tok, name, form):
    task, row = tasks[name], synthetic_row(name, 3)
    conv = task.conversation(row, form, seed=11, speak=fake_speak)
    n_clips = len(chat.audio_items(conv))
    r = chat.render(conv, tok, audio_tokens=[4] * n_clips, template="qwen2-audio")
    learned = tok.decode([t for t in r.labels if t != chat.IGNORE])
    assert learned == task.reference(row) + "<|im_end|>"
    assert [n for _s, n in r.audio_slots] == [4] * n_clips
    expected_clips = len(task.audio) + (form == "spoken" and task.mode == "analysis")
    assert n_clips == expected_clips
    # the prompt for generation / label scoring is the same conversation without the answer
    prompt = task.conversation(row, form, seed=11, speak=fake_speak, with_answer=False)
    assert prompt == conv[:-1]


def test_tokenizer_template_labels_the_answer_not_its_echo_in_the_prompt(tasks, tok):
    task, row = tasks["speaker_age"], synthetic_row("speaker_age", 0)  # label adult
    conv = [{"role": "user", "content": [{"type": "audio", "audio": row["audio"]["bytes"]},
                                         {"type": "text", "text": "Is this a child, an adult or an elderly person?"}]},
            {"role": "assistant", "content": task.reference(row)}]  # fmt: skip
    r = chat.render(conv, tok, audio_tokens=[4], template="tokenizer")
    assert tok.decode([t for t in r.labels if t != chat.IGNORE]) == "adult<|im_end|>"


def test_voice_chat_renders_have_no_text_and_analysis_renders_always_do(tasks):
    for name, task in tasks.items():
        for form in FORMS:
            for seed in range(6):
                conv = task.conversation(synthetic_row(name, seed), form, seed=seed, speak=fake_speak)
                user = conv[-2]
                text = chat.user_text(user)
                if name == "voice_chat":
                    assert text == "" and [p["type"] for p in user["content"]] == ["audio"]
                else:
                    assert text.strip(), (name, form)
                    if form == "spoken":  # the task is told by speech only: the cue names no task
                        spoken = task.instruction(synthetic_row(name, seed), "natural", seed)
                        assert spoken not in text and "Audio" in text


def test_natural_prompt_is_chosen_by_seed_and_covers_the_pool(tasks):
    t = tasks["speaker_gender"]
    row = synthetic_row("speaker_gender")
    assert t.instruction(row, "natural", 5) == t.instruction(row, "natural", 5)
    seen = {t.instruction(row, "natural", s) for s in range(200)}
    assert seen == {p.source for p in t.prompts}
    # without a seed the choice is a stable function of the row id
    assert t.instruction(row, "natural") == t.instruction(dict(row), "natural")


def test_templates_fill_row_and_meta_fields(tasks):
    row = synthetic_row("speech_translation", 1)  # target de
    assert tasks["speech_translation"].instruction(row, "tags") == (
        "<|startoftranscript|><|en|><|translate|><|de|><|notimestamps|><|wo_itn|>"
    )
    assert all("German" in tasks["speech_translation"].instruction(row, "natural", s) for s in range(10))
    assert (
        tasks["language_id"]
        .instruction(synthetic_row("language_id"), "tags")
        .startswith("<|startofanalysis|><|unknown|>")
    )
    qa = tasks["audio_qa"].instruction(synthetic_row("audio_qa"), "tags")
    assert qa.endswith("Is there a sound of dog bark?")
    missing = synthetic_row("spoken_qa")
    missing["meta"] = "{}"
    with pytest.raises(UserError, match=r"spoken_qa\.yaml.*spoken_qa-0000.*meta\.question"):
        tasks["spoken_qa"].conversation(missing, "natural")


def _render_text(conv) -> str:
    return chat.render_text(conv, template="qwen2-audio")[0]


def test_golden_renders_one_per_task_and_form(tasks):
    """Pinned renders (qwen2-audio template) of one row per task in each prompt form.
    UPDATE_GOLDEN=1 rewrites tests/golden/task_renders.json after a deliberate change."""
    got: dict[str, dict[str, str]] = {}
    for name in TASK_NAMES:
        spoken: list[str] = []
        speak = lambda text, heard=spoken: heard.append(text) or fake_speak(text)  # noqa: E731  (records what TTS reads)
        got[name] = {form: _render_text(tasks[name].conversation(synthetic_row(name, 1), form, seed=7, speak=speak))
                     for form in FORMS}  # fmt: skip
        got[name]["spoken_instruction"] = " | ".join(spoken)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(want) == sorted(TASK_NAMES) and all(set(v) == {*FORMS, "spoken_instruction"} for v in want.values())
    for name in TASK_NAMES:
        assert bool(want[name]["spoken_instruction"]) == (name != "voice_chat")
        for form in (*FORMS, "spoken_instruction"):
            assert got[name][form] == want[name][form], (name, form)


# ------------------------------------------------------------------------------------------------
# validation: bad user input is a UserError naming the file
# ------------------------------------------------------------------------------------------------
GOOD = """\
name: my_task
family: sound
mode: analysis
sources: [{corpus: sound_event}]
answer: "{answer}"
metrics: [accuracy]
tags: "<|startofanalysis|><|unknown|><|mine|>"
prompts: ["a?", "b?", "c?", "d?", "e?"]
"""


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s: s + "colour: red\n", r"unknown key\(s\) \['colour'\]"),
        (lambda s: s.replace('"{answer}"', '"{transcript}"'), r"answer names a missing field \{transcript\}"),
        (lambda s: s.replace('"a?"', '"{meta.question}"'), r"prompts\[0\] names a missing field \{meta.question\}"),
        (lambda s: s.replace("<|mine|>", "<|{language|shout}|>"), "unknown filter 'shout'"),
        (lambda s: s.replace('"a?", ', ""), "at least 5 distinct prompts"),
        (lambda s: s.replace('"b?"', '"a?"'), "at least 5 distinct prompts"),
        (
            lambda s: s.replace("{corpus: sound_event}", "{csv: {path: x.csv, colums: {}}}"),
            r"unknown key\(s\) \['colums'\]",
        ),
        (
            lambda s: s.replace("{corpus: sound_event}", "{csv: {path: x.csv, columns: {speaker: spk}}}"),
            "not schema fields",
        ),
        (lambda s: s.replace("{corpus: sound_event}", "{s3: bucket}"), "exactly one key"),
        (lambda s: s.replace("mode: analysis", "mode: voice_chat"), "no tags or prompts"),
        (lambda s: s.replace("mode: analysis", "mode: chatty"), "mode must be one of"),
        (lambda s: s.replace("metrics: [accuracy]\n", ""), r"missing key\(s\) \['metrics'\]"),
        (lambda s: s.replace('"{answer}"', '"{answer"'), "unbalanced"),
        (lambda s: s + "labels: [a, a]\n", "duplicates"),
        (lambda s: s + "  - oops: [\n", "not valid YAML"),
    ],
)
def test_bad_task_files_are_user_errors_naming_the_file(tmp_path, edit, message):
    p = tmp_path / "my_task.yaml"
    p.write_text(edit(GOOD))
    with pytest.raises(UserError, match=message) as e:
        load_task(p)
    assert str(p) in str(e.value) and "\n" not in str(e.value)


def test_good_task_file_loads_and_a_duplicate_name_is_an_error(tmp_path):
    (tmp_path / "a.yaml").write_text(GOOD)
    assert load_task(tmp_path / "a.yaml").name == "my_task"
    (tmp_path / "b.yaml").write_text(GOOD)
    with pytest.raises(UserError, match="already defined"):
        load_tasks(tmp_path)


# ------------------------------------------------------------------------------------------------
# scoring
# ------------------------------------------------------------------------------------------------
def test_eval_reports_the_primary_metric_per_source(tasks):
    """ASR over several voice engines: the report gives each engine's WER beside the overall one."""
    from qwenlike.evaluation import Item, _by_source

    rows = [dict(synthetic_row("asr", i), source=src) for i, src in enumerate(["speech.piper", "speech.piper", "speech.espeak"])]
    preds = [rows[0]["answer"], "the quick brown fox", rows[2]["answer"]]  # one piper row loses 5 of 9 words
    pairs = [(Item("asr", str(i), [], r["answer"], None, r), {}) for i, r in enumerate(rows)]
    overall = tasks["asr"].score(preds, rows)
    got = _by_source(tasks["asr"], pairs, preds, overall)
    assert got == {"wer[speech.espeak]": 0.0, "wer[speech.piper]": pytest.approx(5 / 18)}
    assert _by_source(tasks["asr"], pairs[:2], preds[:2], overall) == {}  # one source: nothing to split


def test_eval_splits_asr_by_natural_and_template_sentences(tasks):
    """Template sentences can be learnt by heart: the report gives natural (fortunes) text its own WER."""
    import json

    from qwenlike.evaluation import Item, _by_source

    kinds = ["fortunes", "fortunes", "generated"]
    rows = [dict(synthetic_row("asr", i), source="speech.piper", meta=json.dumps({"sentence_source": k}))
            for i, k in enumerate(kinds)]  # fmt: skip
    preds = ["the quick brown fox", rows[1]["answer"], rows[2]["answer"]]  # a template-like guess for one
    pairs = [(Item("asr", str(i), [], r["answer"], None, r), {}) for i, r in enumerate(rows)]
    overall = tasks["asr"].score(preds, rows)
    got = _by_source(tasks["asr"], pairs, preds, overall)
    assert set(got) == {"wer[sentences:fortunes]", "wer[sentences:generated]"}  # one engine: no engine split
    assert got["wer[sentences:generated]"] == 0.0
    assert got["wer[sentences:fortunes]"] == pytest.approx(5 / 18)  # 5 of the 9 words lost in one of two


def test_score_uses_the_task_metrics(tasks):
    rows = [synthetic_row("asr", i) for i in range(3)]
    perfect = tasks["asr"].score([r["answer"] for r in rows], rows)
    assert perfect["wer"] == 0.0 and perfect["n"] == 3
    off = tasks["asr"].score(["the quick brown fox"] * 3, rows)
    assert off["wer"] == pytest.approx(5 / 9)  # 5 of 9 reference words deleted
    rows = [synthetic_row("note_analysis", i) for i in range(4)]
    preds = [f"{r['label']}, velocity 1" for r in rows[:3]] + ["a loud G3"]
    assert tasks["note_analysis"].score(preds, rows)["accuracy"] == 0.75  # pitch is what accuracy scores


PERFECT = {
    "wer": 0.0,
    "cer": 0.0,
    "accuracy": 1.0,
    "intent_accuracy": 1.0,
    "slot_f1": 1.0,
    "entity_f1": 1.0,
    "token_f1": 1.0,
    "exact_match": 1.0,
    "event_f1": 1.0,
    "iou": 1.0,
    "boundary_error_ms": 0.0,
    "pitch_error": 0.0,
}


@pytest.mark.parametrize("name", TASK_NAMES)
def test_every_task_scores_its_references_as_perfect_and_noise_as_worse(tasks, name):
    task = tasks[name]
    rows = [synthetic_row(name, i) for i in range(4)]
    best = task.score([task.reference(r) for r in rows], rows)
    assert best["n"] == 4 and set(task.metrics) <= {k.split(".")[0] for k in best}  # every metric was computed
    checked = [m for m in task.metrics if m in PERFECT]
    assert checked or name in ("speech_translation", "audio_caption", "music_caption")
    for m in checked:
        assert best[m] == pytest.approx(PERFECT[m]), m
    worst = task.score(["zzz qqq"] * 4, rows)
    for m in checked:
        assert worst[m] != pytest.approx(PERFECT[m]), m


def test_metric_fallbacks_without_the_registry(tasks, monkeypatch):
    import qwenlike.metrics

    monkeypatch.delattr(qwenlike.metrics, "get_metric")
    rows = [synthetic_row("asr", i) for i in range(2)]
    got = tasks["asr"].score(["the quick brown fox", rows[1]["answer"]], rows)
    assert got["wer"] == pytest.approx(5 / 18) and got["cer"] > 0
    rows = [synthetic_row("music_qa", i) for i in range(2)]
    with pytest.warns(UserWarning, match="tempo_error"):
        got = tasks["music_qa"].score(["G major", "no idea"], rows)
    assert got == {"n": 2.0, "accuracy": 0.5}


def test_parse_label_maps_free_text_to_a_label(tasks):
    t = tasks["sound_event"]
    assert t.parse_label("Dog bark.") == "dog bark"
    assert t.parse_label("glass break, I think") == "glass break"
    assert t.parse_label("a cat") == "a cat"
    assert tasks["note_analysis"].parse_label("C#4, velocity 70") == "C#4"


# ------------------------------------------------------------------------------------------------
# a user task from a CSV of (audio path, label) with one YAML file: render, sample, evaluate
# ------------------------------------------------------------------------------------------------
USER_YAML = """\
# a bird-call classifier over my own clips
name: bird_species
family: sound
mode: analysis
description: Which bird is singing.
sources:
  - csv: {path: birds.csv, columns: {audio: path}}
answer: "{label}"
labels: [blackbird, robin, wren]
metrics: [accuracy]
tags: "<|startofanalysis|><|unknown|><|bird_species|><|en|><|notimestamps|>"
prompts:
  - Which bird is singing?
  - What species of bird is this?
  - Name the bird you hear.
  - Identify the bird from its song.
  - Which of blackbird, robin or wren is this?
"""


def test_user_task_from_csv_end_to_end(tmp_path, tasks, tok, tiny_dir):
    clips = tmp_path / "clips"
    clips.mkdir()
    species = ["blackbird", "robin", "wren"]
    with open(tmp_path / "birds.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label"])
        for i in range(9):
            (clips / f"{i}.wav").write_bytes(wav_bytes(0.4, 600 + 150 * (i % 3), i))
            w.writerow([f"clips/{i}.wav", species[i % 3]])
    (tmp_path / "bird_species.yaml").write_text(USER_YAML)
    all_tasks = load_tasks(Path(tasks["asr"].path).parent, tmp_path, label_sets=LABEL_SETS)
    bird = all_tasks["bird_species"]
    assert bird.labels == tuple(species)

    # render: the CSV's relative paths resolve against the CSV; the label is the answer
    data = bird.open("train")
    assert len(data) == 9 and Path(data[0]["audio"]).is_file()
    conv = bird.conversation(data[0], "natural", seed=1)
    r = chat.render(conv, tok, audio_tokens=[5], template="qwen2-audio")
    assert tok.decode([t for t in r.labels if t != chat.IGNORE]) == "blackbird<|im_end|>"

    # sample: the user task mixed with a catalogue task, from one mixture mapping
    mix = mixture_from_dict({"name": "mine", "tasks": {"bird_species": 3, "speaker_gender": 1}, "forms": {"natural": 1}},
                            tasks=all_tasks)  # fmt: skip
    gender = [synthetic_row("speaker_gender", i) for i in range(4)]
    sampler = MixtureSampler(mix, all_tasks, {"bird_species": data, "speaker_gender": gender}, seed=3)
    samples = sampler.take(400)
    share = sum(s.task == "bird_species" for s in samples) / len(samples)
    assert abs(share - 0.75) < 0.06
    birds = [s for s in samples if s.task == "bird_species"]
    assert {s.row["id"] for s in birds} == {data[i]["id"] for i in range(9)}  # every clip is visited

    # evaluate: generate with a (random) tiny model, then score; a perfect and a constant guess bound it
    from qwenlike.checkpoint import from_pretrained
    from qwenlike.generate import GenerationConfig, generate

    rows = [data[i] for i in range(3)]
    model = from_pretrained(tiny_dir)
    prompts = [bird.conversation(r, "natural", with_answer=False) for r in rows]
    preds = [g.text for g in generate(model, prompts, GenerationConfig(max_new_tokens=3))]
    got = bird.score(preds, rows)
    assert set(got) == {"accuracy", "n"} and 0.0 <= got["accuracy"] <= 1.0
    assert bird.score([r["label"] for r in rows], rows)["accuracy"] == 1.0
    assert bird.score(["Robin."] * 3, rows)["accuracy"] == pytest.approx(1 / 3)


def test_load_task_by_name_and_its_classify_prompt():
    t = load_task("speaker_gender")
    assert t.name == "speaker_gender" and t.classify_prompt() == t.prompts[0].source
    assert load_task("spoken_qa").prompts[0].refs  # every spoken_qa prompt reads the row's question
    with pytest.raises(UserError, match="pass a question"):
        load_task("spoken_qa").classify_prompt()
    with pytest.raises(UserError, match="no_such_task.yaml: task file not found"):
        load_task("no_such_task")


def test_open_views_iterate_and_index_alike(tmp_path):
    (tmp_path / "b.csv").write_text("path,label\nx.wav,a\ny.wav,b\n")
    (tmp_path / "t.yaml").write_text(GOOD.replace("{corpus: sound_event}", "{csv: {path: b.csv, columns: {audio: path}}}"))
    view = load_task(tmp_path / "t.yaml").open("test")
    assert [r["id"] for r in view] == [view[0]["id"], view[1]["id"]] and view[0]["id"] != view[1]["id"]
    assert [r["answer"] for r in view] == ["a", "b"] and view[1]["audio"] == str(tmp_path / "y.wav")


def test_disk_and_jsonl_sources_with_column_maps(tmp_path):
    from datasets import Dataset, DatasetDict

    clip = tmp_path / "c.wav"
    clip.write_bytes(wav_bytes(0.3))
    rows = [{"file": str(clip), "words": "hello there", "q": "Who speaks?"}]
    DatasetDict({"eval": Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "ds"))
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps({**r, "split": "test"}) for r in rows) + "\n")
    cols = "{audio: file, answer: words, meta.question: q}"
    sources = (
        f"sources:\n  - disk: {{path: ds, split: {{test: eval}}, columns: {cols}}}\n"
        f"  - jsonl: {{path: t.jsonl, columns: {cols}}}\n"
    )
    yaml_text = GOOD.replace("sources: [{corpus: sound_event}]\n", sources + "meta: [question]\n")
    yaml_text = yaml_text.replace('"a?"', '"{meta.question}"')
    (tmp_path / "t.yaml").write_text(yaml_text)
    view = load_task(tmp_path / "t.yaml").open("test")
    assert len(view) == 2 and [r["answer"] for r in view] == ["hello there"] * 2
    assert all(r["meta"]["question"] == "Who speaks?" and r["audio"] == str(clip) for r in view)
    with pytest.raises(UserError, match="no rows for split 'train'"):
        load_task(tmp_path / "t.yaml").open("train")
