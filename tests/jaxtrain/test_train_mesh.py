"""The same run on different meshes of 8 fake CPU devices gives the same loss curve (subprocess, so
XLA_FLAGS affects nothing else); gradient accumulation matches one big batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from test_train_resume import get_corpus, get_runs

MESHES = [(8, 1, 1, 1), (2, 4, 1, 1), (2, 2, 2, 1), (1, 2, 1, 4)]

SCRIPT = r"""
import json, os, sys
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
os.environ["JAX_PLATFORMS"] = "cpu"
from termforge.jaxtrain.train import train
from termforge.jaxtrain.train_config import config_from_dict

corpus, out, meshes = json.loads(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
impl, init = sys.argv[4], sys.argv[5]
results = {}
for dims in meshes:
    raw = {
        "model": "qwen3-tiny", "model_overrides": {"vocab_size": 512, "num_hidden_layers": 1}, "init_from": init,
        "mesh": dict(zip(("data", "fsdp", "tensor", "context"), dims)),
        "data": {"shards": corpus["shards"], "tokenizer": corpus["tokenizer"], "read_threads": 1,
                 "num_readers": 2},
        "train": {"steps": 4, "seq_len": 64, "batch_size": 8, "attention_impl": impl},
        "optimizer": {"lr": 3e-3, "warmup_steps": 1},
        "checkpoint": {"enabled": False, "export_hf": False},
    }
    name = "x".join(map(str, dims))
    s = train(config_from_dict(raw), f"{out}/{name}", progress=False)
    losses = [json.loads(l)["loss"] for l in open(f"{out}/{name}/metrics.jsonl")]
    results[name] = {"losses": losses, "mesh": s["mesh"], "grad_norm":
                     [json.loads(l)["grad_norm"] for l in open(f"{out}/{name}/metrics.jsonl")]}
print("RESULT " + json.dumps(results))
"""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return get_corpus(tmp_path_factory)


@pytest.fixture(scope="module")
def init_hf(tmp_path_factory):
    """Every mesh starts from the same weights: the resume test's exported model (vocab 512, 1 layer),
    loaded directly sharded (and no random-init program to compile per mesh)."""
    return str(get_runs(tmp_path_factory)["dir"] / "straight" / "hf")


def _run(corpus, out, meshes, init, impl="reference"):
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    res = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(corpus), str(out), json.dumps(meshes), impl, init],
                         capture_output=True, text=True, env=env, timeout=900)
    assert res.returncode == 0, res.stderr[-4000:]
    return json.loads(next(line for line in res.stdout.splitlines() if line.startswith("RESULT "))[7:])


def test_same_loss_curve_on_four_meshes(corpus, init_hf, tmp_path):
    results = _run(corpus, tmp_path, MESHES, init_hf)
    ref = results["8x1x1x1"]["losses"]
    assert len(ref) == 4
    for name, r in results.items():
        assert r["mesh"] == dict(zip(("data", "fsdp", "tensor", "context"), map(int, name.split("x"))))
        assert len(r["losses"]) == 4
        for a, b in zip(ref, r["losses"]):
            assert abs(a - b) < 1e-4, (name, ref, r["losses"])


@pytest.mark.slow
@pytest.mark.parametrize("impl", ["ring", "flash"])
def test_kernels_through_the_trainer_match_reference(corpus, init_hf, tmp_path, impl):
    """The kernels' attention (Pallas, interpreted on CPU) on a context-4 mesh: same loss curve."""
    mesh = [[1, 2, 1, 4]]
    ref = _run(corpus, tmp_path / "ref", mesh, init_hf)["1x2x1x4"]["losses"]
    got = _run(corpus, tmp_path / impl, mesh, init_hf, impl)["1x2x1x4"]["losses"]
    for a, b in zip(ref, got):
        assert abs(a - b) < 1e-4, (ref, got)


def test_gradient_accumulation_equals_one_big_batch():
    import jax
    import jax.numpy as jnp
    import numpy as np
    from flax import nnx

    from termforge.jaxtrain import train as T
    from termforge.jaxtrain.config import load_config
    from termforge.jaxtrain.model import Qwen3ForCausalLM
    from termforge.jaxtrain.train_config import config_from_dict

    cfg = config_from_dict({"train": {"steps": 3}, "optimizer": {"warmup_steps": 0}})
    mc = load_config("qwen3-tiny", vocab_size=256, num_hidden_layers=1)
    rng = np.random.RandomState(0)
    B, L = 4, 32
    seg = np.ones((B, L), np.int32)
    seg[:, 20:] = 2
    seg[1, 28:] = 0
    pos = np.where(seg == 2, np.arange(L) - 20, np.arange(L)).astype(np.int32)
    w = rng.randint(0, 2, (B, L)).astype(np.float32) * (seg > 0)
    batch = {"inputs": jnp.asarray(rng.randint(0, 256, (B, L)), jnp.int32),
             "targets": jnp.asarray(rng.randint(0, 256, (B, L)), jnp.int32),
             "weights": jnp.asarray(w), "segment_ids": jnp.asarray(seg), "positions": jnp.asarray(pos)}
    graphdef, base = nnx.split(Qwen3ForCausalLM(mc, rngs=nnx.Rngs(0)))
    out = {}
    for accum, remat in ((1, "none"), (2, "dots")):
        model = nnx.merge(graphdef, jax.tree.map(lambda x: np.array(x), base))  # own buffers: steps donate
        object.__setattr__(model, "config", mc.replace(remat=remat == "full"))
        opt = nnx.Optimizer(model, T.make_tx(cfg, 3), wrt=nnx.Param)
        step = T.make_train_step(grad_accum=accum, remat=remat, schedule=T.make_schedule(cfg, 3))
        ms = [jax.device_get(step(model, opt, batch)) for _ in range(2)]
        out[accum] = ([float(m["loss"]) for m in ms], [float(m["grad_norm"]) for m in ms],
                      np.asarray(model.embed_tokens[...]))
        assert int(ms[0]["tokens"]) == int((seg > 0).sum()) and float(ms[0]["loss_tokens"]) == w.sum()
    for accum in (2,):
        np.testing.assert_allclose(out[accum][0], out[1][0], rtol=1e-5)
        np.testing.assert_allclose(out[accum][1], out[1][1], rtol=1e-4)
        np.testing.assert_allclose(out[accum][2], out[1][2], atol=1e-5)
