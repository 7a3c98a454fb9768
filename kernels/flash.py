"""Flash attention in Pallas: blockwise online softmax, forward and backward.

    out = flash_attention(q, k, v, causal=True, segment_ids=seg)     # same contract as the reference
    q [batch, q_len, heads, head_dim], k/v [batch, kv_len, kv_heads, head_dim], seg [batch, len] (0 = padding)

How it works
- Forward: one program per (batch, head, query block) keeps a float32 accumulator, running max `m`
  and running sum `l` and walks over key/value blocks (FlashAttention-2). It writes the output and
  the logsumexp `lse = m + log(l)` per query row, the only residual kept for the backward.
- Backward (`jax.custom_vjp`): recomputes the probabilities block by block from q, k and lse:
  `p = exp(q k^T * scale - lse)`, `dp = do v^T`, `ds = p * (dp - delta)` with `delta = rowsum(o * do)`.
  One kernel walks key blocks per query block and writes dq; one kernel walks (query head of the
  group, query block) per key/value block and writes dk, dv — so GQA sums the group's gradients
  inside the kernel and nothing of size heads x kv_len is ever written for K or V.
- GQA: query head h reads key/value head h // groups straight from the BlockSpec index map; K and
  V are never repeated in HBM.
- Causal block skipping: key blocks entirely after a query block are never visited (their loop
  bounds / index maps stop before them); blocks entirely before the diagonal skip the mask.
- Odd lengths are padded to the block sizes (padded keys are masked by index, padded queries are
  sliced off); a head_dim that is not a power of two is zero-padded (Triton needs powers of two).
- Masking uses a large finite negative value, so no row ever produces inf - inf = NaN.

Two schedules of the same block math:
- "loop" (GPU/Triton and the default in interpret mode): grid (batch, heads, q_blocks), a
  `fori_loop` over key blocks inside the kernel. Triton programs are independent, so reductions
  live in registers inside one program.
- "grid" (TPU/Mosaic): the key-block loop is the last, "arbitrary" grid axis; the accumulators
  live in VMEM scratch and Pallas pipelines the K/V block DMAs. Skipped causal blocks are clamped
  in the index maps so they are not even fetched.
and two layouts: "seq" blocks read [batch, len, heads, head_dim] in place (GPU), "head" transposes
to [batch, heads, len, head_dim] first so a block's last two dims are (len, head_dim), which is
what Mosaic tiles (TPU). Both run on CPU with `interpret=True`, which is how the tests check them.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl

from termforge.kernels.reference import MASK_VALUE  # masked score; also the lse of "no contribution"

_F32 = jnp.float32


# ------------------------------------------------------------------ options
@dataclasses.dataclass(frozen=True)
class FlashOptions:
    """Static knobs of the kernels (hashable: they are custom_vjp non-differentiable args).

    block_q / block_k: tile sizes along queries / keys, powers of two (default 128, 64 on GPU);
        clamped to the padded length.
    interpret: None = auto (True on CPU; env TERMFORGE_PALLAS_INTERPRET=0/1 overrides), True, False,
        or a `pltpu.InterpretParams()` for the TPU-faithful interpreter.
    schedule: None = auto ("grid" on TPU, else "loop"), "loop" or "grid".
    layout: None = auto ("head" on TPU, else "seq"), "seq" or "head".
    """

    block_q: int | None = None
    block_k: int | None = None
    interpret: Any = None
    schedule: str | None = None
    layout: str | None = None


@dataclasses.dataclass(frozen=True)
class _Plan:
    """Everything static a kernel needs (derived from shapes and FlashOptions)."""

    causal: bool
    scale: float
    bq: int
    bk: int
    nq: int
    nk: int
    q_len: int  # unpadded
    kv_len: int  # unpadded
    groups: int
    use_seg: bool
    seq_major: bool
    schedule: str
    interpret: Any
    backend: str
    head_dim: int  # padded head_dim

    @property
    def kv_padded(self) -> bool:
        return self.nk * self.bk != self.kv_len


def _resolve_interpret(interpret: Any) -> Any:
    if interpret is not None:
        return interpret
    env = os.environ.get("TERMFORGE_PALLAS_INTERPRET", "").strip().lower()
    if env in ("1", "true", "yes"):
        return True
    if env in ("0", "false", "no"):
        return False
    return jax.default_backend() == "cpu"


def _block(requested: int | None, length: int, backend: str) -> int:
    """The requested power-of-two tile, shrunk to the next power of two >= max(16, length).

    Default 128 (TPU MXU tiles, few interpreter steps on CPU); 64 on GPU, where the backward
    kernels keep a K/V block plus two float32 accumulators of that many rows in registers.
    """
    b = (64 if backend == "gpu" else 128) if requested is None else int(requested)
    if b <= 0 or b & (b - 1):
        raise ValueError(f"block sizes must be powers of two, got {b}")
    return max(8, min(b, max(16, pl.next_power_of_2(length))))


def _plan(q: jax.Array, k: jax.Array, *, causal: bool, use_seg: bool, opts: FlashOptions) -> _Plan:
    if q.ndim != 4 or k.ndim != 4 or q.shape[0] != k.shape[0] or q.shape[-1] != k.shape[-1]:
        raise ValueError(f"incompatible q {q.shape} and k {k.shape} (want [b, len, heads, head_dim])")
    batch, q_len, heads, head_dim = q.shape
    kv_len, kv_heads = k.shape[1], k.shape[2]
    if heads % kv_heads:
        raise ValueError(f"heads ({heads}) must be a multiple of kv_heads ({kv_heads})")
    backend = jax.default_backend()
    schedule = opts.schedule or ("grid" if backend == "tpu" else "loop")
    layout = opts.layout or ("head" if backend == "tpu" else "seq")
    if schedule not in ("loop", "grid"):
        raise ValueError(f"schedule must be 'loop' or 'grid', got {schedule!r}")
    if layout not in ("seq", "head"):
        raise ValueError(f"layout must be 'seq' or 'head', got {layout!r}")
    bq, bk = _block(opts.block_q, q_len, backend), _block(opts.block_k, kv_len, backend)
    return _Plan(causal=bool(causal), scale=float(head_dim) ** -0.5, bq=bq, bk=bk,
                 nq=pl.cdiv(q_len, bq), nk=pl.cdiv(kv_len, bk), q_len=q_len, kv_len=kv_len,
                 groups=heads // kv_heads, use_seg=use_seg, seq_major=layout == "seq",
                 schedule=schedule, interpret=_resolve_interpret(opts.interpret), backend=backend,
                 head_dim=max(16, pl.next_power_of_2(head_dim)))


def _compiler_params(p: _Plan, semantics: tuple[str, ...]):
    if p.interpret is not False:
        return None
    if p.backend == "gpu" and p.schedule == "loop":
        from jax.experimental.pallas import triton as plgpu

        return plgpu.CompilerParams(num_warps=4 if p.head_dim <= 64 else 8, num_stages=2)
    if p.backend == "tpu" and p.schedule == "grid":
        from jax.experimental.pallas import tpu as pltpu

        return pltpu.CompilerParams(dimension_semantics=semantics)
    raise ValueError(f"schedule {p.schedule!r} does not compile for backend {p.backend!r} "
                     f"(use 'loop' on GPU, 'grid' on TPU, or interpret=True)")


def _scratch(shape, dtype):
    from jax.experimental.pallas import tpu as pltpu

    return pltpu.VMEM(shape, dtype)


# ------------------------------------------------------------ block math
def _precision(a):
    """float32 blocks multiply in full precision: Triton's default for a DEFAULT-precision dot is
    TF32 (10-bit mantissa), which would make float32 attention disagree with the reference at
    ~1e-3. bfloat16 blocks keep the default (native bf16 tensor-core products)."""
    return lax.Precision.HIGHEST if a.dtype == jnp.float32 else None


def _dot_nt(a, b):  # a [m, d], b [n, d] -> [m, n] float32
    return lax.dot_general(a, b, (((1,), (1,)), ((), ())), precision=_precision(a), preferred_element_type=_F32)


def _dot(a, b):  # a [m, k], b [k, n] -> [m, n] float32
    return lax.dot_general(a, b, (((1,), (0,)), ((), ())), precision=_precision(a), preferred_element_type=_F32)


def _and(a, b):
    return b if a is None else a & b


def _scores(q, k, qs, ks, q_start, k_start, p: _Plan, causal: bool):
    """Scaled, masked scores [bq, bk] float32. qs [bq, 1], ks [1, bk] segment ids or None."""
    s = _dot_nt(q, k) * _F32(p.scale)
    mask = None
    if p.use_seg:
        mask = qs == ks  # [bq, bk]
    if causal or p.kv_padded:
        col = k_start + lax.broadcasted_iota(jnp.int32, s.shape, 1)  # key index
        if causal:
            row = q_start + lax.broadcasted_iota(jnp.int32, s.shape, 0)  # query index
            mask = _and(mask, col <= row)
        if p.kv_padded:
            mask = _and(mask, col < p.kv_len)
    return s if mask is None else jnp.where(mask, s, _F32(MASK_VALUE))


def _online_update(q, k, v, qs, ks, q_start, k_start, m, l, acc, p: _Plan, causal: bool):
    """One FlashAttention-2 step: fold key block (k, v) into the running (m, l, acc)."""
    s = _scores(q, k, qs, ks, q_start, k_start, p, causal)  # [bq, bk]
    m_new = jnp.maximum(m, jnp.max(s, axis=1, keepdims=True))  # [bq, 1]
    corr = jnp.exp(m - m_new)  # [bq, 1]
    prob = jnp.exp(s - m_new)  # [bq, bk]
    l = corr * l + jnp.sum(prob, axis=1, keepdims=True)
    acc = corr * acc + _dot(prob.astype(v.dtype), v)  # [bq, D]
    return m_new, l, acc


def _grad_block(q, k, v, qs, ks, do, lse, delta, q_start, k_start, p: _Plan, causal: bool):
    """Recomputed probabilities and score gradients of one (query block, key block) pair."""
    s = _scores(q, k, qs, ks, q_start, k_start, p, causal)  # [bq, bk]
    prob = jnp.exp(s - lse)  # [bq, bk]; lse [bq, 1]
    dp = _dot_nt(do, v)  # [bq, bk]
    ds = prob * (dp - delta)  # [bq, bk]; delta [bq, 1]
    return prob, ds


def _kv_bounds(i, p: _Plan):
    """Key blocks [0, lo) need no causal mask, [lo, hi) do; blocks >= hi are skipped (query block i)."""
    hi = jnp.minimum(lax.div((i + 1) * p.bq + p.bk - 1, jnp.int32(p.bk)), p.nk)
    lo = jnp.minimum(lax.div(i * p.bq + 1, jnp.int32(p.bk)), hi)
    return lo, hi


def _q_bounds(j, p: _Plan):
    """Query blocks [lo, full) need the causal mask, [full, nq) do not, < lo are skipped (key block j)."""
    lo = jnp.minimum(lax.div(j * p.bk, jnp.int32(p.bq)), p.nq)
    full = jnp.maximum(jnp.minimum(lax.div((j + 1) * p.bk - 1 + p.bq - 1, jnp.int32(p.bq)), p.nq), lo)
    return lo, full


def _unpack(refs, p: _Plan, n_in_before_seg: int):
    refs = list(refs)
    head = refs[:n_in_before_seg]
    if p.use_seg:
        qs_ref, ks_ref = refs[n_in_before_seg:n_in_before_seg + 2]
        rest = refs[n_in_before_seg + 2:]
    else:
        qs_ref = ks_ref = None
        rest = refs[n_in_before_seg:]
    return head, qs_ref, ks_ref, rest


# --------------------------------------------------------- forward kernels
def _fwd_loop_kernel(*refs, p: _Plan):
    (q_ref, k_ref, v_ref), qs_ref, ks_ref, (o_ref, lse_ref) = _unpack(refs, p, 3)
    i = pl.program_id(2)
    q = q_ref[...]  # [bq, D]
    qs = qs_ref[...] if p.use_seg else None  # [bq, 1]
    q_start = i * p.bq

    def body(causal):
        def step(j, carry):
            k_start = pl.multiple_of(j * p.bk, p.bk)
            sl = pl.ds(k_start, p.bk)
            ks = ks_ref[:, sl] if p.use_seg else None  # [1, bk]
            return _online_update(q, k_ref[sl, :], v_ref[sl, :], qs, ks, q_start, k_start, *carry, p, causal)
        return step

    carry = (jnp.full((p.bq, 1), MASK_VALUE, _F32), jnp.zeros((p.bq, 1), _F32),
             jnp.zeros((p.bq, q.shape[-1]), _F32))
    if p.causal:
        lo, hi = _kv_bounds(i, p)
        carry = lax.fori_loop(0, lo, body(False), carry)
        carry = lax.fori_loop(lo, hi, body(True), carry)
    else:
        carry = lax.fori_loop(0, p.nk, body(False), carry)
    m, l, acc = carry
    o_ref[...] = (acc / l).astype(o_ref.dtype)
    lse_ref[...] = m + jnp.log(l)


def _fwd_grid_kernel(*refs, p: _Plan):
    (q_ref, k_ref, v_ref), qs_ref, ks_ref, (o_ref, lse_ref, m_sc, l_sc, acc_sc) = _unpack(refs, p, 3)
    i, j = pl.program_id(2), pl.program_id(3)

    @pl.when(j == 0)
    def _init():
        m_sc[...] = jnp.full(m_sc.shape, MASK_VALUE, _F32)
        l_sc[...] = jnp.zeros(l_sc.shape, _F32)
        acc_sc[...] = jnp.zeros(acc_sc.shape, _F32)

    def compute(causal):
        def run():
            qs = qs_ref[...] if p.use_seg else None
            ks = ks_ref[...] if p.use_seg else None
            m, l, acc = _online_update(q_ref[...], k_ref[...], v_ref[...], qs, ks, i * p.bq, j * p.bk,
                                       m_sc[...], l_sc[...], acc_sc[...], p, causal)
            m_sc[...], l_sc[...], acc_sc[...] = m, l, acc
        return run

    if p.causal:
        lo, hi = _kv_bounds(i, p)
        pl.when(j < lo)(compute(False))
        pl.when((j >= lo) & (j < hi))(compute(True))
    else:
        compute(False)()

    @pl.when(j == p.nk - 1)
    def _finish():
        o_ref[...] = (acc_sc[...] / l_sc[...]).astype(o_ref.dtype)
        lse_ref[...] = m_sc[...] + jnp.log(l_sc[...])


# -------------------------------------------------------- backward kernels
def _dq_loop_kernel(*refs, p: _Plan):
    (q_ref, k_ref, v_ref), qs_ref, ks_ref, (do_ref, lse_ref, delta_ref, dq_ref) = _unpack(refs, p, 3)
    i = pl.program_id(2)
    q, do, lse, delta = q_ref[...], do_ref[...], lse_ref[...], delta_ref[...]
    qs = qs_ref[...] if p.use_seg else None
    q_start = i * p.bq

    def body(causal):
        def step(j, dq):
            k_start = pl.multiple_of(j * p.bk, p.bk)
            sl = pl.ds(k_start, p.bk)
            k = k_ref[sl, :]
            ks = ks_ref[:, sl] if p.use_seg else None
            _, ds = _grad_block(q, k, v_ref[sl, :], qs, ks, do, lse, delta, q_start, k_start, p, causal)
            return dq + _dot(ds.astype(k.dtype), k)
        return step

    dq = jnp.zeros((p.bq, q.shape[-1]), _F32)
    if p.causal:
        lo, hi = _kv_bounds(i, p)
        dq = lax.fori_loop(0, lo, body(False), dq)
        dq = lax.fori_loop(lo, hi, body(True), dq)
    else:
        dq = lax.fori_loop(0, p.nk, body(False), dq)
    dq_ref[...] = (dq * _F32(p.scale)).astype(dq_ref.dtype)


def _group_rows(ref, g, sl, seq_major: bool):
    """Rows `sl` of query head g from a block holding a whole GQA group."""
    return ref[sl, g, :] if seq_major else ref[g, sl, :]


def _dkv_loop_kernel(*refs, p: _Plan):
    (q_ref, k_ref, v_ref), qs_ref, ks_ref, (do_ref, lse_ref, delta_ref, dk_ref, dv_ref) = _unpack(refs, p, 3)
    j = pl.program_id(2)
    k, v = k_ref[...], v_ref[...]  # [bk, D]
    ks = ks_ref[...] if p.use_seg else None  # [1, bk]
    k_start = j * p.bk

    def body(g, causal):
        def step(i, carry):
            dk, dv = carry
            q_start = pl.multiple_of(i * p.bq, p.bq)
            sl = pl.ds(q_start, p.bq)
            q = _group_rows(q_ref, g, sl, p.seq_major)
            do = _group_rows(do_ref, g, sl, p.seq_major)
            qs = qs_ref[sl, :] if p.use_seg else None
            prob, ds = _grad_block(q, k, v, qs, ks, do, lse_ref[g, sl, :], delta_ref[g, sl, :],
                                   q_start, k_start, p, causal)
            dv = dv + _dot(prob.T.astype(do.dtype), do)
            dk = dk + _dot(ds.T.astype(q.dtype), q)
            return dk, dv
        return step

    def per_head(g, carry):
        if p.causal:
            lo, full = _q_bounds(j, p)
            carry = lax.fori_loop(lo, full, body(g, True), carry)
            return lax.fori_loop(full, p.nq, body(g, False), carry)
        return lax.fori_loop(0, p.nq, body(g, False), carry)

    zeros = jnp.zeros((p.bk, k.shape[-1]), _F32)
    dk, dv = lax.fori_loop(0, p.groups, per_head, (zeros, zeros))
    dk_ref[...] = (dk * _F32(p.scale)).astype(dk_ref.dtype)
    dv_ref[...] = dv.astype(dv_ref.dtype)


def _dq_grid_kernel(*refs, p: _Plan):
    (q_ref, k_ref, v_ref), qs_ref, ks_ref, (do_ref, lse_ref, delta_ref, dq_ref, dq_sc) = _unpack(refs, p, 3)
    i, j = pl.program_id(2), pl.program_id(3)

    @pl.when(j == 0)
    def _init():
        dq_sc[...] = jnp.zeros(dq_sc.shape, _F32)

    def compute(causal):
        def run():
            k = k_ref[...]
            qs = qs_ref[...] if p.use_seg else None
            ks = ks_ref[...] if p.use_seg else None
            _, ds = _grad_block(q_ref[...], k, v_ref[...], qs, ks, do_ref[...], lse_ref[...], delta_ref[...],
                                i * p.bq, j * p.bk, p, causal)
            dq_sc[...] += _dot(ds.astype(k.dtype), k)
        return run

    if p.causal:
        lo, hi = _kv_bounds(i, p)
        pl.when(j < lo)(compute(False))
        pl.when((j >= lo) & (j < hi))(compute(True))
    else:
        compute(False)()

    @pl.when(j == p.nk - 1)
    def _finish():
        dq_ref[...] = (dq_sc[...] * _F32(p.scale)).astype(dq_ref.dtype)


def _dkv_grid_kernel(*refs, p: _Plan):
    (q_ref, k_ref, v_ref), qs_ref, ks_ref, rest = _unpack(refs, p, 3)
    do_ref, lse_ref, delta_ref, dk_ref, dv_ref, dk_sc, dv_sc = rest
    j, g, i = pl.program_id(2), pl.program_id(3), pl.program_id(4)

    @pl.when((g == 0) & (i == 0))
    def _init():
        dk_sc[...] = jnp.zeros(dk_sc.shape, _F32)
        dv_sc[...] = jnp.zeros(dv_sc.shape, _F32)

    def compute(causal):
        def run():
            q, do = q_ref[...], do_ref[...]
            qs = qs_ref[...] if p.use_seg else None
            ks = ks_ref[...] if p.use_seg else None
            prob, ds = _grad_block(q, k_ref[...], v_ref[...], qs, ks, do, lse_ref[...], delta_ref[...],
                                   i * p.bq, j * p.bk, p, causal)
            dv_sc[...] += _dot(prob.T.astype(do.dtype), do)
            dk_sc[...] += _dot(ds.T.astype(q.dtype), q)
        return run

    if p.causal:
        lo, full = _q_bounds(j, p)
        pl.when((i >= lo) & (i < full))(compute(True))
        pl.when(i >= full)(compute(False))
    else:
        compute(False)()

    @pl.when((g == p.groups - 1) & (i == p.nq - 1))
    def _finish():
        dk_ref[...] = (dk_sc[...] * _F32(p.scale)).astype(dk_ref.dtype)
        dv_ref[...] = dv_sc[...].astype(dv_ref.dtype)


# ------------------------------------------------------------ BlockSpecs
def _spec(p: _Plan, block_len: int, heads_in_block: int | None, dim: int, where):
    """BlockSpec over a [b, len, h, d] ("seq") or [b, h, len, d] ("head") array.

    `where(*grid) -> (batch, head_block, len_block)`; heads_in_block None = one head, squeezed.
    """
    if p.seq_major:
        return pl.BlockSpec((None, block_len, heads_in_block, dim),
                            lambda *g: (lambda b, h, l: (b, l, h, 0))(*where(*g)))
    return pl.BlockSpec((None, heads_in_block, block_len, dim),
                        lambda *g: (lambda b, h, l: (b, h, l, 0))(*where(*g)))


def _row_spec(block_len: int, heads_in_block: int | None, where):
    """BlockSpec over a residual [b, h, len, 1] (lse, delta)."""
    return pl.BlockSpec((None, heads_in_block, block_len, 1),
                        lambda *g: (lambda b, h, l: (b, h, l, 0))(*where(*g)))


def _seg_specs(p: _Plan, q_block: int, k_block: int, q_where, k_where):
    """q segment ids [b, q_len, 1] (rows) and kv segment ids [b, 1, kv_len] (columns)."""
    return [pl.BlockSpec((None, q_block, 1), lambda *g: (lambda b, l: (b, l, 0))(*q_where(*g))),
            pl.BlockSpec((None, 1, k_block), lambda *g: (lambda b, l: (b, 0, l))(*k_where(*g)))]


def _last_kv_block(i, p: _Plan):
    return jnp.minimum(lax.div((i + 1) * p.bq - 1, jnp.int32(p.bk)), p.nk - 1)


def _first_q_block(j, p: _Plan):
    return jnp.minimum(lax.div(j * p.bk, jnp.int32(p.bq)), p.nq - 1)


def _fwd_call(p: _Plan, q, k, v, qs, ks):
    b = q.shape[0]
    h = q.shape[2] if p.seq_major else q.shape[1]
    lq_pad = p.nq * p.bq
    d = p.head_dim
    out_shape = [jax.ShapeDtypeStruct(q.shape, q.dtype), jax.ShapeDtypeStruct((b, h, lq_pad, 1), _F32)]
    seg_args = [qs, ks] if p.use_seg else []
    if p.schedule == "loop":
        lk_pad = p.nk * p.bk
        grid = (b, h, p.nq)
        in_specs = [_spec(p, p.bq, None, d, lambda b_, h_, i: (b_, h_, i)),
                    _spec(p, lk_pad, None, d, lambda b_, h_, i: (b_, h_ // p.groups, 0)),
                    _spec(p, lk_pad, None, d, lambda b_, h_, i: (b_, h_ // p.groups, 0))]
        if p.use_seg:
            in_specs += _seg_specs(p, p.bq, lk_pad, lambda b_, h_, i: (b_, i), lambda b_, h_, i: (b_, 0))
        out_specs = [_spec(p, p.bq, None, d, lambda b_, h_, i: (b_, h_, i)),
                     _row_spec(p.bq, None, lambda b_, h_, i: (b_, h_, i))]
        kernel, scratch, sem = _fwd_loop_kernel, [], ("parallel",) * 3
    else:
        grid = (b, h, p.nq, p.nk)

        def kv_block(b_, h_, i, j):
            jj = jnp.minimum(j, _last_kv_block(i, p)) if p.causal else j
            return b_, h_ // p.groups, jj

        in_specs = [_spec(p, p.bq, None, d, lambda b_, h_, i, j: (b_, h_, i)),
                    _spec(p, p.bk, None, d, kv_block), _spec(p, p.bk, None, d, kv_block)]
        if p.use_seg:
            in_specs += _seg_specs(p, p.bq, p.bk, lambda b_, h_, i, j: (b_, i),
                                   lambda *g: (kv_block(*g)[0], kv_block(*g)[2]))
        out_specs = [_spec(p, p.bq, None, d, lambda b_, h_, i, j: (b_, h_, i)),
                     _row_spec(p.bq, None, lambda b_, h_, i, j: (b_, h_, i))]
        kernel = _fwd_grid_kernel
        scratch = [_scratch((p.bq, 1), _F32), _scratch((p.bq, 1), _F32), _scratch((p.bq, d), _F32)]
        sem = ("parallel", "parallel", "parallel", "arbitrary")
    return pl.pallas_call(
        functools.partial(kernel, p=p), out_shape=out_shape, grid=grid, in_specs=in_specs,
        out_specs=out_specs, scratch_shapes=scratch, interpret=p.interpret,
        compiler_params=_compiler_params(p, sem), name="flash_fwd",
    )(q, k, v, *seg_args)


def _bwd_call(p: _Plan, q, k, v, qs, ks, do, lse, delta):
    b = q.shape[0]
    h = q.shape[2] if p.seq_major else q.shape[1]
    h_kv = h // p.groups
    lq_pad, lk_pad = p.nq * p.bq, p.nk * p.bk
    d = p.head_dim
    seg_args = [qs, ks] if p.use_seg else []
    g_ = p.groups
    if p.schedule == "loop":
        # dq: one program per (batch, head, query block), loop over key blocks
        in_specs = [_spec(p, p.bq, None, d, lambda b_, h_, i: (b_, h_, i)),
                    _spec(p, lk_pad, None, d, lambda b_, h_, i: (b_, h_ // g_, 0)),
                    _spec(p, lk_pad, None, d, lambda b_, h_, i: (b_, h_ // g_, 0))]
        if p.use_seg:
            in_specs += _seg_specs(p, p.bq, lk_pad, lambda b_, h_, i: (b_, i), lambda b_, h_, i: (b_, 0))
        in_specs += [_spec(p, p.bq, None, d, lambda b_, h_, i: (b_, h_, i)),
                     _row_spec(p.bq, None, lambda b_, h_, i: (b_, h_, i)),
                     _row_spec(p.bq, None, lambda b_, h_, i: (b_, h_, i))]
        dq = pl.pallas_call(
            functools.partial(_dq_loop_kernel, p=p), out_shape=jax.ShapeDtypeStruct(q.shape, q.dtype),
            grid=(b, h, p.nq), in_specs=in_specs,
            out_specs=_spec(p, p.bq, None, d, lambda b_, h_, i: (b_, h_, i)),
            interpret=p.interpret, compiler_params=_compiler_params(p, ("parallel",) * 3), name="flash_dq",
        )(q, k, v, *seg_args, do, lse, delta)
        # dk, dv: one program per (batch, kv head, key block), loop over the group's heads x query blocks
        in_specs = [_spec(p, lq_pad, g_, d, lambda b_, hk, j: (b_, hk, 0)),
                    _spec(p, p.bk, None, d, lambda b_, hk, j: (b_, hk, j)),
                    _spec(p, p.bk, None, d, lambda b_, hk, j: (b_, hk, j))]
        if p.use_seg:
            in_specs += _seg_specs(p, lq_pad, p.bk, lambda b_, hk, j: (b_, 0), lambda b_, hk, j: (b_, j))
        in_specs += [_spec(p, lq_pad, g_, d, lambda b_, hk, j: (b_, hk, 0)),
                     _row_spec(lq_pad, g_, lambda b_, hk, j: (b_, hk, 0)),
                     _row_spec(lq_pad, g_, lambda b_, hk, j: (b_, hk, 0))]
        dk, dv = pl.pallas_call(
            functools.partial(_dkv_loop_kernel, p=p),
            out_shape=[jax.ShapeDtypeStruct(k.shape, k.dtype), jax.ShapeDtypeStruct(v.shape, v.dtype)],
            grid=(b, h_kv, p.nk), in_specs=in_specs,
            out_specs=[_spec(p, p.bk, None, d, lambda b_, hk, j: (b_, hk, j)),
                       _spec(p, p.bk, None, d, lambda b_, hk, j: (b_, hk, j))],
            interpret=p.interpret, compiler_params=_compiler_params(p, ("parallel",) * 3), name="flash_dkv",
        )(q, k, v, *seg_args, do, lse, delta)
        return dq, dk, dv

    # grid schedule: reductions over the last grid axes, accumulators in scratch
    def kv_block(b_, h_, i, j):
        jj = jnp.minimum(j, _last_kv_block(i, p)) if p.causal else j
        return b_, h_ // g_, jj

    q_rows = lambda b_, h_, i, j: (b_, h_, i)  # noqa: E731
    in_specs = [_spec(p, p.bq, None, d, q_rows), _spec(p, p.bk, None, d, kv_block),
                _spec(p, p.bk, None, d, kv_block)]
    if p.use_seg:
        in_specs += _seg_specs(p, p.bq, p.bk, lambda b_, h_, i, j: (b_, i),
                               lambda *g: (kv_block(*g)[0], kv_block(*g)[2]))
    in_specs += [_spec(p, p.bq, None, d, q_rows), _row_spec(p.bq, None, q_rows), _row_spec(p.bq, None, q_rows)]
    dq = pl.pallas_call(
        functools.partial(_dq_grid_kernel, p=p), out_shape=jax.ShapeDtypeStruct(q.shape, q.dtype),
        grid=(b, h, p.nq, p.nk), in_specs=in_specs, out_specs=_spec(p, p.bq, None, d, q_rows),
        scratch_shapes=[_scratch((p.bq, d), _F32)], interpret=p.interpret,
        compiler_params=_compiler_params(p, ("parallel", "parallel", "parallel", "arbitrary")), name="flash_dq",
    )(q, k, v, *seg_args, do, lse, delta)

    def q_block(b_, hk, j, g, i):
        ii = jnp.maximum(i, _first_q_block(j, p)) if p.causal else i
        return b_, hk * g_ + g, ii

    kv_rows = lambda b_, hk, j, g, i: (b_, hk, j)  # noqa: E731
    in_specs = [_spec(p, p.bq, None, d, q_block), _spec(p, p.bk, None, d, kv_rows),
                _spec(p, p.bk, None, d, kv_rows)]
    if p.use_seg:
        in_specs += _seg_specs(p, p.bq, p.bk, lambda *g: (q_block(*g)[0], q_block(*g)[2]),
                               lambda b_, hk, j, g, i: (b_, j))
    in_specs += [_spec(p, p.bq, None, d, q_block), _row_spec(p.bq, None, q_block), _row_spec(p.bq, None, q_block)]
    dk, dv = pl.pallas_call(
        functools.partial(_dkv_grid_kernel, p=p),
        out_shape=[jax.ShapeDtypeStruct(k.shape, k.dtype), jax.ShapeDtypeStruct(v.shape, v.dtype)],
        grid=(b, h_kv, p.nk, g_, p.nq), in_specs=in_specs,
        out_specs=[_spec(p, p.bk, None, d, kv_rows), _spec(p, p.bk, None, d, kv_rows)],
        scratch_shapes=[_scratch((p.bk, d), _F32), _scratch((p.bk, d), _F32)], interpret=p.interpret,
        compiler_params=_compiler_params(p, ("parallel", "parallel", "parallel", "arbitrary", "arbitrary")),
        name="flash_dkv",
    )(q, k, v, *seg_args, do, lse, delta)
    return dq, dk, dv


# ------------------------------------------------- padding / layout glue
def _pad_axis(x, axis: int, size: int, value=0):
    if x.shape[axis] == size:
        return x
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, size - x.shape[axis])
    return jnp.pad(x, widths, constant_values=value)


def _to_kernel(x, p: _Plan, length: int):
    """[b, len, h, d] -> padded kernel layout."""
    x = _pad_axis(_pad_axis(x, 1, length), 3, p.head_dim)
    return x if p.seq_major else x.transpose(0, 2, 1, 3)


def _from_kernel(x, p: _Plan, length: int, head_dim: int):
    x = x if p.seq_major else x.transpose(0, 2, 1, 3)
    return x[:, :length, :, :head_dim]


def _segs(p: _Plan, q_seg, kv_seg):
    if not p.use_seg:
        return None, None
    qs = _pad_axis(q_seg.astype(jnp.int32), 1, p.nq * p.bq)[:, :, None]  # [b, lq_pad, 1]
    ks = _pad_axis(kv_seg.astype(jnp.int32), 1, p.nk * p.bk)[:, None, :]  # [b, 1, lk_pad]
    return qs, ks


def _rows(x, p: _Plan):
    """[b, h, q_len] float32 -> [b, h, lq_pad, 1]."""
    return _pad_axis(x.astype(_F32), 2, p.nq * p.bq)[..., None]


def flash_forward(q, k, v, q_seg=None, kv_seg=None, *, causal: bool, opts: FlashOptions = FlashOptions()):
    """(out [b, q_len, h, d], lse [b, h, q_len] float32) — no custom VJP; building block for ring attention.

    kv_seg defaults to q_seg. lse of a row that saw only masked keys is about MASK_VALUE.
    """
    if q_seg is not None and kv_seg is None:
        kv_seg = q_seg
    p = _plan(q, k, causal=causal, use_seg=q_seg is not None, opts=opts)
    qs, ks = _segs(p, q_seg, kv_seg)
    o, lse = _fwd_call(p, _to_kernel(q, p, p.nq * p.bq), _to_kernel(k, p, p.nk * p.bk),
                       _to_kernel(v, p, p.nk * p.bk), qs, ks)
    return _from_kernel(o, p, p.q_len, q.shape[-1]), lse[:, :, :p.q_len, 0]


def flash_backward(q, k, v, q_seg, kv_seg, do, lse, delta, *, causal: bool, opts: FlashOptions = FlashOptions()):
    """(dq, dk, dv) of one attention call given the final lse [b, h, q_len] and delta = rowsum(o * do).

    lse and delta may come from a larger softmax (ring attention): the gradients are then this
    block's share of the full gradients.
    """
    if q_seg is not None and kv_seg is None:
        kv_seg = q_seg
    p = _plan(q, k, causal=causal, use_seg=q_seg is not None, opts=opts)
    qs, ks = _segs(p, q_seg, kv_seg)
    lq, lk = p.nq * p.bq, p.nk * p.bk
    dq, dk, dv = _bwd_call(p, _to_kernel(q, p, lq), _to_kernel(k, p, lk), _to_kernel(v, p, lk), qs, ks,
                           _to_kernel(do.astype(q.dtype), p, lq), _rows(lse, p), _rows(delta, p))
    d = q.shape[-1]
    return _from_kernel(dq, p, p.q_len, d), _from_kernel(dk, p, p.kv_len, d), _from_kernel(dv, p, p.kv_len, d)


def attention_delta(o: jax.Array, do: jax.Array) -> jax.Array:
    """delta = rowsum(o * do) as [b, h, len] float32 (o, do [b, len, h, d])."""
    return jnp.einsum("blhd,blhd->bhl", o.astype(_F32), do.astype(_F32))


# ------------------------------------------------------------- custom VJP
@functools.partial(jax.custom_vjp, nondiff_argnums=(5, 6))
def _flash(q, k, v, q_seg, kv_seg, causal, opts):
    return flash_forward(q, k, v, q_seg, kv_seg, causal=causal, opts=opts)[0]


def _flash_fwd(q, k, v, q_seg, kv_seg, causal, opts):
    o, lse = flash_forward(q, k, v, q_seg, kv_seg, causal=causal, opts=opts)
    return o, (q, k, v, q_seg, kv_seg, o, lse)


def _flash_bwd(causal, opts, res, do):
    q, k, v, q_seg, kv_seg, o, lse = res
    dq, dk, dv = flash_backward(q, k, v, q_seg, kv_seg, do, lse, attention_delta(o, do), causal=causal, opts=opts)
    return dq, dk, dv, None, None


_flash.defvjp(_flash_fwd, _flash_bwd)


def flash_attention(q: jax.Array, k: jax.Array, v: jax.Array, *, causal: bool,
                    segment_ids: jax.Array | None = None, kv_segment_ids: jax.Array | None = None,
                    block_q: int | None = None, block_k: int | None = None, interpret: Any = None,
                    schedule: str | None = None, layout: str | None = None,
                    mesh: Any = None, batch_axes: Any = None, head_axes: Any = None) -> jax.Array:
    """Pallas flash attention with the reference's contract (see module docstring).

    q [b, q_len, h, d], k/v [b, kv_len, h_kv, d]; segment_ids [b, q_len] (0 = padding),
    kv_segment_ids [b, kv_len] (default: segment_ids). Differentiable (custom VJP).
    With `mesh`, the kernel runs under `jax.shard_map` with batch over `batch_axes` and heads over
    `head_axes` (the sequence stays whole), so a compiled kernel is never all-gathered by XLA.
    """
    if segment_ids is not None and kv_segment_ids is None:
        if q.shape[1] != k.shape[1]:
            raise ValueError("kv_segment_ids is required when q_len != kv_len")
        kv_segment_ids = segment_ids
    opts = FlashOptions(block_q=block_q, block_k=block_k, interpret=interpret, schedule=schedule, layout=layout)
    if mesh is None or (batch_axes is None and head_axes is None):
        return _flash(q, k, v, segment_ids, kv_segment_ids, causal, opts)
    from jax.sharding import PartitionSpec as P

    spec, seg_spec = P(batch_axes, None, head_axes, None), P(batch_axes, None)
    if segment_ids is None:
        fn = lambda q_, k_, v_: _flash(q_, k_, v_, None, None, causal, opts)  # noqa: E731
        return jax.shard_map(fn, mesh=mesh, in_specs=(spec,) * 3, out_specs=spec, check_vma=False)(q, k, v)
    fn = lambda q_, k_, v_, s_, t_: _flash(q_, k_, v_, s_, t_, causal, opts)  # noqa: E731
    return jax.shard_map(fn, mesh=mesh, in_specs=(spec,) * 3 + (seg_spec,) * 2, out_specs=spec,
                         check_vma=False)(q, k, v, segment_ids, kv_segment_ids)


__all__ = ["FlashOptions", "MASK_VALUE", "attention_delta", "flash_attention", "flash_backward", "flash_forward"]
