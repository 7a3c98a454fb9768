"""Building blocks of the Qwen3 decoder: parameters with logical axes, RMSNorm, RoPE, SwiGLU MLP.

Parameters are stored in `param_dtype` and cast to the compute `dtype` where used. Each
parameter carries its logical axis names (`out_sharding` metadata) for termforge.jaxtrain.sharding.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from termforge.jaxtrain.sharding import constrain

INIT_STD = 0.02  # Hugging Face's initializer_range


def param(rngs: nnx.Rngs | None, shape: Sequence[int], axes: Sequence[str | None], dtype,
          init: str = "normal") -> nnx.Param:
    """A parameter of `shape` named by logical `axes` ("normal" std 0.02, or "ones")."""
    assert len(shape) == len(axes), (shape, axes)
    if init == "ones":
        value = jnp.ones(shape, dtype)
    else:
        value = (INIT_STD * jax.random.normal(rngs.params(), shape, jnp.float32)).astype(dtype)
    return nnx.Param(value, out_sharding=tuple(axes), eager_sharding=False)


class RMSNorm(nnx.Module):
    """x / rms(x) * weight, normalised in float32 over the last axis (as Hugging Face Qwen3RMSNorm)."""

    def __init__(self, dim: int, *, eps: float, axis_name: str, param_dtype, dtype):
        self.weight = param(None, (dim,), (axis_name,), param_dtype, init="ones")  # [dim]
        self.eps = eps
        self.dtype = dtype

    def __call__(self, x: jax.Array) -> jax.Array:  # [..., dim] -> [..., dim]
        x32 = x.astype(jnp.float32)
        variance = jnp.mean(jnp.square(x32), axis=-1, keepdims=True)  # [..., 1]
        normed = (x32 * jax.lax.rsqrt(variance + self.eps)).astype(self.dtype)
        return self.weight[...].astype(self.dtype) * normed


def rope_inv_freq(head_dim: int, theta: float) -> jax.Array:
    """Inverse frequencies [head_dim // 2] of the default RoPE."""
    exponents = jnp.arange(0, head_dim, 2, dtype=jnp.float32) / head_dim  # [head_dim // 2]
    return 1.0 / (jnp.float32(theta) ** exponents)


def rope_cos_sin(positions: jax.Array, head_dim: int, theta: float, dtype) -> tuple[jax.Array, jax.Array]:
    """cos, sin [batch, seq, head_dim] for integer `positions` [batch, seq] (half-split layout)."""
    freqs = positions.astype(jnp.float32)[..., None] * rope_inv_freq(head_dim, theta)  # [batch, seq, head_dim/2]
    emb = jnp.concatenate([freqs, freqs], axis=-1)  # [batch, seq, head_dim]
    return jnp.cos(emb).astype(dtype), jnp.sin(emb).astype(dtype)


def apply_rope(x: jax.Array, cos: jax.Array, sin: jax.Array) -> jax.Array:
    """Rotate x [batch, seq, heads, head_dim] by cos/sin [batch, seq, head_dim] (rotate_half form)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]  # [batch, seq, heads, head_dim/2] each
    rotated = jnp.concatenate([-x2, x1], axis=-1)  # [batch, seq, heads, head_dim]
    return x * cos[:, :, None, :] + rotated * sin[:, :, None, :]


def positions_from_segments(segment_ids: jax.Array) -> jax.Array:
    """Positions [batch, seq] that restart at 0 at the start of each packed segment."""
    seq = segment_ids.shape[-1]
    idx = jnp.arange(seq, dtype=jnp.int32)[None, :]  # [1, seq]
    prev = jnp.concatenate([jnp.full_like(segment_ids[:, :1], -1), segment_ids[:, :-1]], axis=1)  # [batch, seq]
    starts = jnp.where(segment_ids != prev, idx, 0)  # [batch, seq]
    return idx - jax.lax.cummax(starts, axis=1)


class MLP(nnx.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, hidden: int, intermediate: int, *, param_dtype, dtype, rngs: nnx.Rngs):
        self.gate_proj = param(rngs, (hidden, intermediate), ("embed", "mlp"), param_dtype)  # [embed, mlp]
        self.up_proj = param(rngs, (hidden, intermediate), ("embed", "mlp"), param_dtype)  # [embed, mlp]
        self.down_proj = param(rngs, (intermediate, hidden), ("mlp", "embed"), param_dtype)  # [mlp, embed]
        self.dtype = dtype

    def __call__(self, x: jax.Array) -> jax.Array:  # [batch, seq, embed] -> [batch, seq, embed]
        dt = self.dtype
        gate = x @ self.gate_proj[...].astype(dt)  # [batch, seq, mlp]
        up = x @ self.up_proj[...].astype(dt)  # [batch, seq, mlp]
        h = constrain(jax.nn.silu(gate) * up, ("batch", "length", "mlp"))  # [batch, seq, mlp]
        return h @ self.down_proj[...].astype(dt)  # [batch, seq, embed]
