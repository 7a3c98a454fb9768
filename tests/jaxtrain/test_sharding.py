"""Logical-axis sharding on 8 fake CPU devices (in a subprocess, so XLA_FLAGS affects nothing else)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from jax.sharding import PartitionSpec as P

from termforge.errors import ConfigError
from termforge.jaxtrain.sharding import DEFAULT_RULES, logical_to_spec, make_mesh, normalize_rules


@pytest.fixture(scope="module")
def result():
    script = Path(__file__).with_name("sharding_check.py")
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_parameters_split_as_rules_say(result):
    assert result["n_devices"] == 8
    p = result["params"]
    # embed -> fsdp (4), heads/kv_heads/mlp/vocab -> tensor (2); tiny: vocab 2048, embed 64, 4 heads, 2 kv, mlp 128
    assert p["embed_tokens"] == ["P('tensor', 'fsdp')", [1024, 16]]
    assert p["lm_head"] == ["P('fsdp', 'tensor')", [16, 1024]]
    assert p["layers/0/self_attn/q_proj"] == ["P('fsdp', 'tensor')", [16, 2, 16]]
    assert p["layers/0/self_attn/k_proj"] == ["P('fsdp', 'tensor')", [16, 1, 16]]
    assert p["layers/1/self_attn/o_proj"] == ["P('tensor', None, 'fsdp')", [2, 16, 16]]
    assert p["layers/1/mlp/gate_proj"] == ["P('fsdp', 'tensor')", [16, 64]]
    assert p["layers/1/mlp/down_proj"] == ["P('tensor', 'fsdp')", [64, 16]]
    assert p["layers/0/self_attn/q_norm/weight"] == ["P()", [16]]
    assert p["norm/weight"] == ["P()", [64]]


def test_sharded_init_equals_unsharded_and_forward_matches(result):
    assert result["same_values"]
    assert result["max_diff"] < 1e-5
    assert result["logits_spec"] == "P('fsdp', None, 'tensor')"  # batch over fsdp (data has size 1)


def test_rule_helpers():
    rules = normalize_rules(DEFAULT_RULES)
    assert rules["embed"] == "fsdp"
    assert logical_to_spec(("embed", "mlp"), DEFAULT_RULES) == P("fsdp", "tensor")
    # a mesh axis is used once: the second dim falls back to replicated
    assert logical_to_spec(("heads", "mlp"), DEFAULT_RULES) == P("tensor")
    assert logical_to_spec(("batch", "length"), {"batch": ["data", "fsdp"], "length": None}) == P(("data", "fsdp"))
    with pytest.raises(ConfigError, match="mesh axes are"):
        normalize_rules({"embed": "model"})
    with pytest.raises(ConfigError, match="needs 8 devices"):
        make_mesh({"fsdp": 8})
    assert make_mesh({"fsdp": -1}).shape["fsdp"] == len(__import__("jax").devices())
