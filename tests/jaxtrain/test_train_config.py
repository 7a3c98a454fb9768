"""Training config: YAML + dotted overrides, curriculum step plans, and bad input as one CLI line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from termforge.errors import ConfigError
from termforge.jaxtrain.train_config import (
    TRAIN_CONFIG_DIR,
    check_against_devices,
    config_from_dict,
    load_train_config,
    stages,
)

TINY = TRAIN_CONFIG_DIR / "tiny.yaml"
EXE = str(Path(sys.executable).parent / "termforge")


def test_tiny_yaml_with_overrides():
    cfg = load_train_config(TINY, ["train.steps=30", "data.shards=/d/sft", "data.tokenizer=/d/tok",
                                   "curriculum.1.attention_impl=ring", "mesh.context=2",
                                   "model_overrides.num_hidden_layers=1", "optimizer.lr=1e-4"])
    assert cfg.train.steps == 30 and cfg.data.shards[0].path == "/d/sft" and cfg.data.shards[0].weight == 1.0
    assert cfg.optimizer.lr == 1e-4 and cfg.model_overrides == {"num_hidden_layers": 1}
    plan = stages(cfg)
    assert [(s.name, s.start, s.end, s.seq_len, s.batch_size, s.attention_impl) for s in plan] == [
        ("single-step", 0, 10, 256, 8, "reference"), ("multi-step", 10, 30, 512, 4, "ring")]
    assert plan[0].filter.max_assistant_turns == 1 and plan[1].filter.min_assistant_turns == 2
    assert cfg.to_dict()["curriculum"][1]["attention_impl"] == "ring"
    # a budget smaller than the fixed stages cuts the later ones
    assert [(s.name, s.steps) for s in stages(load_train_config(TINY, ["train.steps=4"]))] == [("single-step", 4)]


def test_plans_and_defaults():
    cfg = config_from_dict({"train": {"steps": 7, "seq_len": 64, "batch_size": 2}})
    (s,) = stages(cfg)
    assert (s.name, s.steps, s.seq_len, s.batch_size, s.attention_impl) == ("main", 7, 64, 2, "reference")
    cfg = config_from_dict({"train": {"steps": None}, "curriculum": [{"name": "a", "steps": 3}, {"name": "b", "steps": 4}]})
    assert [s.steps for s in stages(cfg)] == [3, 4]


@pytest.mark.parametrize("raw, overrides, message", [
    ({"trian": {}}, [], "unknown config key 'trian'"),
    ({}, ["train.stepz=3"], "unknown config key 'train.stepz'"),
    ({"train": {"steps": "many"}}, [], "'train.steps' must be an integer"),
    ({"curriculum": [{"name": "a", "filter": {"max_turns": 1}}]}, [], "unknown config key 'curriculum.0.filter.max_turns'"),
    ({"train": {"remat": "some"}}, [], "train.remat must be one of"),
    ({"mesh": {"data": -1, "fsdp": -1}}, [], "at most one mesh axis may be -1"),
    ({"train": {"steps": None}, "curriculum": [{"name": "a"}]}, [], "has no step budget"),
    ({"data": {"overlength": "cut"}}, [], "data.overlength must be one of"),
    ({}, ["train.steps"], "expected KEY=VALUE"),
])
def test_bad_configs(raw, overrides, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        config_from_dict(raw, overrides)


def test_device_checks(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "manifest.json").write_text("{}")
    (tmp_path / "tok").mkdir()
    base = {"data": {"shards": str(tmp_path / "s"), "tokenizer": str(tmp_path / "tok")},
            "train": {"steps": 2, "batch_size": 8, "seq_len": 64}}
    assert check_against_devices(config_from_dict(base), 8) == {"data": 1, "fsdp": 8, "tensor": 1, "context": 1}
    with pytest.raises(ConfigError, match="does not divide the 8 device"):
        check_against_devices(config_from_dict(base, ["mesh.tensor=3"]), 8)
    with pytest.raises(ConfigError, match="needs 6 device"):
        check_against_devices(config_from_dict(base, ["mesh.fsdp=6"]), 8)
    with pytest.raises(ConfigError, match="batch_size 8 is not divisible by the data axes"):
        check_against_devices(config_from_dict(base, ["train.batch_size=8", "train.grad_accum=3"]), 8)
    with pytest.raises(ConfigError, match="seq_len 60 is not divisible by the context axis"):
        check_against_devices(config_from_dict(base, ["mesh.fsdp=-1", "mesh.context=8", "train.seq_len=60",
                                                      "train.batch_size=1"]), 8)
    with pytest.raises(ConfigError, match="shard set .*nope not found"):
        check_against_devices(config_from_dict(base, [f"data.eval_shards={tmp_path / 'nope'}"]), 8)


# ------------------------------------------------------------------------------- the CLI
def _cli(args, tmp_path, devices=1):
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env.update(COLUMNS="400", JAX_PLATFORMS="cpu")
    if devices > 1:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    t = time.perf_counter()
    res = subprocess.run([EXE, "train", str(TINY), "--out", str(tmp_path / "run"), *args], capture_output=True,
                         text=True, env=env, timeout=180)
    return res, time.perf_counter() - t


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    from termforge.jaxtrain.synthetic import make_corpus

    return make_corpus(tmp_path_factory.mktemp("cfgcorpus"), n_records=8, n_eval=2, vocab_size=300, num_shards=1)


@pytest.mark.parametrize("case", ["unknown_key", "mesh", "batch", "missing_shards"])
def test_cli_bad_input_is_one_line_before_compiling(case, dirs, tmp_path):
    good = [f"--set=data.shards={dirs['shards']}", f"--set=data.tokenizer={dirs['tokenizer']}", "--set=train.steps=2"]
    args, devices, expect = {
        "unknown_key": (good + ["--set=train.learning_rate=0.1"], 1, "unknown config key 'train.learning_rate'"),
        "mesh": (good + ["--set=mesh.data=3"], 4, "does not divide the 4 device(s)"),
        "batch": (good + ["--set=mesh.data=4", "--set=mesh.fsdp=1", "--set=curriculum.0.batch_size=6"], 4,
                  "batch_size 6 is not divisible by the data axes"),
        "missing_shards": ([f"--set=data.shards={tmp_path / 'no-such-set'}", f"--set=data.tokenizer={dirs['tokenizer']}"],
                           1, "no-such-set not found"),
    }[case]
    res, _ = _cli(args, tmp_path, devices)
    assert res.returncode == 2, (res.stdout, res.stderr)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: ") and expect in lines[0], lines[0]
    assert "Traceback" not in res.stderr and res.stdout == ""
    assert not (tmp_path / "run" / "checkpoints").exists()  # nothing was set up, let alone compiled


def test_stage_switches_attention_impl_of_every_layer():
    from flax import nnx

    from termforge.jaxtrain.config import load_config
    from termforge.jaxtrain.model import Qwen3ForCausalLM
    from termforge.jaxtrain.train import _set_attention

    model = nnx.eval_shape(lambda: Qwen3ForCausalLM(load_config("qwen3-tiny"), rngs=nnx.Rngs(0)))
    _set_attention(model, "ring")
    assert model.config.attention_impl == "ring"
    assert [layer.self_attn.attention_impl for layer in model.layers] == ["ring"] * len(model.layers)


@pytest.mark.parametrize("path", sorted(TRAIN_CONFIG_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_train_configs_load(path):
    cfg = load_train_config(path, ["train.steps=1000"])
    assert stages(cfg)[-1].end == 1000
