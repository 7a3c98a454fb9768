"""configs/recipes: the Nemotron-Terminal recipes load with the trainer's own loader, each target's
mesh is built abstractly (AbstractMesh + nnx.eval_shape, nothing allocated) and fits its chip's
HBM with a 10% margin; a layout that cannot fit is reported as such, with the reason."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from termforge.errors import ConfigError
from termforge.jaxtrain.memory import CHIPS, plan_memory
from termforge.jaxtrain.train_config import (
    MESH_AXES,
    check_against_devices,
    config_from_dict,
    load_train_config,
    resolve_mesh,
    stages,
)

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "configs" / "recipes"
SIZES = ("8b", "14b", "32b")
MARGIN = 0.90  # a plan may use at most 90% of the chip's HBM


def recipe(size: str, overrides=()):
    return load_train_config(RECIPES / f"nemotron-terminal-{size}.yaml", list(overrides))


def test_every_recipe_is_here():
    assert sorted(p.stem for p in RECIPES.glob("*.yaml")) == sorted(f"nemotron-terminal-{s}" for s in SIZES)


@pytest.mark.parametrize("size", SIZES)
def test_recipe_is_a_valid_train_config(size):
    cfg = recipe(size)  # the loader `termforge train` uses
    assert cfg.model == f"qwen3-{size}" and cfg.target is None
    plan = stages(cfg)
    assert [s.name for s in plan] == ["short", "all", "long"]
    assert plan[0].filter.max_tokens == plan[0].seq_len  # short trajectories first, whole
    assert plan[-1].seq_len == 32768 and plan[-1].attention_impl == "ring"  # long-context stage
    tokens = {s.seq_len * s.batch_size for s in plan}
    assert tokens == {1 << 20}  # one global batch size in tokens: one grad_accum fits every stage
    assert cfg.train.remat == "full" and (cfg.train.param_dtype, cfg.train.compute_dtype) == ("float32", "bfloat16")
    assert 1e-6 <= cfg.optimizer.lr <= 3e-5 and cfg.optimizer.warmup_steps > 0
    chips = {CHIPS[t.chip].name for t in cfg.targets}
    assert chips == {"tpu-v5p", "h100-80gb"}  # a TPU v5p pod slice and 8 x H100 nodes
    for t in cfg.targets:
        sel = recipe(size, [f"target={t.name}"])  # = termforge train --target NAME
        assert sel.target == t.name and sel.mesh == t.mesh and sel.train.grad_accum == t.grad_accum
        dims = resolve_mesh(sel, t.chips)
        assert math.prod(dims.values()) == t.chips
        assert dims["context"] > 1 and 32768 % (2 * dims["context"]) == 0  # ring stage, zigzag halves
        if t.chip.startswith("h100"):
            assert t.chips % 8 == 0 and 8 % dims["context"] == 0  # whole nodes; the ring stays in a node


@pytest.mark.parametrize("size, target", [(s, t.name) for s in SIZES for t in recipe(s).targets])
def test_recipe_fits_its_target(size, target):
    import jax
    from jax.sharding import AbstractMesh

    cfg = recipe(size)
    t = next(t for t in cfg.targets if t.name == target)
    live = len(jax.live_arrays())
    plan = plan_memory(cfg, target, margin=MARGIN, name=f"nemotron-terminal-{size}")
    assert len(jax.live_arrays()) == live  # abstract: not one array was allocated
    mesh = AbstractMesh(tuple(plan.mesh[a] for a in MESH_AXES), MESH_AXES)
    assert mesh.size == t.chips == plan.devices
    chip = CHIPS[t.chip]
    assert not plan.problems, plan.problems
    # parameters + grads + AdamW are float32 and split over every device (ZeRO-3 over fsdp x context)
    assert plan.param_ways == t.chips and not plan.replicated_over
    n = plan.n_params
    accum = 2 if plan.grad_accum > 1 else 1
    assert abs(plan.state - 4 * n * (1 + accum + 2) / t.chips) / plan.state < 0.01
    for s in plan.stages:
        assert s.total <= MARGIN * chip.hbm_bytes, plan.table()
        assert s.tokens == s.rows * s.seq and s.seq == s.seq_len // plan.mesh["context"]
    assert plan.fits, plan.verdict()
    assert "fits: peak" in plan.verdict()


def test_big_model_without_fsdp_is_reported_as_not_fitting():
    """32B on 8 H100s as pure data parallelism: every device holds all 32.8B float32 parameters."""
    cfg = recipe("32b", ["mesh.data=8", "mesh.fsdp=1", "mesh.context=1", "train.grad_accum=4"])
    plan = plan_memory(cfg, chip="h100-80gb", devices=8, name="nemotron-terminal-32b")
    assert not plan.problems and not plan.fits
    assert plan.param_ways == 1 and plan.replicated_over == ("data",)
    assert plan.params == 4 * plan.n_params  # the whole model in float32 on each device
    v = plan.verdict()
    assert "does not fit" in v and "parameters not split, replicated over data 8" in v
    assert "shard the parameters over more devices" in v and "80.0 GB h100-80gb" in v
    assert "!" in plan.table()


@pytest.mark.parametrize("overrides, devices, message", [
    # the 8 kv_heads of Qwen3-32B do not split 16 ways
    (["mesh.fsdp=2", "mesh.tensor=16", "mesh.context=1", "train.grad_accum=1"], 32, "layers/*/self_attn/k_proj [embed 5120, kv_heads 8"),
    # 32 rows of the long stage over 8 data shards x grad_accum 8
    (["mesh.fsdp=8", "mesh.context=4", "train.grad_accum=8"], 32, "batch_size 32 is not divisible"),
])
def test_impossible_layouts_are_problems(overrides, devices, message):
    plan = plan_memory(recipe("32b", overrides), chip="h100-80gb", devices=devices)
    assert not plan.fits and any(message in p for p in plan.problems), plan.problems
    assert message in plan.verdict()


def test_eval_step_fits_like_a_training_step():
    """The eval step scans the training microbatches (forward only): with eval shards set, every
    target still fits, and no stage's eval peak exceeds its training peak."""
    for size, target in (("8b", "h100x8"), ("14b", "h100x16"), ("32b", "h100x32")):
        plan = plan_memory(recipe(size, ["data.eval_shards=/data/heldout"]), target)
        assert plan.fits, plan.verdict()
        assert all(s.eval_total <= s.total for s in plan.stages), [(s.eval_total, s.total) for s in plan.stages]


