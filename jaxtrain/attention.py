"""Attention implementations behind one signature, chosen by name (`Qwen3Config.attention_impl`).

Every implementation is a function

    attn(q, k, v, *, causal, segment_ids=None, kv_segment_ids=None) -> out

    q   [batch, q_len, heads, head_dim]
    k   [batch, kv_len, kv_heads, head_dim]
    v   [batch, kv_len, kv_heads, head_dim]
    segment_ids     [batch, q_len]  int; 0 = padding. A query attends only to keys of its segment.
    kv_segment_ids  [batch, kv_len] int; defaults to `segment_ids` (then q_len == kv_len).
    out [batch, q_len, heads, head_dim]  in q's dtype

`causal=True` masks keys at a later index than the query (q and kv share one index space).
Grouped-query attention is handled by grouping the query heads per key/value head, so keys and
values are never repeated in memory. The softmax runs in float32. A later kernels issue adds
"flash" and "ring" by calling `register_attention`.
"""

from __future__ import annotations

from typing import Callable, Protocol

import jax

from termforge.errors import ConfigError
from termforge.kernels.reference import reference_attention


class AttentionFn(Protocol):
    def __call__(self, q: jax.Array, k: jax.Array, v: jax.Array, *, causal: bool,
                 segment_ids: jax.Array | None = None,
                 kv_segment_ids: jax.Array | None = None) -> jax.Array: ...


_REGISTRY: dict[str, AttentionFn] = {}


def register_attention(name: str) -> Callable[[AttentionFn], AttentionFn]:
    """Decorator: make `fn` available as `get_attention(name)`."""

    def deco(fn: AttentionFn) -> AttentionFn:
        _REGISTRY[name] = fn
        return fn

    return deco


def get_attention(name: str) -> AttentionFn:
    """The attention function registered under `name`."""
    if name not in _REGISTRY:
        try:  # kernels register themselves on import (jaxtrain -> kernels is allowed)
            import termforge.kernels  # noqa: F401
        except ImportError:
            pass
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown attention_impl {name!r} (available: {', '.join(sorted(_REGISTRY))})"
        ) from None


# The plain-XLA reference (float32 scores and softmax, GQA by head grouping) lives with the kernels
# it is the numerical reference for; the model uses the very same function.
register_attention("reference")(reference_attention)


# ------------------------------------------------ Pallas kernels (termforge.kernels, issue 7)
def _ambient_mesh_rules():
    """(mesh, rules) of the enclosing `sharding.use_rules`, else the ambient jax mesh; (None, {}) if none."""
    from termforge.jaxtrain import sharding

    ctx = sharding._CONTEXT.get()
    if ctx is not None:
        return ctx
    mesh = jax.sharding.get_abstract_mesh()
    return (None, {}) if mesh.empty else (mesh, {})


def _kernel_axes(mesh, rules, q: jax.Array, k: jax.Array):
    """Mesh axes that shard batch and heads by the rules (None where the sizes do not divide)."""
    from termforge.jaxtrain.sharding import logical_to_spec

    def axis(name: str, *sizes: int):
        spec = logical_to_spec((name,), rules, mesh) if rules else ()
        ax = spec[0] if len(spec) else None
        names = ax if isinstance(ax, tuple) else (ax,) if ax else ()
        n = 1
        for a in names:
            n *= mesh.shape[a]
        return ax if names and "context" not in names and all(s % n == 0 for s in sizes) else None

    heads = axis("heads", q.shape[2], k.shape[2])
    return axis("batch", q.shape[0]), heads if heads == axis("kv_heads", k.shape[2]) else None


@register_attention("flash")
def flash_attention(q: jax.Array, k: jax.Array, v: jax.Array, *, causal: bool,
                    segment_ids: jax.Array | None = None,
                    kv_segment_ids: jax.Array | None = None) -> jax.Array:
    """Pallas flash attention (termforge.kernels); under a mesh, batch/heads stay sharded."""
    from termforge import kernels

    mesh, rules = _ambient_mesh_rules()
    batch_axes, head_axes = _kernel_axes(mesh, rules, q, k) if mesh is not None else (None, None)
    return kernels.flash_attention(q, k, v, causal=causal, segment_ids=segment_ids,
                                   kv_segment_ids=kv_segment_ids, mesh=mesh, batch_axes=batch_axes,
                                   head_axes=head_axes)


def _ring(q, k, v, *, causal, segment_ids, kv_segment_ids, layout):
    from termforge import kernels

    mesh, rules = _ambient_mesh_rules()
    if (mesh is None or mesh.shape.get("context", 1) == 1 or kv_segment_ids is not None
            or q.shape[1] != k.shape[1]):  # no context axis, or decoding with a cache: plain flash
        return flash_attention(q, k, v, causal=causal, segment_ids=segment_ids, kv_segment_ids=kv_segment_ids)
    batch_axes, head_axes = _kernel_axes(mesh, rules, q, k)
    return kernels.ring_attention(q, k, v, mesh=mesh, axis_name="context", causal=causal,
                                  segment_ids=segment_ids, layout=layout, batch_axes=batch_axes,
                                  head_axes=head_axes)


@register_attention("ring")
def ring_attention(q: jax.Array, k: jax.Array, v: jax.Array, *, causal: bool,
                   segment_ids: jax.Array | None = None,
                   kv_segment_ids: jax.Array | None = None) -> jax.Array:
    """Ring attention over the mesh's `context` axis (sequence in natural order, zigzag-balanced inside)."""
    return _ring(q, k, v, causal=causal, segment_ids=segment_ids, kv_segment_ids=kv_segment_ids,
                 layout="natural")


@register_attention("ring_zigzag")
def ring_zigzag_attention(q: jax.Array, k: jax.Array, v: jax.Array, *, causal: bool,
                          segment_ids: jax.Array | None = None,
                          kv_segment_ids: jax.Array | None = None) -> jax.Array:
    """Ring attention for batches already in zigzag order (termforge.kernels.to_zigzag on ids,
    segment ids and targets; positions from kernels.zigzag_positions): no reshard per layer."""
    return _ring(q, k, v, causal=causal, segment_ids=segment_ids, kv_segment_ids=kv_segment_ids,
                 layout="zigzag")
