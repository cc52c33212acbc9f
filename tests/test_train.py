"""The training loop: every stage on the tiny model, overfitting, loss normalisation, 2 processes,
resume after SIGKILL, delta checkpoints that `from_pretrained` (ask / eval) loads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from qwenlike.checkpoint import from_pretrained
from qwenlike.data import write_tone_manifest
from qwenlike.errors import UserError
from qwenlike.train import main, run

ROOT = Path(__file__).resolve().parents[1]
TINY = str(ROOT / "recipes" / "tiny.yaml")
QUIET = ["progress=false", "loss_plot=false", "tensorboard=false"]


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    return write_tone_manifest(tmp_path_factory.mktemp("tones"), n=8, seconds=0.3)


def log_of(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]


def tiny_stage(recipe: str, tones: Path, out: Path, *extra: str) -> list[str]:
    """A real recipe, on the tiny model and the tone manifest."""
    return [str(ROOT / "recipes" / recipe), "model.path=null", "model.tiny=true", "data.corpus=null", "data.mixture=null",
            f"data.manifest={tones}", f"output_dir={out}", "global_batch_size=4", "data.micro_batch_size=2",
            "precision=fp32", "data.num_workers=0", "model.gradient_checkpointing=false", *QUIET, *extra]  # fmt: skip


@pytest.mark.parametrize(
    "recipe, extra, trained",
    [
        ("align.yaml", [], {"projector"}),
        ("sft.yaml", ["model.encoder=lora"], {"projector", "lora"}),
        ("full.yaml", ["model.gradient_checkpointing=true"], {"encoder", "projector", "lm"}),
        ("tiny.yaml", [], {"projector", "lm"}),
    ],
)
def test_every_stage_runs_two_steps_and_saves_a_loadable_checkpoint(tmp_path, tones, recipe, extra, trained):
    out = tmp_path / "run"
    args = tiny_stage(recipe, tones, out, "max_steps=2", "save_every=1", *extra)
    summary = run(args)
    rows = log_of(out)
    assert [r["step"] for r in rows] == [1, 2] and all(r["loss"] > 0 and r["tokens_per_s"] > 0 for r in rows)
    ck = out / "checkpoint-2"
    assert (ck / "train_config.yaml").exists() and (out / "checkpoint-1" / "train_config.yaml").exists()
    meta = json.loads((ck / "config.json").read_text())
    if recipe == "full.yaml":
        assert "delta" not in meta and (ck / "model.safetensors").exists()
    else:
        names = load_file(str(ck / "delta.safetensors")).keys()
        kinds = {("lora" if ".lora_" in n else n.split(".")[0]) for n in names}
        assert kinds == trained, kinds
    model = from_pretrained(ck)  # what `qwenlike ask/eval --model` do
    assert not any(".lora_" in n for n, _ in model.named_parameters())  # LoRA merged for use
    base = from_pretrained(out / "base")
    moved = {n.split(".")[0] for (n, p), (_, q) in zip(model.named_parameters(), base.named_parameters()) if not torch.equal(p, q)}
    assert moved == (trained - {"lora"}) | ({"lm", "encoder"} if "lora" in trained else set())
    assert summary["steps"] == 2


def test_tiny_model_overfits_eight_samples(tmp_path, tones):
    out = tmp_path / "overfit"
    run([TINY, f"data.manifest={tones}", f"output_dir={out}", "max_steps=30", "global_batch_size=8", "data.micro_batch_size=8",
         "optim.lr=1e-2", "optim.warmup_steps=3", "optim.schedule=constant", "model.encoder=full", *QUIET])  # fmt: skip
    losses = [r["loss"] for r in log_of(out)]
    assert losses[-1] < 0.1 * losses[0], (losses[0], losses[-1])


def weights(ck: Path) -> dict[str, torch.Tensor]:
    f = ck / "model.safetensors"
    return load_file(str(f if f.exists() else ck / "delta.safetensors"))


def max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def test_accumulation_gives_the_one_big_batch_step(tmp_path, tones):
    """4 conversations as one micro-batch, or as 2 accumulated micro-batches of 2: the same step."""
    four = tones.parent / "four.jsonl"
    four.write_text("\n".join(tones.read_text().splitlines()[:4]) + "\n")
    outs = {}
    for name, micro in (("big", 4), ("accum", 2)):
        outs[name] = tmp_path / name
        run([TINY, f"data.manifest={four}", f"output_dir={outs[name]}", "max_steps=1", "global_batch_size=4",
             f"data.micro_batch_size={micro}", "optim.warmup_steps=0", "optim.grad_clip=0", *QUIET])  # fmt: skip
    big, acc = log_of(outs["big"])[0], log_of(outs["accum"])[0]
    assert big["assistant_tokens"] == acc["assistant_tokens"]
    assert abs(big["loss"] - acc["loss"]) < 1e-5
    assert abs(big["grad_norm"] - acc["grad_norm"]) < 1e-5 * big["grad_norm"]
    # Adam's first step is ~lr * sign(g): weights agree to rounding except where g is ~0 (eps)
    assert max_diff(weights(outs["big"] / "checkpoint-1"), weights(outs["accum"] / "checkpoint-1")) < 1e-4


def test_user_errors_are_one_line(tmp_path, tones, capsys):
    assert main([TINY, f"data.manifest={tones}", "optim.lrr=1"]) == 2
    assert "unknown config key optim.lrr" in capsys.readouterr().err
    with pytest.raises(UserError, match="manifest not found"):
        run([TINY, f"data.manifest={tmp_path / 'nope.jsonl'}", f"output_dir={tmp_path / 'o'}", *QUIET])
    with pytest.raises(UserError, match="unknown option --bogus"):
        run([TINY, "--bogus"])


def test_auto_precision_says_why_a_cpu_without_bf16_units_trains_in_fp32(tmp_path, tones, monkeypatch, capsys):
    """On an AVX2-only CPU (an AMD EPYC here: bf16 matmul 0.9 GFLOP/s against 134 for fp32) `auto`
    picks fp32 and the start-up line says why, so a recipe timed in bf16 is not a surprise."""
    import qwenlike.train as T

    args = [TINY, f"data.manifest={tones}", "max_steps=1", "precision=auto", "device=cpu", *QUIET]
    for fast, want in ((False, "precision fp32 (auto: this CPU has no AMX or AVX512-BF16"), (True, "precision bf16;")):
        monkeypatch.setattr(T, "fast_bf16", lambda device, fast=fast: fast)
        run([*args, f"output_dir={tmp_path / str(fast)}"])
        assert want in capsys.readouterr().err


def test_more_processes_than_gpus_is_one_line_on_every_rank(monkeypatch):
    """torchrun --nproc_per_node 2 on a one-GPU machine: each rank stops with the same line
    (seen on an H100 machine: rank 1 died on 'invalid device ordinal' and rank 0 waited for it)."""
    from qwenlike.config import TrainConfig
    from qwenlike.train import init_dist

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    for rank in ("0", "1"):
        monkeypatch.setenv("LOCAL_RANK", rank)
        monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
        monkeypatch.setenv("WORLD_SIZE", "2")
        with pytest.raises(UserError, match="2 processes on this node but 1 GPU"):
            init_dist(TrainConfig(device="auto"))


def test_corpus_and_mixture_come_from_qwenlike_tasks(tmp_path, tones, monkeypatch):
    """data.corpus + data.mixture: the loop trains on what tasks.sample_conversations draws."""
    import qwenlike.tasks as tasks
    from qwenlike.data import read_manifest

    mixture = ROOT / "task_mixture" / "mixtures" / "alignment.yaml"
    calls = []

    def fake_sample(mixture, corpus, n, seed):
        calls.append((Path(mixture), Path(corpus), n, seed))
        return read_manifest(tones)[:n]

    monkeypatch.setattr(tasks, "sample_conversations", fake_sample, raising=False)
    out = tmp_path / "o"
    run([TINY, "data.manifest=null", f"data.corpus={tmp_path}", f"data.mixture={mixture}", "data.corpus_samples=6",
         "seed=5", f"output_dir={out}", "max_steps=1", *QUIET])  # fmt: skip
    assert calls == [(mixture, tmp_path, 6, 5)] and log_of(out)[0]["step"] == 1
    with pytest.raises(UserError, match="corpus folder not found"):
        run([TINY, "data.manifest=null", f"data.corpus={tmp_path / 'none'}", f"data.mixture={mixture}", f"output_dir={out}", *QUIET])


def test_encoder_feature_cache_gives_the_same_losses(tmp_path, tones):
    logs = {}
    for cache in ("false", "true"):
        out = tmp_path / cache
        s = run([TINY, f"data.manifest={tones}", f"output_dir={out}", "max_steps=6", f"model.cache_encoder_features={cache}", *QUIET])
        logs[cache] = [r["loss"] for r in log_of(out)]
        if cache == "true":  # 8 clips, 24 windows seen: each encoded once
            assert s["cache"]["misses"] == 8 and s["cache"]["hits"] == 6 * 4 - 8
    assert max(abs(a - b) for a, b in zip(logs["false"], logs["true"])) < 1e-5


# ----------------------------------------------------------------------------------------------
# subprocesses: SIGKILL + resume, 2 processes (torchrun, gloo), DeepSpeed ZeRO-2/3
# ----------------------------------------------------------------------------------------------
def launch(args: list[str], env_extra: dict[str, str] | None = None, procs: int = 1, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1" if procs > 1 else os.environ.get("OMP_NUM_THREADS", "2"), **(env_extra or {}))
    if procs > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs), "-m", "qwenlike.train", *args]
    else:
        cmd = [sys.executable, "-m", "qwenlike.train", *args]
    return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


RESUME_ARGS = ["max_steps=12", "save_every=3", "global_batch_size=4", "data.micro_batch_size=2", "model.lm=lora", "model.encoder=lora",
               "optim.warmup_steps=2", "optim.lr=2e-3", *QUIET]  # fmt: skip


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, tones):
    out = tmp_path_factory.mktemp("ref") / "run"
    p = launch([TINY, f"data.manifest={tones}", f"output_dir={out}", *RESUME_ARGS])
    assert p.returncode == 0, p.stderr[-2000:]
    return out


@pytest.mark.parametrize("fault, resumed_from", [("sigkill-after-step:7", 6), ("sigkill-in-save:9", 6)])
def test_sigkill_and_resume_match_an_uninterrupted_run(tmp_path, tones, uninterrupted, fault, resumed_from):
    out = tmp_path / "run"
    args = [TINY, f"data.manifest={tones}", f"output_dir={out}", *RESUME_ARGS]
    p = launch(args, {"QWENLIKE_FAULT": fault})
    assert p.returncode == -signal.SIGKILL, (p.returncode, p.stderr[-2000:])
    assert not (out / "checkpoint-12").exists() and not (out / "checkpoint-9").exists()
    if fault.startswith("sigkill-in-save"):
        assert list(out.glob(".checkpoint-9.tmp"))  # the half-written folder is left, never loaded
    p = launch([*args, "--resume"])
    assert p.returncode == 0, p.stderr[-2000:]
    assert f"checkpoint-{resumed_from} at step {resumed_from}" in p.stderr
    diff = max_diff(weights(out / "checkpoint-12"), weights(uninterrupted / "checkpoint-12"))
    print(f"resume after {fault}: max |w - w_uninterrupted| = {diff:.3g}")
    assert diff <= 1e-6, diff
    got, ref = log_of(out), log_of(uninterrupted)
    assert [r["step"] for r in got] == list(range(1, 13))
    assert max(abs(a["loss"] - b["loss"]) for a, b in zip(got, ref)) <= 1e-6


def two_process_case(tmp_path: Path, tones: Path, extra: list[str]) -> tuple[list[float], list[float]]:
    """Losses of 1 process x 2 accumulation and of 2 processes x 1, same global batch of 4."""
    common = [TINY, f"data.manifest={tones}", "max_steps=5", "global_batch_size=4", "data.micro_batch_size=2", "device=cpu", *QUIET]  # gloo, also where one GPU is visible
    p1 = launch([*common, f"output_dir={tmp_path / 'one'}"])
    assert p1.returncode == 0, p1.stderr[-2000:]
    p2 = launch([*common, f"output_dir={tmp_path / 'two'}", *extra], procs=2, timeout=900)
    assert p2.returncode == 0, p2.stderr[-3000:]
    one, two = [[r["loss"] for r in log_of(tmp_path / d)] for d in ("one", "two")]
    print(f"2 processes {extra or 'DDP'}: max |loss - loss_1proc| over {len(one)} steps = {max(abs(a - b) for a, b in zip(one, two)):.3g}")
    return one, two


def test_ddp_two_processes_match_one_process(tmp_path, tones):
    one, two = two_process_case(tmp_path, tones, [])
    assert len(one) == len(two) == 5
    assert max(abs(a - b) for a, b in zip(one, two)) < 1e-3, (one, two)
    from_pretrained(tmp_path / "two" / "checkpoint-5")


@pytest.mark.slow
@pytest.mark.parametrize("ds", ["ds_zero2.json", "ds_zero3.json"])
def test_deepspeed_two_processes_match_one_process(tmp_path, tones, ds):
    pytest.importorskip("deepspeed")
    one, two = two_process_case(tmp_path, tones, [f"deepspeed={ROOT / 'recipes' / ds}"])
    assert len(one) == len(two) == 5
    assert max(abs(a - b) for a, b in zip(one, two)) < 1e-3, (one, two)
    from_pretrained(tmp_path / "two" / "checkpoint-5")  # ZeRO-gathered weights load for ask/eval


def test_full_weights_resume_equals_uninterrupted(tmp_path, tones):
    """The full-checkpoint path (model.safetensors + optimizer.pt), resumed in-process."""
    import shutil

    common = [TINY, f"data.manifest={tones}", "max_steps=4", "save_every=2", "model.encoder=full", *QUIET]
    run([*common, f"output_dir={tmp_path / 'a'}"])
    (tmp_path / "b").mkdir()
    shutil.copytree(tmp_path / "a" / "checkpoint-2", tmp_path / "b" / "checkpoint-2")
    shutil.copytree(tmp_path / "a" / "base", tmp_path / "b" / "base")
    run([*common, f"output_dir={tmp_path / 'b'}", "--resume"])
    assert (tmp_path / "b" / "checkpoint-4" / "model.safetensors").exists()
    assert max_diff(weights(tmp_path / "a" / "checkpoint-4"), weights(tmp_path / "b" / "checkpoint-4")) <= 1e-6


def test_dataloader_workers_give_the_same_batches(tmp_path, tones):
    losses = {}
    for workers in (0, 1):
        out = tmp_path / str(workers)
        run([TINY, f"data.manifest={tones}", f"output_dir={out}", "max_steps=3", f"data.num_workers={workers}", *QUIET])
        losses[workers] = [r["loss"] for r in log_of(out)]
    assert losses[0] == losses[1]


def test_ctc_alignment_loss_reads_rows_as_the_tokens_they_embed():
    from qwenlike.model import CTCHead, ctc_alignment_loss

    torch.manual_seed(0)
    vecs = torch.nn.functional.normalize(torch.randn(13, 8), dim=-1)
    table, head = vecs[:12], CTCHead(8, 30.0)  # V=12 tokens of width 8, logits x 30
    with torch.no_grad():
        head.blank.copy_(vecs[12])
    masked = [11]
    target = [3, 5, 5, 7]  # a repeat needs a blank between its two copies
    blank = vecs[12][None]
    good = torch.cat([blank, table[[3, 3]], blank, table[[5]], blank, table[[5, 7]], blank])  # rows on the spoken tokens
    res = ctc_alignment_loss(good, [9], [target], table, head, masked=masked)
    assert res["n_tokens"] == 4 and float(res["loss"]) < 0.01
    bad = torch.cat([blank, table[[4, 4]], blank, table[[6]], blank, table[[6, 8]], blank])
    assert float(ctc_alignment_loss(bad, [9], [target], table, head, masked=masked)["loss"]) > 10
    # a masked row is never an output, even where the rows point straight at it
    assert float(ctc_alignment_loss(table[[11] * 9], [9], [[11]], table, head, masked=masked)["loss"]) > 1000
    # two conversations: the second has fewer audio rows than targets and is left out
    res2 = ctc_alignment_loss(torch.cat([good, good[:2]]), [9, 2], [target, target], table, head, masked=masked)
    assert res2["n_tokens"] == 4 and torch.allclose(res2["loss_sum"], res["loss_sum"])
    # the head learns: its blank and scale get gradients
    res["loss"].backward()
    assert head.blank.grad is not None and head.scale.grad is not None


def test_ctc_objective_trains_the_adapter_alone_and_resumes(tmp_path):
    """`objective: ctc`: the adapter's loss falls; the LM is untouched; the head is kept for resume
    only (the next stage loads the adapter alone); a resumed run is the uninterrupted one."""
    tones = write_tone_manifest(tmp_path / "tones", n=8, seconds=1.5)
    common = ["objective=ctc", "optim.lr=1e-2", "optim.warmup_steps=2", "optim.schedule=constant",
              "global_batch_size=8", "data.micro_batch_size=8"]  # fmt: skip
    out = tmp_path / "ctc"
    run(tiny_stage("align.yaml", tones, out, "max_steps=40", "save_every=20", *common))
    rows = log_of(out)
    losses = [r["loss"] for r in rows]
    assert all(r["assistant_tokens"] > 0 for r in rows)
    assert losses[-1] < 0.2 * losses[0], (losses[0], losses[-1])
    saved = load_file(str(out / "checkpoint-40" / "delta.safetensors"))
    assert {n.split(".")[0] for n in saved} == {"projector", "ctc_head"}
    model, base = from_pretrained(out / "checkpoint-40"), from_pretrained(out / "base")
    assert not hasattr(model, "ctc_head")
    assert all(torch.equal(p, q) for p, q in zip(model.lm.parameters(), base.lm.parameters()))
    assert torch.equal(dict(model.projector.named_parameters())["down.weight"], saved["projector.down.weight"])
    resumed = tmp_path / "resumed"  # 20 steps, stop, resume to 40: the same weights as 40 in one go
    run(tiny_stage("align.yaml", tones, resumed, "max_steps=20", "save_every=20", *common))
    run(tiny_stage("align.yaml", tones, resumed, "max_steps=40", "save_every=20", "resume=auto", *common))
    assert max_diff(weights(resumed / "checkpoint-40"), weights(out / "checkpoint-40")) == 0.0
    # the next stage starts from the adapter: an lm-objective run on this checkpoint
    nxt = tmp_path / "next"
    run(tiny_stage("align.yaml", tones, nxt, "max_steps=1", f"model.path={out / 'checkpoint-40'}", "model.tiny=false"))
    assert log_of(nxt)[0]["loss"] > 0


def test_ctc_objective_refuses_a_trained_lm(tmp_path, tones, capsys):
    args = tiny_stage("sft.yaml", tones, tmp_path / "x", "objective=ctc", "max_steps=1")
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "objective=ctc" in err[0] and "model.lm=frozen" in err[0], err
