"""On a CUDA GPU (skipped where none is visible, as on CI): training picks bf16 autocast and learns,
a SIGKILLed run resumes to the uninterrupted run's weights, a GPU-trained checkpoint reads the same
on a CPU, greedy generation on the GPU gives the CPU's text, and our Qwen2-Audio import matches
transformers' logits on the GPU. Run on a lent H100: docs/training.md ("On a GPU")."""

from __future__ import annotations

import shutil

import pytest
import torch

from qwenlike import chat
from qwenlike.checkpoint import from_pretrained
from qwenlike.cli import main as cli
from qwenlike.generate import GenerationConfig, generate
from qwenlike.inputs import prepare

from conftest import tone
from test_parity import _hf_inputs
from test_train import QUIET, TINY, launch, log_of, max_diff, tones, weights  # noqa: F401 (tones: a fixture)

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible")


@pytest.fixture(scope="module")
def gpu_run(tmp_path_factory, tones):
    """The overfit case of test_train, on the GPU with precision auto."""
    out = tmp_path_factory.mktemp("gpu") / "run"
    p = launch([TINY, f"data.manifest={tones}", f"output_dir={out}", "max_steps=30", "global_batch_size=8",
                "data.micro_batch_size=8", "optim.lr=1e-2", "optim.warmup_steps=3", "optim.schedule=constant",
                "model.encoder=full", "device=auto", "precision=auto", "save_every=10", *QUIET])  # fmt: skip
    assert p.returncode == 0, p.stderr[-2000:]
    return out, p.stderr


def test_training_on_the_gpu_picks_bf16_and_learns(gpu_run):
    out, err = gpu_run
    assert "precision bf16" in err, err[-1000:]
    losses = [r["loss"] for r in log_of(out)]
    assert len(losses) == 30 and losses[-1] < 0.1 * losses[0], (losses[0], losses[-1])


def test_gpu_checkpoint_reads_the_same_on_a_cpu(gpu_run, tones):
    out, _ = gpu_run
    import soundfile as sf

    clips = [sf.read(tones.parent / "clips" / f"tone{i:03d}.wav", dtype="float32")[0] for i in range(4)]
    logits = {}
    for dev in ("cpu", "cuda"):
        model = from_pretrained(out / "checkpoint-30", device=dev).eval()
        convs = [chat.analysis([c], "What do you hear?") for c in clips]
        batch = prepare(convs, model.tokenizer, model.config, add_generation_prompt=True, clips=[[c] for c in clips])
        batch.to(model.device)
        with torch.no_grad():
            logits[dev] = model(batch.input_ids, batch.attention_mask, batch.audio)["logits"].float().cpu()
    assert torch.equal(logits["cpu"].argmax(-1), logits["cuda"].argmax(-1))
    assert (logits["cpu"] - logits["cuda"]).abs().max().item() < 1e-2


def test_sigkill_on_the_gpu_resumes_to_the_uninterrupted_weights(tmp_path, tones):
    """fp32 here: bf16 autocast on a GPU is deterministic too, but a tolerance for fp32 says more."""
    args = ["max_steps=8", "save_every=3", "global_batch_size=4", "data.micro_batch_size=2", "model.lm=lora",
            "optim.warmup_steps=2", "optim.lr=2e-3", "device=cuda", "precision=fp32", *QUIET]  # fmt: skip
    ref, out = tmp_path / "ref", tmp_path / "run"
    assert launch([TINY, f"data.manifest={tones}", f"output_dir={ref}", *args]).returncode == 0
    p = launch([TINY, f"data.manifest={tones}", f"output_dir={out}", *args], {"QWENLIKE_FAULT": "sigkill-after-step:5"})
    assert p.returncode != 0 and not (out / "checkpoint-8").exists()
    p = launch([TINY, f"data.manifest={tones}", f"output_dir={out}", *args, "--resume"])
    assert p.returncode == 0, p.stderr[-2000:]
    assert "checkpoint-3 at step 3" in p.stderr
    diff = max_diff(weights(out / "checkpoint-8"), weights(ref / "checkpoint-8"))
    print(f"GPU resume: max |w - w_uninterrupted| = {diff:.3g}")
    assert diff <= 1e-5, diff


def test_greedy_generation_on_the_gpu_gives_the_cpu_text(tiny_dir):
    clip = tone(3.0, 440)
    texts = {}
    for dev in ("cpu", "cuda"):
        model = from_pretrained(tiny_dir, device=dev).eval()
        conv = chat.analysis([clip], "Describe the audio.")
        out = generate(model, [conv], GenerationConfig(max_new_tokens=16, do_sample=False), clips=[[clip]])
        texts[dev] = out[0].token_ids
    assert texts["cpu"] == texts["cuda"] and len(texts["cpu"]) > 0


def test_qwen2_audio_import_matches_transformers_on_the_gpu(q2a_dir, tmp_path):
    from transformers import Qwen2AudioForConditionalGeneration, Qwen2AudioProcessor

    conv_dir = tmp_path / "qwenlike"
    assert cli(["convert", str(q2a_dir), "--to", "qwenlike", "--out", str(conv_dir)]) == 0
    ref = Qwen2AudioForConditionalGeneration.from_pretrained(q2a_dir).eval().cuda()
    proc = Qwen2AudioProcessor.from_pretrained(q2a_dir)
    ours = from_pretrained(conv_dir, device="cuda").eval()
    clips = [tone(10.0, 200), tone(29.0, 350, seed=1)]
    conv = chat.analysis(clips, "What is that sound?")
    inp = {k: v.cuda() for k, v in _hf_inputs(proc, conv, clips).items()}
    batch = prepare([conv], ours.tokenizer, ours.config, add_generation_prompt=True, clips=[clips])
    batch.to("cuda")
    with torch.no_grad():
        want = ref(**inp).logits
        got = ours(batch.input_ids, batch.attention_mask, batch.audio)["logits"]
    assert torch.equal(batch.input_ids, inp["input_ids"])
    diff = (want - got).abs().max().item()
    print(f"GPU parity: max |logit difference| = {diff:.3g}")
    assert diff < 1e-3, diff
    shutil.rmtree(conv_dir)
