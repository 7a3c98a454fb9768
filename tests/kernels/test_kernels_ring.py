"""Ring attention: zigzag helpers in-process; the ring itself on 8 fake CPU devices in a subprocess
(kernels_ring_check.py), against the single-device reference, forward and gradients, and a full
tiny-Qwen3 training step (loss + grads) with attention_impl="ring" against "reference".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from termforge.kernels import (from_zigzag, positions_from_segments, reference_attention, ring_attention, to_zigzag,
                               zigzag_chunk_order, zigzag_indices, zigzag_positions)

FWD_TOL, GRAD_TOL = 2e-5, 1e-4
CHECK = Path(__file__).with_name("kernels_ring_check.py")


def run_cases(cases: list[dict]) -> list[dict]:
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    res = subprocess.run([sys.executable, str(CHECK), json.dumps(cases)], capture_output=True, text=True, env=env,
                         timeout=1800)
    assert res.returncode == 0, res.stderr[-4000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["n_devices"] == 8
    return out["results"]


# Default run (kept small: each case compiles an 8-device program): contexts 2, 4 and 8; causal
# (zigzag-balanced: natural inputs permuted inside, and inputs already in zigzag order) and
# non-causal; packed segments and padding; the Pallas kernel and the dense XLA block per step; a
# length that needs padding to 2N chunks; GQA 1/2/4. --runslow adds the grid below (flash only).
ATTN_CASES = [
    dict(kind="attn", n=2, causal=True, segments="packed", impl="flash", layout="natural", length=64),
    dict(kind="attn", n=4, causal=True, segments="packed", impl="xla", layout="zigzag", length=64, groups=1),
    dict(kind="attn", n=4, causal=False, segments="padding", impl="xla", layout="natural", length=48),
    dict(kind="attn", n=8, causal=True, segments="packed", impl="flash", layout="natural", length=72, groups=4),
]
MODEL_CASES = [dict(kind="model", impl="ring", mesh={"fsdp": 2, "context": 4})]

SLOW_CASES = [
    dict(kind="attn", n=n, causal=causal, segments=seg, impl="flash", layout=layout, length=length, groups=g,
         head_dim=hd, block=bl)
    for n in (2, 4, 8)
    for causal, seg, layout in ((True, "packed", "natural"), (True, "padding", "zigzag"), (False, "packed", "natural"),
                                (True, "none", "contiguous"))
    # odd chunk sizes need internal padding; zigzag-ordered inputs must already divide into 2n chunks
    for length, g, hd, bl in (((24 * n if layout == "zigzag" else 16 * n + 8), 2, 64, 16), (32 * n, 8, 128, 32))
] + [dict(kind="attn", n=8, causal=True, segments="none", impl="xla", layout="contiguous", length=64),
     dict(kind="model", impl="ring_zigzag", mesh={"fsdp": 2, "context": 4}),
     dict(kind="model", impl="ring", mesh={"context": 8}),
     dict(kind="model", impl="ring", mesh={"tensor": 2, "context": 4}),
     dict(kind="model", impl="flash", mesh={"fsdp": 4, "tensor": 2})]  # flash under shard_map, no ring


@pytest.fixture(scope="module")
def results():
    return run_cases(ATTN_CASES + MODEL_CASES)


@pytest.mark.parametrize("index", range(len(ATTN_CASES)),
                         ids=[f"n{c['n']}-{'causal' if c['causal'] else 'full'}-{c['segments']}-{c['impl']}-"
                              f"{c['layout']}" for c in ATTN_CASES])
def test_ring_matches_reference(results, index):
    r = results[index]
    assert r["case"] == ATTN_CASES[index]
    e = r["errors"]
    assert e["out"] <= FWD_TOL, r
    assert max(e["dq"], e["dk"], e["dv"]) <= GRAD_TOL, r


def test_tiny_qwen3_training_step_with_ring_equals_reference(results):
    r = results[len(ATTN_CASES)]
    e = r["errors"]
    assert e["ring_calls"] == 2 and e["layouts"] == ["natural"], r  # both layers went through the ring
    assert e["loss"] <= 1e-5, r
    assert e["grads"] <= 1e-4, r


@pytest.mark.slow
def test_ring_full_grid():
    for r in run_cases(SLOW_CASES):
        e = r["errors"]
        if r["case"]["kind"] == "attn":
            assert e["out"] <= FWD_TOL and max(e["dq"], e["dk"], e["dv"]) <= GRAD_TOL, r
        else:
            expected_calls = 2 if r["case"]["impl"].startswith("ring") else 0
            assert e["ring_calls"] == expected_calls and e["loss"] <= 1e-5 and e["grads"] <= 1e-4, r


# ------------------------------------------------------------------ in-process
def test_zigzag_order_and_round_trip():
    assert zigzag_chunk_order(4).tolist() == [0, 7, 1, 6, 2, 5, 3, 4]
    assert zigzag_indices(8, 2).tolist() == [0, 1, 6, 7, 2, 3, 4, 5]
    x = jnp.arange(2 * 24 * 3).reshape(2, 24, 3)
    z = to_zigzag(x, 3)
    assert z[0, :, 0].tolist() == [x[0, i, 0] for i in zigzag_indices(24, 3)]
    assert jnp.array_equal(from_zigzag(z, 3), x)
    # device i of n holds natural chunks i and 2n-1-i: every device gets the same causal work
    n, c = 4, 2
    shards = np.asarray(zigzag_indices(2 * n * c, n)).reshape(n, 2 * c)
    work = [sum(int(q) + 1 for q in shard) for shard in shards]  # keys visible to the shard's queries
    assert len(set(work)) == 1
    with pytest.raises(ValueError, match="divisible"):
        to_zigzag(jnp.zeros((1, 10)), 2)


def test_zigzag_positions():
    assert zigzag_positions(2, length=8).tolist() == [0, 1, 6, 7, 2, 3, 4, 5]
    seg = jnp.asarray([[1, 1, 1, 2, 2, 2, 2, 0]])
    assert positions_from_segments(seg).tolist() == [[0, 1, 2, 0, 1, 2, 3, 0]]
    assert zigzag_positions(2, segment_ids=seg).tolist() == [[0, 1, 3, 0, 2, 0, 1, 2]]


def test_ring_on_a_one_device_mesh_is_flash():
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("context",))
    r = np.random.RandomState(0)
    q, k, v = (jnp.asarray(r.randn(1, 20, h, 16), jnp.float32) for h in (4, 2, 2))
    seg = jnp.asarray([[1] * 12 + [2] * 6 + [0] * 2])
    got = jax.jit(lambda q, k, v: ring_attention(q, k, v, mesh=mesh, causal=True, segment_ids=seg))(q, k, v)
    want = reference_attention(q, k, v, causal=True, segment_ids=seg)
    assert float(jnp.max(jnp.abs(got - want))) <= FWD_TOL


def test_ring_argument_errors():
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("context",))
    x = jnp.zeros((1, 8, 2, 16))
    with pytest.raises(ValueError, match="layout"):
        ring_attention(x, x, x, mesh=mesh, layout="spiral")
    with pytest.raises(ValueError, match="impl"):
        ring_attention(x, x, x, mesh=mesh, impl="cuda")
    with pytest.raises(ValueError, match="same length"):
        ring_attention(x, x[:, :4], x[:, :4], mesh=mesh)
