"""Ring attention: the sequence sharded over a mesh axis, K/V blocks rotating around the ring.

    out = ring_attention(q, k, v, mesh=mesh, axis_name="context", causal=True, segment_ids=seg)

Each of the N devices on `axis_name` keeps its query shard and passes its key/value shard (with
its segment ids) to the next device with `lax.ppermute`, N - 1 times. Every step attends the local
queries to the visiting keys (the Pallas flash kernel, or a dense XLA block with impl="xla") and
folds the partial result in by logsumexp:

    lse = logaddexp(lse_a, lse_b);  o = o_a * exp(lse_a - lse) + o_b * exp(lse_b - lse)

The next K/V shard is requested before the current one is used, so the transfer can overlap the
compute (the last step's request is unused: one spare transfer, kept so that the loop has a single
body and each kernel is compiled once). Peak memory per device is O(L/N): with the flash kernel no
score matrix is ever materialised (impl="xla" materialises one (L/N) x (L/N) block per step).

Backward (custom VJP): the same rotation again. Each step recomputes its block's gradients from
the saved final lse and delta = rowsum(o * do) (flash_backward); dq stays home, while dK/dV
accumulators travel with the K/V shard they belong to and take one last hop back to their owner.

Causal load balance (zigzag): split the sequence into 2N chunks; device i holds chunks i and
2N-1-i. Then at step 0 each device attends its own pair causally (local order = global order),
and at every later step exactly half of the block pair is visible: if the visiting shard comes
from an earlier device, all local queries see its first chunk; otherwise the second local query
chunk sees both visiting chunks. Every device does the same work at every step, so none idles
(with the plain contiguous split, device 0 would skip N - 1 of N steps).

Layouts: `layout="zigzag"` means the caller already stores the sequence in zigzag order (cheapest:
permute token ids, positions from `zigzag_positions`, segment ids and targets once in the data
pipeline); `layout="natural"` (default) reorders q/k/v/segment ids into zigzag order and the output
back inside the shard_map (two half-shard ppermutes per tensor; the sequence is never gathered).
Non-causal attention needs no balancing and uses plain order.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import PartitionSpec as P

from termforge.kernels.flash import FlashOptions, attention_delta, flash_backward, flash_forward
from termforge.kernels.reference import MASK_VALUE, attention_grads_from_lse, attention_with_lse

_F32 = jnp.float32


# ------------------------------------------------------------ zigzag order
def zigzag_chunk_order(n: int) -> np.ndarray:
    """Natural chunk index at each zigzag slot: [0, 2n-1, 1, 2n-2, ..., n-1, n]."""
    return np.array([c for i in range(n) for c in (i, 2 * n - 1 - i)], dtype=np.int32)


def zigzag_indices(length: int, n: int) -> np.ndarray:
    """Natural sequence index stored at each zigzag position (length must be a multiple of 2n)."""
    if length % (2 * n):
        raise ValueError(f"zigzag needs a length divisible by 2 * {n}, got {length}")
    c = length // (2 * n)
    return (zigzag_chunk_order(n)[:, None] * c + np.arange(c)[None, :]).reshape(-1)


def _permute_chunks(x: jax.Array, order: np.ndarray, axis: int) -> jax.Array:
    axis = axis % x.ndim
    length, chunks = x.shape[axis], len(order)
    if length % chunks:
        raise ValueError(f"zigzag needs a length divisible by {chunks}, got {length}")
    shape = x.shape[:axis] + (chunks, length // chunks) + x.shape[axis + 1:]
    y = jnp.take(x.reshape(shape), jnp.asarray(order), axis=axis)
    return y.reshape(x.shape)


def to_zigzag(x: jax.Array, n: int, axis: int = 1) -> jax.Array:
    """Reorder the sequence axis from natural to zigzag order for a ring of n devices."""
    return _permute_chunks(x, zigzag_chunk_order(n), axis)


def from_zigzag(x: jax.Array, n: int, axis: int = 1) -> jax.Array:
    """Inverse of `to_zigzag`."""
    return _permute_chunks(x, np.argsort(zigzag_chunk_order(n)).astype(np.int32), axis)


def positions_from_segments(segment_ids: jax.Array) -> jax.Array:
    """Positions [batch, len] that restart at 0 where a packed segment starts (natural order)."""
    seq = segment_ids.shape[-1]
    idx = jnp.arange(seq, dtype=jnp.int32)[None, :]
    prev = jnp.concatenate([jnp.full_like(segment_ids[:, :1], -1), segment_ids[:, :-1]], axis=1)
    starts = jnp.where(segment_ids != prev, idx, 0)
    return idx - lax.cummax(starts, axis=1)


def zigzag_positions(n: int, *, length: int | None = None, segment_ids: jax.Array | None = None) -> jax.Array:
    """RoPE positions for a zigzag-ordered sequence.

    With `segment_ids` ([batch, len], natural order) positions restart in each packed segment and
    the result is [batch, len]; with only `length` it is to_zigzag(arange(length)) of shape [len].
    """
    if segment_ids is not None:
        return to_zigzag(positions_from_segments(segment_ids), n, axis=1)
    if length is None:
        raise ValueError("zigzag_positions needs length or segment_ids")
    return to_zigzag(jnp.arange(length, dtype=jnp.int32), n, axis=0)


def _owner(chunk: int, n: int) -> int:
    """Device that holds natural chunk `chunk` (of 2n) in zigzag order."""
    return chunk if chunk < n else 2 * n - 1 - chunk


def _local_to_zigzag(x, axis: str, n: int, axis_pos: int = 1):
    """Inside shard_map: contiguous shards (device i: chunks 2i, 2i+1) -> zigzag (chunks i, 2n-1-i).

    Two ppermutes of half a shard each: even chunks and odd chunks each form a permutation of the
    devices, so the reorder moves one shard's worth of data and never gathers the sequence.
    """
    if x is None or n == 1:
        return x
    a, b = _split2(x, axis_pos)  # chunks 2i and 2i+1
    ra = lax.ppermute(a, axis, [(i, _owner(2 * i, n)) for i in range(n)])
    rb = lax.ppermute(b, axis, [(i, _owner(2 * i + 1, n)) for i in range(n)])
    even = lax.axis_index(axis) % 2 == 0  # device j's chunk j is even (came by ra) iff j is even
    return jnp.concatenate([jnp.where(even, ra, rb), jnp.where(even, rb, ra)], axis=axis_pos)


def _local_from_zigzag(x, axis: str, n: int, axis_pos: int = 1):
    """Inverse of `_local_to_zigzag` (sends each chunk back the way it came)."""
    if n == 1:
        return x
    s0, s1 = _split2(x, axis_pos)
    even = lax.axis_index(axis) % 2 == 0
    by_a, by_b = jnp.where(even, s0, s1), jnp.where(even, s1, s0)
    a = lax.ppermute(by_a, axis, [(_owner(2 * i, n), i) for i in range(n)])
    b = lax.ppermute(by_b, axis, [(_owner(2 * i + 1, n), i) for i in range(n)])
    return jnp.concatenate([a, b], axis=axis_pos)


def _split2(x, axis_pos: int):
    h = x.shape[axis_pos] // 2
    return lax.slice_in_dim(x, 0, h, axis=axis_pos), lax.slice_in_dim(x, h, x.shape[axis_pos], axis=axis_pos)


# ------------------------------------------------------------- ring core
@dataclasses.dataclass(frozen=True)
class _Ring:
    axis: str
    n: int
    causal: bool
    zigzag: bool  # causal schedule: zigzag (balanced) or contiguous
    impl: str  # "flash" | "xla"
    opts: FlashOptions


def _attend(r: _Ring, q, k, v, qs, ks, causal):
    if r.impl == "flash":
        o, lse = flash_forward(q, k, v, qs, ks, causal=causal, opts=r.opts)
    else:
        o, lse = attention_with_lse(q, k, v, qs, ks, causal=causal)
    return o.astype(_F32), lse


def _attend_grads(r: _Ring, q, k, v, qs, ks, do, lse, delta, causal):
    if r.impl == "flash":
        grads = flash_backward(q, k, v, qs, ks, do, lse, delta, causal=causal, opts=r.opts)
    else:
        grads = attention_grads_from_lse(q, k, v, qs, ks, do, lse, delta, causal=causal)
    return tuple(g.astype(_F32) for g in grads)


def _merge(o, lse, o_b, lse_b):
    """Fold partial result (o_b, lse_b) into (o, lse); o [b, l, h, d] float32, lse [b, h, l]."""
    new = jnp.logaddexp(lse, lse_b)
    wa = jnp.swapaxes(jnp.exp(lse - new), 1, 2)[..., None]  # [b, l, h, 1]
    wb = jnp.swapaxes(jnp.exp(lse_b - new), 1, 2)[..., None]
    return o * wa + o_b * wb, new


def _half(x, which: int, axis: int = 1):
    if x is None:
        return None
    h = x.shape[axis] // 2
    return lax.slice_in_dim(x, 0, h, axis=axis) if which == 0 else lax.slice_in_dim(x, h, x.shape[axis], axis=axis)


def _step_forward(r: _Ring, s, idx, q, qs, cur):
    """Partial (o, lse) of the local queries against the K/V shard that came from device idx - s."""
    k, v, ks = cur
    if not r.causal:
        return _attend(r, q, k, v, qs, ks, False)
    earlier = s <= idx  # the visiting shard comes from an earlier device
    if r.zigzag:
        def before():  # all local queries see the visitor's first chunk, none its second
            return _attend(r, q, _half(k, 0), _half(v, 0), qs, _half(ks, 0, 1), False)

        def after():  # only the local second chunk sees the visitor, both its chunks
            o2, l2 = _attend(r, _half(q, 1), k, v, _half(qs, 1), ks, False)
            return (jnp.concatenate([jnp.zeros_like(o2), o2], axis=1),
                    jnp.concatenate([jnp.full_like(l2, MASK_VALUE), l2], axis=2))
        return lax.cond(earlier, before, after)

    def full():
        return _attend(r, q, k, v, qs, ks, False)

    def nothing():
        b, l, h, d = q.shape
        return jnp.zeros((b, l, h, d), _F32), jnp.full((b, h, l), MASK_VALUE, _F32)
    return lax.cond(earlier, full, nothing)


def _step_grads(r: _Ring, s, idx, q, qs, cur, do, lse, delta):
    """(dq, dk, dv) contributions of the block pair (local queries, K/V shard from device idx - s)."""
    k, v, ks = cur
    if not r.causal:
        return _attend_grads(r, q, k, v, qs, ks, do, lse, delta, False)
    earlier = s <= idx
    if r.zigzag:
        def before():
            dq, dk, dv = _attend_grads(r, q, _half(k, 0), _half(v, 0), qs, _half(ks, 0, 1), do, lse, delta, False)
            return dq, jnp.concatenate([dk, jnp.zeros_like(dk)], 1), jnp.concatenate([dv, jnp.zeros_like(dv)], 1)

        def after():
            dq, dk, dv = _attend_grads(r, _half(q, 1), k, v, _half(qs, 1), ks, _half(do, 1),
                                       _half(lse, 1, 2), _half(delta, 1, 2), False)
            return jnp.concatenate([jnp.zeros_like(dq), dq], 1), dk, dv
        return lax.cond(earlier, before, after)

    def full():
        return _attend_grads(r, q, k, v, qs, ks, do, lse, delta, False)

    def nothing():
        return (jnp.zeros(q.shape, _F32), jnp.zeros(k.shape, _F32), jnp.zeros(v.shape, _F32))
    return lax.cond(earlier, full, nothing)


def _shift(r: _Ring, tree):
    """Send to the next device on the ring (device i receives from i - 1)."""
    perm = [(i, (i + 1) % r.n) for i in range(r.n)]
    return jax.tree.map(lambda x: lax.ppermute(x, r.axis, perm), tree)


def _ring_forward(r: _Ring, q, k, v, seg):
    o, lse = _attend(r, q, k, v, seg, seg, r.causal)  # step 0: own shard
    if r.n == 1:
        return o, lse
    idx = lax.axis_index(r.axis)

    def body(s, carry):
        o, lse, cur = carry
        nxt = _shift(r, cur)  # request the next shard before using this one: transfer overlaps compute
        o, lse = _merge(o, lse, *_step_forward(r, s, idx, q, seg, cur))
        return o, lse, nxt

    # One loop body for all steps keeps one kernel instance per branch (compile time); the price is
    # one unused transfer on the last step, which overlaps that step's compute.
    o, lse, _ = lax.fori_loop(1, r.n, body, (o, lse, _shift(r, (k, v, seg))))
    return o, lse


def _ring_backward(r: _Ring, q, k, v, seg, o, lse, do):
    delta = attention_delta(o, do)  # [b, h, l]
    dq, dk, dv = _attend_grads(r, q, k, v, seg, seg, do, lse, delta, r.causal)
    if r.n == 1:
        return dq, dk, dv
    idx = lax.axis_index(r.axis)

    def body(s, carry):
        dq, cur, (dk, dv) = carry
        nxt = _shift(r, cur)
        dk, dv = _shift(r, (dk, dv))  # dK/dV accumulators travel with the shard they belong to
        dq_b, dk_b, dv_b = _step_grads(r, s, idx, q, seg, cur, do, lse, delta)
        return dq + dq_b, nxt, (dk + dk_b, dv + dv_b)

    dq, _, dkv = lax.fori_loop(1, r.n, body, (dq, _shift(r, (k, v, seg)), (dk, dv)))
    dk, dv = _shift(r, dkv)  # last hop: back to the owner
    return dq, dk, dv


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _ring_local(r: _Ring, q, k, v, seg):
    return _ring_forward(r, q, k, v, seg)[0].astype(q.dtype)


def _ring_local_fwd(r: _Ring, q, k, v, seg):
    o, lse = _ring_forward(r, q, k, v, seg)
    o = o.astype(q.dtype)
    return o, (q, k, v, seg, o, lse)


def _ring_local_bwd(r: _Ring, res, do):
    q, k, v, seg, o, lse = res
    dq, dk, dv = _ring_backward(r, q, k, v, seg, o, lse, do)
    return dq.astype(q.dtype), dk.astype(k.dtype), dv.astype(v.dtype), None


_ring_local.defvjp(_ring_local_fwd, _ring_local_bwd)


def ring_attention(q: jax.Array, k: jax.Array, v: jax.Array, *, mesh: Any, axis_name: str = "context",
                   causal: bool = True, segment_ids: jax.Array | None = None, layout: str = "natural",
                   load_balance: bool = True, batch_axes: Any = None, head_axes: Any = None,
                   impl: str = "flash", block_q: int | None = None, block_k: int | None = None,
                   interpret: Any = None) -> jax.Array:
    """Attention with the sequence sharded over `mesh`'s `axis_name` (see module docstring).

    q [b, len, h, d], k/v [b, len, h_kv, d], segment_ids [b, len] (0 = padding) — global arrays,
    same contract as `reference_attention` (self-attention: q and kv share the sequence).
    layout: "natural" (inputs in sequence order) or "zigzag" (inputs already `to_zigzag`-ed; the
        output is in zigzag order too). load_balance=False keeps natural inputs in contiguous
        chunks (unbalanced causal ring; for comparison).
    batch_axes / head_axes: mesh axes that shard batch / heads (both q and kv heads) inside the
        ring, so they are not gathered. impl: "flash" (Pallas kernel per step) or "xla" (dense
        einsum block per step: O((len/N)^2) memory, for debugging).
    """
    if layout not in ("natural", "zigzag"):
        raise ValueError(f"layout must be 'natural' or 'zigzag', got {layout!r}")
    if impl not in ("flash", "xla"):
        raise ValueError(f"impl must be 'flash' or 'xla', got {impl!r}")
    if q.shape[1] != k.shape[1]:
        raise ValueError("ring attention is self-attention: q and k need the same length")
    n = int(mesh.shape[axis_name])
    length = q.shape[1]
    zigzag = causal and (layout == "zigzag" or load_balance)
    permute = zigzag and layout == "natural" and n > 1
    chunks = 2 * n if zigzag else n
    pad = (-length) % chunks
    if pad:
        if layout == "zigzag":
            raise ValueError(f"a zigzag-ordered sequence must have a length divisible by {chunks}, got {length}")
        if segment_ids is None:
            segment_ids = jnp.ones(q.shape[:2], jnp.int32)
        widths = [(0, 0), (0, pad), (0, 0), (0, 0)]
        q, k, v = (jnp.pad(x, widths) for x in (q, k, v))
        segment_ids = jnp.pad(segment_ids, [(0, 0), (0, pad)], constant_values=-1)  # a segment of its own
    r = _Ring(axis=axis_name, n=n, causal=bool(causal), zigzag=zigzag, impl=impl,
              opts=FlashOptions(block_q=block_q, block_k=block_k, interpret=interpret))

    def local(q_, k_, v_, s_=None):
        if permute:  # natural -> zigzag on each device's shard, and back for the output
            q_, k_, v_, s_ = (_local_to_zigzag(x, axis_name, n) for x in (q_, k_, v_, s_))
        out_ = _ring_local(r, q_, k_, v_, s_)
        return _local_from_zigzag(out_, axis_name, n) if permute else out_

    spec, seg_spec = P(batch_axes, axis_name, head_axes, None), P(batch_axes, axis_name)
    if segment_ids is None:
        out = jax.shard_map(local, mesh=mesh, in_specs=(spec, spec, spec), out_specs=spec, check_vma=False)(q, k, v)
    else:
        out = jax.shard_map(local, mesh=mesh, in_specs=(spec, spec, spec, seg_spec), out_specs=spec,
                            check_vma=False)(q, k, v, segment_ids.astype(jnp.int32))
    return out[:, :length] if pad else out


__all__ = ["from_zigzag", "positions_from_segments", "ring_attention", "to_zigzag", "zigzag_chunk_order",
           "zigzag_indices", "zigzag_positions"]
