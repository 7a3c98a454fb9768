"""The model picks the kernels by name: attention_impl = "flash" | "ring" | "ring_zigzag"."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from termforge.jaxtrain.attention import get_attention


def test_kernels_are_registered():
    for name in ("flash", "ring", "ring_zigzag"):
        assert callable(get_attention(name))


def test_ring_outside_a_mesh_is_flash_attention():
    """Without a mesh (or with context = 1) "ring" runs the flash kernel on the whole sequence."""
    r = np.random.RandomState(0)
    q, k, v = (jnp.asarray(r.randn(2, 24, h, 16), jnp.float32) for h in (4, 2, 2))
    seg = jnp.asarray([[1] * 10 + [2] * 14, [1] * 20 + [0] * 4])
    ring = get_attention("ring")
    got = jax.jit(lambda q, k, v: ring(q, k, v, causal=True, segment_ids=seg))(q, k, v)
    want = get_attention("reference")(q, k, v, causal=True, segment_ids=seg)
    assert float(jnp.max(jnp.abs(got - want))) < 2e-5
