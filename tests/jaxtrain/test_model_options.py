"""Computation options: rematerialisation and bfloat16 compute keep the model's results."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from termforge.jaxtrain.config import load_config
from termforge.jaxtrain.model import Qwen3ForCausalLM


def _loss_and_grads(cfg, x, y):
    model = Qwen3ForCausalLM(cfg, rngs=nnx.Rngs(0))
    g, p, r = nnx.split(model, nnx.Param, ...)

    def loss(p):
        logits = nnx.merge(g, p, r)(x)
        return optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), y).mean()

    return jax.jit(jax.value_and_grad(loss))(p)


def test_remat_gives_same_loss_and_grads():
    cfg = load_config("qwen3-tiny", vocab_size=256)
    ids = jnp.asarray(np.random.RandomState(0).randint(0, 256, (2, 17)))
    x, y = ids[:, :-1], ids[:, 1:]
    l1, g1 = _loss_and_grads(cfg, x, y)
    l2, g2 = _loss_and_grads(cfg.replace(remat=True), x, y)
    assert abs(float(l1) - float(l2)) < 1e-6
    for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g2)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)


def test_bfloat16_compute_close_to_float32():
    cfg = load_config("qwen3-tiny", vocab_size=256)
    ids = jnp.asarray(np.random.RandomState(1).randint(0, 256, (2, 16)))
    ref = Qwen3ForCausalLM(cfg, rngs=nnx.Rngs(0))(ids)
    bf = Qwen3ForCausalLM(cfg.replace(dtype="bfloat16"), rngs=nnx.Rngs(0))
    assert bf.embed_tokens[...].dtype == jnp.float32  # params stay in param_dtype
    out = bf(ids)
    assert out.dtype == jnp.bfloat16
    assert float(jnp.abs(out.astype(jnp.float32) - ref).max()) < 0.05 * float(jnp.abs(ref).max()) + 0.02
