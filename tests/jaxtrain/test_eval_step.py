"""The trainer's eval step: evaluating in grad_accum microbatches gives the same loss as one pass."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from termforge.jaxtrain.config import load_config
from termforge.jaxtrain.model import Qwen3ForCausalLM
from termforge.jaxtrain.train import make_eval_step


def test_microbatched_eval_equals_one_pass():
    cfg = load_config("qwen3-tiny")
    model = Qwen3ForCausalLM(cfg, rngs=nnx.Rngs(0))
    rows, seq = 4, 24
    r = np.random.RandomState(0)
    tokens = r.randint(0, cfg.vocab_size, (rows, seq + 1)).astype(np.int32)  # [rows, seq+1]
    seg = np.ones((rows, seq), np.int32)
    seg[1, 10:] = 2  # a packed row
    seg[3, 20:] = 0  # padding
    pos = np.where(seg == 2, np.arange(seq) - 10, np.arange(seq)).astype(np.int32)
    batch = {"inputs": jnp.asarray(tokens[:, :-1]), "targets": jnp.asarray(tokens[:, 1:]),
             "positions": jnp.asarray(pos), "segment_ids": jnp.asarray(seg),
             "weights": jnp.asarray((seg > 0) * r.rand(rows, seq), jnp.float32)}
    one, w1 = make_eval_step(grad_accum=1)(model, batch)
    for accum in (2, 4):
        got, w = make_eval_step(grad_accum=accum)(model, batch)
        np.testing.assert_allclose(float(got), float(one), rtol=1e-5)
        assert float(w) == float(w1)
    assert float(one) > 0.0 and jax.numpy.isfinite(one)
