"""The default model: model references (`default`, build specs), stage-2 deltas that sit on the
base, the shipped delta, and (base_models, CI's second step) what it answers on bundled clips."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from qwenlike import paths
from qwenlike.checkpoint import from_pretrained, pack_delta, save_delta, save_pretrained
from qwenlike.data import write_tone_manifest
from qwenlike.tiny import tiny_audiolm
from qwenlike.train import run

ROOT = Path(__file__).resolve().parents[1]
SPEC = paths.DEFAULT_BASE
EXAMPLES = ROOT / "qwenlike" / "examples"
QUIET = ["progress=false", "loss_plot=false", "tensorboard=false"]


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    pa, pb = dict(a.named_parameters()), dict(b.named_parameters())
    return pa.keys() == pb.keys() and all(torch.equal(pa[k], pb[k]) for k in pa)


def test_build_specs_name_two_known_parts_and_never_shadow_a_folder(tmp_path, monkeypatch):
    assert paths.is_build_spec(SPEC)
    assert not paths.is_build_spec("whisper-base+no-such-llm")
    assert not paths.is_build_spec("models/tiny")
    monkeypatch.chdir(tmp_path)
    (tmp_path / SPEC).mkdir()  # a folder of that name is what the user means
    assert not paths.is_build_spec(SPEC)


def test_a_delta_over_a_build_spec_loads_its_base_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("QWENLIKE_CACHE", str(tmp_path / "cache"))
    base = tiny_audiolm(seed=0)
    save_pretrained(base, tmp_path / "cache" / "bases" / SPEC)  # as if assembled on an earlier run
    trained = tiny_audiolm(seed=0)
    with torch.no_grad():
        for p in trained.projector.parameters():
            p.add_(0.5)
    names = [n for n, _ in trained.named_parameters() if n.startswith("projector.")]
    save_delta(trained, tmp_path / "delta", base=SPEC, names=names, lora=None)
    assert json.loads((tmp_path / "delta" / "config.json").read_text())["delta"]["base"] == SPEC
    assert same_weights(from_pretrained(tmp_path / "delta"), trained)
    assert same_weights(from_pretrained(SPEC), base)


def default_stage(recipe: str, out: Path, tones: Path, *extra: str) -> None:
    """Two steps of a shipped recipe on tones, a tiny model unless `extra` starts from a checkpoint."""
    run([str(ROOT / "recipes" / recipe), "model.path=null", "model.tiny=true", "data.corpus=null", "data.mixture=null",
         f"data.manifest={tones}", f"output_dir={out}", "global_batch_size=4", "data.micro_batch_size=2",
         "max_steps=2", "save_every=2", "precision=fp32", *QUIET, *extra])  # fmt: skip


def test_stage_two_checkpoints_do_not_need_the_stage_one_folder(tmp_path):
    """default-sft starts from default-ctc's adapter-only delta (its CTC head left behind) and retrains
    the projector: its deltas sit on stage 1's own base, so deleting the stage-1 run loses nothing."""
    tones = write_tone_manifest(tmp_path / "tones", n=8, seconds=2.0)

    s1, s2 = tmp_path / "ctc", tmp_path / "sft"
    default_stage("default-ctc.yaml", s1, tones)
    with safe_open(str(s1 / "checkpoint-2" / "delta.safetensors"), framework="pt") as f:
        assert {n.split(".")[0] for n in f.keys()} == {"projector", "ctc_head"}
    default_stage("default-sft.yaml", s2, tones, "model.tiny=false", f"model.path={s1 / 'checkpoint-2'}")
    meta = json.loads((s2 / "checkpoint-2" / "config.json").read_text())
    assert meta["delta"]["base"] == str((s1 / "base").resolve())
    with safe_open(str(s2 / "checkpoint-2" / "delta.safetensors"), framework="pt") as f:
        kinds = {"lora" if ".lora_" in n else n.split(".")[0] for n in f.keys()}
    assert kinds == {"projector", "lora"}
    before = from_pretrained(s2 / "checkpoint-2")
    stage1 = from_pretrained(s1 / "checkpoint-2")
    shutil.rmtree(s1 / "checkpoint-2")
    after = from_pretrained(s2 / "checkpoint-2")
    assert same_weights(before, after)
    p1, p2 = stage1.projector.state_dict(), after.projector.state_dict()
    assert any(not torch.equal(p1[k], p2[k]) for k in p1)  # stage 2 trained the projector further


