"""Plain-JAX attention: the numerical reference for the Pallas kernels.

    q [batch, q_len, heads, head_dim], k/v [batch, kv_len, kv_heads, head_dim]  (heads % kv_heads == 0)
    segment_ids [batch, q_len] int (0 = padding), kv_segment_ids [batch, kv_len] (default: segment_ids)

Scores and softmax run in float32; grouped-query attention groups the query heads per key/value
head, so keys and values are never repeated. `causal` masks keys at a later index than the query
(q and kv share one index space). termforge.jaxtrain.attention registers this very function as the
model's "reference" attention.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def attention_mask(q_len: int, kv_len: int, *, causal: bool, segment_ids: jax.Array | None,
                   kv_segment_ids: jax.Array | None = None) -> jax.Array | None:
    """Boolean mask [batch or 1, q_len, kv_len]: True where a query may attend to a key."""
    mask = None
    if causal:
        mask = (jnp.arange(kv_len)[None, :] <= jnp.arange(q_len)[:, None])[None]  # [1, q_len, kv_len]
    if segment_ids is not None:
        kv_segment_ids = segment_ids if kv_segment_ids is None else kv_segment_ids
        same = segment_ids[:, :, None] == kv_segment_ids[:, None, :]  # [batch, q_len, kv_len]
        mask = same if mask is None else mask & same
    return mask


def reference_attention(q: jax.Array, k: jax.Array, v: jax.Array, *, causal: bool,
                        segment_ids: jax.Array | None = None,
                        kv_segment_ids: jax.Array | None = None) -> jax.Array:
    """Attention output [batch, q_len, heads, head_dim] in q's dtype (materialises the scores)."""
    batch, q_len, heads, head_dim = q.shape
    kv_len, kv_heads = k.shape[1], k.shape[2]
    if heads % kv_heads:
        raise ValueError(f"heads ({heads}) must be a multiple of kv_heads ({kv_heads})")
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
    return out.reshape(batch, q_len, heads, head_dim).astype(q.dtype)


# ------------------------------------------------ dense blocks with logsumexp
MASK_VALUE = -0.7 * float(jnp.finfo(jnp.float32).max)  # finite mask: no inf - inf anywhere


def _block_scores(q, k, q_seg, kv_seg, causal):
    """Scaled, masked scores [b, kv_heads, groups, q_len, kv_len] float32 (finite mask)."""
    batch, q_len, heads, head_dim = q.shape
    kv_len, kv_heads = k.shape[1], k.shape[2]
    qg = q.reshape(batch, q_len, kv_heads, heads // kv_heads, head_dim)
    s = jnp.einsum("blkgd,bskd->bkgls", qg, k, preferred_element_type=jnp.float32)
    s = s * jnp.float32(head_dim ** -0.5)
    mask = attention_mask(q_len, kv_len, causal=causal, segment_ids=q_seg, kv_segment_ids=kv_seg)
    return s if mask is None else jnp.where(mask[:, None, None], s, jnp.float32(MASK_VALUE))


def attention_with_lse(q, k, v, q_seg=None, kv_seg=None, *, causal: bool):
    """(out [b, q_len, h, d], lse [b, h, q_len] float32) of one dense block (ring attention's XLA path).

    Same masking convention as the Pallas kernels: a row with no visible key gets lse ~ MASK_VALUE.
    """
    batch, q_len, heads, head_dim = q.shape
    s = _block_scores(q, k, q_seg, kv_seg, causal)  # [b, kv_heads, groups, q_len, kv_len]
    m = jnp.max(s, axis=-1, keepdims=True)
    p = jnp.exp(s - m)
    l = jnp.sum(p, axis=-1, keepdims=True)
    o = jnp.einsum("bkgls,bskd->blkgd", (p / l).astype(v.dtype), v, preferred_element_type=jnp.float32)
    lse = (m + jnp.log(l))[..., 0].reshape(batch, heads, q_len)
    return o.reshape(batch, q_len, heads, head_dim).astype(q.dtype), lse


def attention_grads_from_lse(q, k, v, q_seg, kv_seg, do, lse, delta, *, causal: bool):
    """(dq, dk, dv) of one dense block given the full softmax's lse and delta [b, h, q_len]."""
    batch, q_len, heads, head_dim = q.shape
    kv_heads = k.shape[2]
    groups = heads // kv_heads
    scale = jnp.float32(head_dim ** -0.5)
    s = _block_scores(q, k, q_seg, kv_seg, causal)
    p = jnp.exp(s - lse.reshape(batch, kv_heads, groups, q_len)[..., None])
    dog = do.reshape(batch, q_len, kv_heads, groups, head_dim)
    qg = q.reshape(batch, q_len, kv_heads, groups, head_dim)
    dv = jnp.einsum("bkgls,blkgd->bskd", p.astype(do.dtype), dog, preferred_element_type=jnp.float32)
    dp = jnp.einsum("blkgd,bskd->bkgls", dog, v, preferred_element_type=jnp.float32)
    ds = p * (dp - delta.reshape(batch, kv_heads, groups, q_len)[..., None])
    dq = jnp.einsum("bkgls,bskd->blkgd", ds.astype(k.dtype), k, preferred_element_type=jnp.float32) * scale
    dk = jnp.einsum("bkgls,blkgd->bskd", ds.astype(q.dtype), qg, preferred_element_type=jnp.float32) * scale
    return (dq.reshape(q.shape).astype(q.dtype), dk.astype(k.dtype), dv.astype(v.dtype))