def test_target_selection_errors():
    with pytest.raises(ConfigError, match="unknown target 'v5p-9000'"):
        recipe("8b", ["target=v5p-9000"])
    with pytest.raises(ConfigError, match="carries its own mesh"):
        recipe("8b", ["target=h100x8", "mesh.fsdp=4"])
    with pytest.raises(ConfigError, match="sets grad_accum"):
        recipe("8b", ["target=h100x8", "train.grad_accum=2"])
    with pytest.raises(ConfigError, match=r"targets.1 \(h100x8\).chip must be one of"):
        recipe("8b", ["targets.1.chip=h100"])
    with pytest.raises(ConfigError, match="needs 16 device"):
        recipe("8b", ["targets.1.mesh.fsdp=4"])
    with pytest.raises(ConfigError, match="targets entries are addressed by index"):
        recipe("8b", ["targets.h100x8.chips=8"])
    cfg = recipe("8b", ["targets.1.mesh.fsdp=1", "targets.1.mesh.context=8", "target=h100x8"])
    assert cfg.mesh.as_dict() == {"data": 1, "fsdp": 1, "tensor": 1, "context": 8}


def test_training_a_recipe_needs_a_target(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "manifest.json").write_text("{}")
    data = [f"data.shards={tmp_path / 's'}", f"data.tokenizer={tmp_path}"]
    with pytest.raises(ConfigError, match="choose one with --target NAME"):
        check_against_devices(recipe("8b", data), 8)
    with pytest.raises(ConfigError, match="target 'v5p-64' is 32 tpu-v5p chip"):
        check_against_devices(recipe("8b", data + ["target=v5p-64"]), 8)
    assert check_against_devices(recipe("8b", data + ["target=h100x8"]), 8) == \
        {"data": 1, "fsdp": 2, "tensor": 1, "context": 4}
    # an explicit mesh instead of a target is the user's choice
    assert check_against_devices(recipe("8b", data + ["mesh.fsdp=8"]), 8)["fsdp"] == 8


def test_config_without_targets_plans_on_a_chip():
    cfg = config_from_dict({"model": "qwen3-0.6b", "train": {"steps": 10, "seq_len": 4096, "batch_size": 16,
                                                             "remat": "full", "compute_dtype": "bfloat16"}})
    plan = plan_memory(cfg, chip="tpu-v5p", devices=8)
    assert plan.fits and plan.mesh["fsdp"] == 8 and plan.target == "8 x tpu-v5p"
    with pytest.raises(ConfigError, match="name a target of the config"):
        plan_memory(cfg)
    with pytest.raises(ConfigError, match="unknown chip"):
        plan_memory(cfg, chip="tpu-v9", devices=8)


def _cli(capsys, *args):
    """`termforge plan-memory ARGS` in this process: (exit code, stdout)."""
    from termforge.cli import main

    try:
        main(["plan-memory", *args])
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().out


