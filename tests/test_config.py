"""Typed training config: YAML + dotted overrides, unknown keys and bad values are one-line UserErrors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from qwenlike.config import TrainConfig, dump_yaml, from_dict, load_config
from qwenlike.errors import UserError

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def write(tmp_path: Path, d: dict) -> Path:
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(d))
    return p


BASE = {"model": {"tiny": True}, "data": {"manifest": "m.jsonl"}}


def test_overrides_and_types(tmp_path):
    cfg = load_config(write(tmp_path, BASE), ["output_dir=/x/y", "max_steps=7", "optim.lr=3e-4", "model.lm=lora",
                                             "model.lora.lm_targets=q_proj,v_proj", "progress=false"])  # fmt: skip
    assert cfg.output_dir == "/x/y" and cfg.max_steps == 7 and cfg.optim.lr == pytest.approx(3e-4)
    assert cfg.model.lm == "lora" and cfg.model.lora.lm_targets == ["q_proj", "v_proj"] and cfg.progress is False


def test_resolved_config_round_trips(tmp_path):
    cfg = load_config(write(tmp_path, BASE), ["seed=3", "model.encoder=full"])
    again = from_dict(TrainConfig, yaml.safe_load(dump_yaml(cfg)))
    assert again == cfg


@pytest.mark.parametrize(
    "override, message",
    [
        ("optim.lrr=1", "unknown config key optim.lrr"),
        ("bogus=1", "unknown config key bogus"),
        ("max_steps=ten", "max_steps: expected an integer"),
        ("max_steps=1.5", "max_steps: expected an integer"),
        ("progress=maybe", "progress: expected true or false"),
        ("model.lm=half", "model.lm='half'"),
        ("max_steps=0", "max_steps=0: must be at least 1"),
        ("model.path=x", "exactly one of model.path and model.tiny"),
        ("data.corpus=c", "exactly one of data.manifest and data.corpus"),
        ("model.encoder=full", None),
        ("model.lm=frozen", None),
        ("noequals", "expected key=value"),
    ],
)
def test_bad_input_is_one_line_user_error(tmp_path, override, message):
    p = write(tmp_path, BASE)
    if message is None:
        load_config(p, [override])
        return
    with pytest.raises(UserError) as e:
        load_config(p, [override])
    assert message in str(e.value) and "\n" not in str(e.value)


def test_nothing_to_train_and_cache_needs_frozen_encoder(tmp_path):
    p = write(tmp_path, BASE)
    with pytest.raises(UserError, match="nothing to train"):
        load_config(p, ["model.projector=frozen", "model.lm=frozen"])
    with pytest.raises(UserError, match="cache_encoder_features needs model.encoder=frozen"):
        load_config(p, ["model.cache_encoder_features=true", "model.encoder=lora"])


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(UserError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(UserError, match="invalid YAML"):
        load_config(bad)


def test_global_batch_gives_accumulation(tmp_path):
    cfg = load_config(write(tmp_path, BASE), ["global_batch_size=8", "data.micro_batch_size=2"])
    assert cfg.accumulation(1) == 4 and cfg.accumulation(2) == 2
    with pytest.raises(UserError, match="not a multiple"):
        cfg.accumulation(3)


def test_relative_paths_resolve_against_the_recipe(tmp_path):
    d = {"model": {"tiny": True}, "data": {"manifest": "./data/m.jsonl"}}
    cfg = load_config(write(tmp_path, d))
    assert cfg.data.manifest == str((tmp_path / "data" / "m.jsonl").resolve())


@pytest.mark.parametrize("recipe", sorted(p.name for p in RECIPES.glob("*.yaml")))
def test_every_recipe_parses_and_names_its_launch_command(recipe):
    text = (RECIPES / recipe).read_text()
    assert "qwenlike train" in text.split("\n\n")[0] or "-m qwenlike.train" in text  # header comment
    load_config(RECIPES / recipe)
