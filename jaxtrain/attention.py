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
import jax.numpy as jnp

from termforge.errors import ConfigError


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


def attention_mask(q_len: int, kv_len: int, *, causal: bool, segment_ids: jax.Array | None,
                   kv_segment_ids: jax.Array | None) -> jax.Array | None:
    """Boolean mask [batch or 1, q_len, kv_len]: True where a query may attend to a key."""
    mask = None
    if causal:
        q_idx = jnp.arange(q_len)[:, None]  # [q_len, 1]
        kv_idx = jnp.arange(kv_len)[None, :]  # [1, kv_len]
        mask = (kv_idx <= q_idx)[None]  # [1, q_len, kv_len]
    if segment_ids is not None:
        if kv_segment_ids is None:
            kv_segment_ids = segment_ids
        same = segment_ids[:, :, None] == kv_segment_ids[:, None, :]  # [batch, q_len, kv_len]
        mask = same if mask is None else mask & same
    return mask


@register_attention("reference")
def reference_attention(q: jax.Array, k: jax.Array, v: jax.Array, *, causal: bool,
                        segment_ids: jax.Array | None = None,
                        kv_segment_ids: jax.Array | None = None) -> jax.Array:
    """Plain XLA attention: einsums with float32 logits and softmax; GQA by head grouping."""
    batch, q_len, heads, head_dim = q.shape
    kv_len, kv_heads = k.shape[1], k.shape[2]
    groups = heads // kv_heads
    qg = q.reshape(batch, q_len, kv_heads, groups, head_dim)  # [batch, q_len, kv_heads, groups, head_dim]
    scores = jnp.einsum("blkgd,bskd->bkgls", qg, k,
                        preferred_element_type=jnp.float32)  # [batch, kv_heads, groups, q_len, kv_len]
    scores = scores * jnp.float32(head_dim ** -0.5)
    mask = attention_mask(q_len, kv_len, causal=causal, segment_ids=segment_ids,
                          kv_segment_ids=kv_segment_ids)  # [batch|1, q_len, kv_len]
    if mask is not None:
        scores = jnp.where(mask[:, None, None], scores, jnp.finfo(jnp.float32).min)
    probs = jax.nn.softmax(scores, axis=-1).astype(v.dtype)  # [batch, kv_heads, groups, q_len, kv_len]
    out = jnp.einsum("bkgls,bskd->blkgd", probs, v)  # [batch, q_len, kv_heads, groups, head_dim]
    return out.reshape(batch, q_len, heads, head_dim)  # [batch, q_len, heads, head_dim]