def test_cli_prints_a_table_per_target_and_fails_when_over(tmp_path, capsys):
    code, out = _cli(capsys, str(RECIPES / "nemotron-terminal-8b.yaml"), "--json", str(tmp_path / "plan.json"))
    assert code == 0, out
    assert "nemotron-terminal-8b @ v5p-64: 32 x tpu-v5p" in out and "nemotron-terminal-8b @ h100x8: 8 x h100-80gb" in out
    assert "stage" in out and "long   32768" in out
    assert out.strip().splitlines()[-1].startswith("2 target(s) fit; highest: peak")
    plans = json.loads((tmp_path / "plan.json").read_text())
    assert [p["target"] for p in plans] == ["v5p-64", "h100x8"] and all(p["fits"] for p in plans)
    code, out = _cli(capsys, str(RECIPES / "nemotron-terminal-32b.yaml"), "--chip", "h100-80gb", "--devices", "8",
                     "--set", "mesh.data=8", "--set", "mesh.fsdp=1", "--set", "train.grad_accum=4")
    assert code == 1, out
    assert out.strip().splitlines()[-1].startswith("1 of 1 target(s) do not fit: nemotron-terminal-32b @ 8 x h100-80gb")


RULES_SCRIPT = r"""
import json, os, sys, yaml
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
os.environ["JAX_PLATFORMS"] = "cpu"
import jax, jax.numpy as jnp, numpy as np
from flax import nnx
from termforge.jaxtrain import train as T
from termforge.jaxtrain.config import load_config
from termforge.jaxtrain.model import Qwen3ForCausalLM
from termforge.jaxtrain.sharding import DEFAULT_RULES, describe, logical_to_spec, make_mesh, shard_model
from termforge.jaxtrain.train_config import config_from_dict

recipe_rules = [tuple(r) for r in yaml.safe_load(open(sys.argv[1]))["rules"]]
cfg = config_from_dict({"train": {"steps": 2}, "optimizer": {"warmup_steps": 0}})
mc = load_config("qwen3-tiny", vocab_size=256, num_hidden_layers=1)
mesh = make_mesh({"data": 1, "fsdp": 2, "tensor": 1, "context": 4})
rng = np.random.RandomState(0)
B, L = 4, 64
host = {"inputs": rng.randint(0, 256, (B, L)), "targets": rng.randint(0, 256, (B, L)),
        "weights": np.ones((B, L), np.float32), "segment_ids": np.ones((B, L), np.int32),
        "positions": np.broadcast_to(np.arange(L), (B, L))}
graphdef, init = nnx.split(Qwen3ForCausalLM(mc, rngs=nnx.Rngs(0)))  # eager: no init program to compile
init = jax.tree.map(np.asarray, init)
out = {}
for name, rules in (("default", DEFAULT_RULES), ("recipe", recipe_rules)):
    model = shard_model(nnx.merge(graphdef, jax.tree.map(np.array, init)), mesh, rules)
    opt = nnx.Optimizer(model, T.make_tx(cfg, 2), wrt=nnx.Param)
    step = T.make_train_step(grad_accum=1, remat="none", schedule=T.make_schedule(cfg, 2), mesh=mesh, rules=rules)
    bs = jax.sharding.NamedSharding(mesh, logical_to_spec(("batch", "length"), rules, mesh))
    batch = {k: jax.device_put(np.asarray(v, np.float32 if k == "weights" else np.int32), bs) for k, v in host.items()}
    m = jax.device_get(step(model, opt, batch))
    out[name] = {"loss": [float(m["loss"]), float(m["grad_norm"])], "shards": describe(model)}
print("RESULT " + json.dumps(out))
"""


def test_recipe_rules_shard_parameters_over_context_and_train_the_same():
    """The recipes' rules put `embed` on fsdp AND context: on a (fsdp 2, context 4) mesh of 8 CPU
    devices every weight matrix is split 8 ways, and a train step gives the default rules' loss and
    gradient norm."""
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    res = subprocess.run([sys.executable, "-c", RULES_SCRIPT, str(RECIPES / "nemotron-terminal-8b.yaml")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-4000:]
    out = json.loads(next(line for line in res.stdout.splitlines() if line.startswith("RESULT "))[7:])
    spec, shard = out["recipe"]["shards"]["layers/0/mlp/gate_proj"]
    assert "fsdp" in spec and "context" in spec and shard[0] == 64 // 8
    assert out["default"]["shards"]["layers/0/mlp/gate_proj"][1][0] == 64 // 2
    for a, b in zip(out["default"]["loss"], out["recipe"]["loss"]):
        assert abs(a - b) < 1e-4, out