def test_the_three_default_recipes_chain_and_pack_into_one_delta_over_stage_one_base(tmp_path):
    """default-cls trains a fresh LoRA on default-sft's checkpoint (merged on load), which sits on
    default-ctc's: packed, the chain is one delta over stage 1's base with both LoRAs as one of rank
    32, which answers as the stacked model does without stage 2's folder."""
    tones = write_tone_manifest(tmp_path / "tones", n=8, seconds=2.0)

    s1, s2, s3 = tmp_path / "ctc", tmp_path / "sft", tmp_path / "cls"
    default_stage("default-ctc.yaml", s1, tones)
    default_stage("default-sft.yaml", s2, tones, "model.tiny=false", f"model.path={s1 / 'checkpoint-2'}")
    default_stage("default-cls.yaml", s3, tones, "model.tiny=false", f"model.path={s2 / 'checkpoint-2'}")
    assert json.loads((s3 / "checkpoint-2" / "config.json").read_text())["delta"]["base"] == str((s2 / "checkpoint-2").resolve())
    pack_delta(s3 / "checkpoint-2", tmp_path / "packed", dtype=torch.float32)
    meta = json.loads((tmp_path / "packed" / "config.json").read_text())
    assert meta["delta"]["base"] == str((s1 / "base").resolve()) and meta["delta"]["lora"]["r"] == 32
    stacked = from_pretrained(s3 / "checkpoint-2").eval()
    shutil.rmtree(s2)
    packed = from_pretrained(tmp_path / "packed").eval()
    ids = torch.randint(0, packed.lm.config.vocab_size, (1, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(packed.lm(input_ids=ids).logits, stacked.lm(input_ids=ids).logits, rtol=0, atol=1e-4)
    assert same_weights(packed.projector, stacked.projector)  # stage 3's projector ships as trained


def test_pack_delta_ships_fp16_trained_weights_without_training_state(tmp_path):
    base = tiny_audiolm(seed=0)
    save_pretrained(base, tmp_path / "base")
    trained = tiny_audiolm(seed=0)
    with torch.no_grad():
        for p in trained.projector.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    names = [n for n, _ in trained.named_parameters() if n.startswith("projector.")]
    save_delta(trained, tmp_path / "ck", base=str(tmp_path / "base"), names=names, lora=None)
    (tmp_path / "ck" / "optimizer.pt").write_bytes(b"x" * 1000)
    (tmp_path / "ck" / "rng-rank0.pt").write_bytes(b"x")
    pack_delta(tmp_path / "ck", tmp_path / "packed")
    assert not {"optimizer.pt", "rng-rank0.pt"} & {p.name for p in (tmp_path / "packed").iterdir()}
    w = (tmp_path / "ck" / "delta.safetensors").stat().st_size
    assert (tmp_path / "packed" / "delta.safetensors").stat().st_size < 0.55 * w
    got = dict(from_pretrained(tmp_path / "packed").named_parameters())
    for n, p in trained.named_parameters():
        want = p.detach().half().float() if n in names else p.detach()
        assert got[n].dtype == torch.float32 and torch.equal(got[n], want), n


def test_pack_delta_folds_a_stage_trained_on_an_earlier_lora_stage(tmp_path):
    """Stage 3 trains a fresh LoRA on stage 2 merged (its base is stage 2's delta); what ships must be
    one delta over the plain base: the two LoRAs as one of rank 6 that changes the weights exactly as
    merging both in turn, stage 3's projector, and stage 2's LoRA on a module stage 3 left alone."""
    from qwenlike.checkpoint import apply_lora, lora_regex

    save_pretrained(tiny_audiolm(seed=0), tmp_path / "base")

    def stage(start: Path, out: Path, r: int, targets: list[str], seed: int) -> None:
        model = from_pretrained(start)
        spec = {"r": r, "alpha": 2 * r, "dropout": 0.0, "target_modules": lora_regex(targets, [])}
        apply_lora(model, spec)
        g = torch.Generator().manual_seed(seed)
        names = [n for n, _ in model.named_parameters() if ".lora_" in n or n.startswith("projector.")]
        with torch.no_grad():
            for n, p in model.named_parameters():
                if n in names:
                    p.add_(torch.randn(p.shape, generator=g) * 0.05)
        save_delta(model, out, base=str(start), names=names, lora=spec)

    stage(tmp_path / "base", tmp_path / "s2", 4, ["q_proj", "v_proj"], 1)
    stage(tmp_path / "s2", tmp_path / "s3", 2, ["q_proj", "o_proj"], 2)
    pack_delta(tmp_path / "s3", tmp_path / "packed", dtype=torch.float32)
    meta = json.loads((tmp_path / "packed" / "config.json").read_text())
    assert meta["delta"]["base"] == str(tmp_path / "base") and meta["delta"]["lora"]["r"] == 6
    stacked = dict(from_pretrained(tmp_path / "s3").named_parameters())  # stage 2 merged, then stage 3
    shutil.rmtree(tmp_path / "s2")  # the package does not need the earlier stage
    want = dict(from_pretrained(tmp_path / "packed").named_parameters())
    base = dict(from_pretrained(tmp_path / "base").named_parameters())
    changed = [n for n in stacked if not torch.equal(stacked[n], base[n])]
    assert any("v_proj" in n for n in changed) and any("o_proj" in n for n in changed)
    for n, p in stacked.items():
        torch.testing.assert_close(want[n], p, rtol=0, atol=1e-6, msg=n)


def test_the_shipped_default_model_is_only_the_trained_weights():
    d = paths.default_model_dir()
    assert d is not None and d == paths.DEFAULT_MODEL
    meta = json.loads((d / "config.json").read_text())
    # stage 2's LoRA (r 16) and the label-head stage's (r 16) folded into one of rank 32
    assert meta["delta"]["base"] == SPEC and meta["delta"]["lora"]["r"] == 32
    assert [g["task"] for g in meta["qwenlike"]["label_head"]["groups"]] == [  # the four judged tasks, seven more (twentieth session), two more (twenty-first)
        "speaker_gender", "language_id", "instrument", "sound_event", "accent_id", "acoustic_scene", "speech_emotion",
        "speaker_age", "speaker_count", "event_counting", "music_style", "note_analysis", "composer_id"]
    with safe_open(str(d / "delta.safetensors"), framework="pt") as f:
        names = list(f.keys())
    assert names and all(n.startswith(("projector.", "label_head.")) or ".lora_" in n for n in names)
    assert any(".lora_" in n for n in names) and any(n.startswith("projector.") for n in names)
    assert {"label_head.linear.weight", "label_head.linear.bias"} <= set(names)
    files = {p.name for p in d.iterdir()}
    assert not files & {"optimizer.pt", "rng-rank0.pt", "trainer_state.json"}  # no training state ships
    assert sum(p.stat().st_size for p in d.iterdir()) < 45e6  # fp16 deltas: ~39 MB of weights (two LoRAs as one of rank 32)



def test_the_recipe_script_packages_what_its_recipes_train_and_the_head_the_model_ships():
    """scripts/train_default.sh, the stage recipes, stage 3's mixture and the shipped config agree: the
    script packages the checkpoint each recipe's max_steps ends on, stage 3 draws max_steps x batch
    conversations and replays every head task, and its head is the shipped head (same tasks, same order)."""
    import re

    import yaml

    script = (ROOT / "scripts" / "train_default.sh").read_text()
    recipes = {n: yaml.safe_load((ROOT / "recipes" / f"default-{n}.yaml").read_text()) for n in ("ctc", "sft", "labels")}
    for name, recipe in recipes.items():
        assert f'$RUN/{name}/checkpoint-{recipe["max_steps"]}"' in script, name
    labels = recipes["labels"]
    assert labels["data"]["corpus_samples"] == labels["max_steps"] * labels["global_batch_size"]
    head_tasks = re.search(r"--tasks ([a-z_,]+)", script.split("label-head", 1)[1]).group(1).split(",")
    shipped = json.loads((paths.DEFAULT_MODEL / "config.json").read_text())["qwenlike"]["label_head"]["groups"]
    assert head_tasks == [g["task"] for g in shipped]
    mixture = yaml.safe_load((ROOT / "task_mixture" / "mixtures" / "default-labels.yaml").read_text())["tasks"]
    assert set(head_tasks) <= {t for t, w in mixture.items() if w > 0}

# ---------------------------------------------------------------------------------------------
# the default model itself: needs the base-models packages (CI's second step)
# ---------------------------------------------------------------------------------------------
def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    env.pop("QWENLIKE_MODEL", None)
    return subprocess.run([sys.executable, "-m", "qwenlike.cli", *args], capture_output=True, text=True, env=env, timeout=600)


BELOW_TARGET = "the shipped default model is below its targets (docs/default-model.md); strict: passes -> drop this mark"


@pytest.mark.base_models
def test_default_model_ask_on_a_10_s_clip_reports_time_and_stays_under_3_gb():
    r = cli("ask", str(EXAMPLES / "weather_report.wav"), "-q", "What is said in this clip?", "--json")  # no --model
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["audio_seconds"] == 10.0 and out["audio_tokens"] == 125 + 13 and out["new_tokens"] > 0  # 125 frame tokens + 13 label-head rows
    assert out["answer"].strip() and out["finish_reason"] == "stop"  # a sentence that ends, not a runaway
    assert 0 < out["seconds"] and out["peak_rss_mb"] < 3072, out


@pytest.mark.base_models
def test_default_model_classify_uses_the_label_sets_it_ships():
    r = cli("classify", str(EXAMPLES / "violin.wav"), "--task", "instrument", "--json")  # no --corpus
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    shipped = json.loads((paths.DEFAULT_MODEL / "label_sets.json").read_text())["instrument"]
    assert sorted(out["probabilities"]) == sorted(shipped)
    assert abs(sum(out["probabilities"].values()) - 1) < 1e-4


@pytest.mark.base_models
def test_default_model_voice_chat_knows_the_capital_of_france():
    r = cli("chat", str(EXAMPLES / "capital_of_france.wav"), "--json")
    assert r.returncode == 0, r.stderr
    assert "Paris" in json.loads(r.stdout)["answer"]


@pytest.mark.base_models
@pytest.mark.parametrize("clip, task, label", [
    pytest.param("cow.wav", "sound_event", "cow mooing", marks=pytest.mark.xfail(strict=True, reason=BELOW_TARGET)),
    ("violin.wav", "instrument", "violin"),  # instrument met its target with the label head (fourteenth run)
])
def test_default_model_classifies_bundled_clips(clip, task, label):
    r = cli("classify", str(EXAMPLES / clip), "--task", task, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["label"] == label
