"""The task catalogue and mixtures: task_mixture/*.yaml -> Task objects -> conversations, scores,
and a deterministic, resumable mixture sampler. Floor 3 (chat's message format, errors).

    tasks = load_tasks(label_sets=CORPUS / "label_sets.json")    # the 30 tasks (+ extra folders)
    conv = tasks["asr"].conversation(row, form="tags")           # -> chat.render
    mix = load_mixture("instruction", tasks)
    sampler = MixtureSampler(mix, tasks, mix.open(tasks, corpus=CORPUS), seed=0, speak=tts)
    for sample in sampler: ...                                   # sampler.state_dict() to resume
    tasks["speaker_gender"].score(predictions, rows)             # {"accuracy": ..., "n": ...}
"""

from .mixture import Mixture, MixtureSampler, Sample, load_mixture, mixture_from_dict, sample_conversations
from .sources import SCHEMA_FIELDS, RowStream, RowView, normalise_row
from .task import FORMS, Task, default_tasks_dir, load_task, load_tasks, read_label_sets, sample_seed
from .tts import CachedTTS, EspeakTTS, PiperTTS, default_tts

__all__ = [
    "FORMS", "SCHEMA_FIELDS", "CachedTTS", "EspeakTTS", "Mixture", "MixtureSampler", "PiperTTS", "RowStream", "RowView",
    "Sample", "Task", "default_tasks_dir", "default_tts", "load_mixture", "load_task", "load_tasks",
    "mixture_from_dict", "normalise_row", "read_label_sets", "sample_conversations", "sample_seed",
]  # fmt: skip
