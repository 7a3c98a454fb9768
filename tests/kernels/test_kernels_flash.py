"""Pallas flash attention against the plain-JAX reference (CPU, interpret mode, float32).

Tolerances (issue 7): forward max abs error <= 2e-5, gradients (dq, dk, dv) <= 1e-4. The default
run checks a representative subset (compiling interpreted kernels costs seconds per shape on
this CPU); `--runslow` runs the full grid of causal x segments x GQA x lengths x head dims x
schedules.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from termforge.kernels import flash_attention, flash_forward, reference_attention
from termforge.kernels.flash import _plan, FlashOptions

FWD_TOL, GRAD_TOL = 2e-5, 1e-4


def make_inputs(batch, q_len, heads, kv_heads, head_dim, segments, *, kv_len=None, seed=0, dtype=jnp.float32):
    kv_len = q_len if kv_len is None else kv_len
    r = np.random.RandomState(seed)
    q = jnp.asarray(r.randn(batch, q_len, heads, head_dim), dtype)
    k = jnp.asarray(r.randn(batch, kv_len, kv_heads, head_dim), dtype)
    v = jnp.asarray(r.randn(batch, kv_len, kv_heads, head_dim), dtype)
    w = jnp.asarray(r.randn(batch, q_len, heads, head_dim), dtype)  # cotangent
    seg = None
    if segments != "none":
        seg = np.ones((batch, q_len), np.int32)
        if segments == "packed":  # several documents per row, different boundaries per row
            seg[0, q_len // 3:] = 2
            seg[0, (3 * q_len) // 4:] = 3
            if batch > 1:
                seg[1, q_len // 2:] = 2
        seg[-1, q_len - max(2, q_len // 6):] = 0  # tail padding (segment 0)
        seg = jnp.asarray(seg)
    return q, k, v, w, seg


def fwd_and_grads(fn, q, k, v, w):
    """One jitted program: output and (dq, dk, dv) for cotangent w."""
    def run(q, k, v):
        out, vjp = jax.vjp(fn, q, k, v)
        return (out, *vjp(w))
    return jax.jit(run)(q, k, v)


def runnable(kernel_kw: dict) -> dict:
    """Compiled kernels exist for (GPU, "loop") and (TPU, "grid"); other pairs run interpreted.

    On CPU everything is interpreted anyway; tools/gpu_check.sh runs this file on a GPU with
    TERMFORGE_PALLAS_INTERPRET=0, where the TPU schedule still gets checked by the interpreter.
    """
    backend = jax.default_backend()
    schedule = kernel_kw.get("schedule") or ("grid" if backend == "tpu" else "loop")
    if (backend, schedule) not in (("gpu", "loop"), ("tpu", "grid")):
        return dict(kernel_kw, interpret=True)
    return kernel_kw


def check(batch, length, heads, kv_heads, head_dim, causal, segments, *, seed=0, **kernel_kw):
    kernel_kw = runnable(kernel_kw)
    q, k, v, w, seg = make_inputs(batch, length, heads, kv_heads, head_dim, segments, seed=seed)
    got = fwd_and_grads(lambda q, k, v: flash_attention(q, k, v, causal=causal, segment_ids=seg, **kernel_kw),
                        q, k, v, w)
    want = fwd_and_grads(lambda q, k, v: reference_attention(q, k, v, causal=causal, segment_ids=seg), q, k, v, w)
    errors = {name: float(jnp.max(jnp.abs(a - b))) for name, a, b in zip(("out", "dq", "dk", "dv"), got, want)}
    assert all(np.isfinite(list(errors.values()))), errors
    assert errors["out"] <= FWD_TOL, errors
    assert max(errors["dq"], errors["dk"], errors["dv"]) <= GRAD_TOL, errors
    return errors


# (batch, length, heads, kv_heads, head_dim, causal, segments, kernel options): odd lengths that are
# not multiples of the blocks, GQA 1/2/4/8, head dims 64/128, both schedules and layouts.
SUBSET = [
    (2, 37, 4, 2, 64, True, "packed", dict(block_q=16, block_k=16)),
    (2, 50, 8, 2, 128, False, "padding", dict(block_q=16, block_k=32)),
    (1, 45, 8, 1, 64, True, "none", dict(block_q=32, block_k=16)),
    (1, 40, 2, 2, 128, True, "padding", dict(block_q=16, block_k=16, schedule="grid", layout="head")),
    (2, 33, 4, 1, 64, False, "packed", dict(block_q=16, block_k=16, schedule="grid", layout="seq")),
]


@pytest.mark.parametrize("batch,length,heads,kv_heads,head_dim,causal,segments,kw", SUBSET)
def test_flash_matches_reference(batch, length, heads, kv_heads, head_dim, causal, segments, kw):
    check(batch, length, heads, kv_heads, head_dim, causal, segments, **kw)


FULL_GRID = list(itertools.product(
    [True, False],  # causal
    ["none", "padding", "packed"],  # segments
    [1, 2, 4, 8],  # GQA ratio
    [37, 100],  # lengths, not multiples of the blocks
    [64, 128],  # head_dim
    ["loop/seq", "grid/head"],  # schedule/layout
))


@pytest.mark.slow
@pytest.mark.parametrize("causal,segments,groups,length,head_dim,sched", FULL_GRID)
def test_flash_full_grid(causal, segments, groups, length, head_dim, sched):
    schedule, layout = sched.split("/")
    check(2, length, 2 * groups, 2, head_dim, causal, segments, block_q=32, block_k=16,
          schedule=schedule, layout=layout)


def test_decode_shape_with_kv_segment_ids():
    """q_len != kv_len (one decoding step against a KV cache): kv_segment_ids mask empty slots."""
    r = np.random.RandomState(3)
    q = jnp.asarray(r.randn(2, 1, 4, 16), jnp.float32)
    k = jnp.asarray(r.randn(2, 24, 2, 16), jnp.float32)
    v = jnp.asarray(r.randn(2, 24, 2, 16), jnp.float32)
    q_seg = jnp.ones((2, 1), jnp.int32)
    kv_seg = jnp.asarray(np.r_[np.ones(10), np.zeros(14)][None].repeat(2, 0).astype(np.int32))
    got = jax.jit(lambda q, k, v: flash_attention(q, k, v, causal=False, segment_ids=q_seg, kv_segment_ids=kv_seg,
                                                  block_k=16))(q, k, v)
    want = reference_attention(q, k, v, causal=False, segment_ids=q_seg, kv_segment_ids=kv_seg)
    assert float(jnp.max(jnp.abs(got - want))) <= FWD_TOL


def test_lse_is_the_row_logsumexp():
    """flash_forward's lse (what ring attention merges by) is the masked row logsumexp.

    flash_backward with an lse/delta from a larger softmax is exercised by the ring tests.
    """
    q, k, v, w, seg = make_inputs(1, 24, 2, 1, 16, "packed", seed=5)
    opts = FlashOptions(block_q=16, block_k=16)
    out, lse = jax.jit(lambda q, k, v: flash_forward(q, k, v, seg, causal=True, opts=opts))(q, k, v)

    @jax.jit
    def dense_lse(q, k):
        scores = jnp.einsum("blhd,bshd->bhls", q, jnp.repeat(k, 2, axis=2)) * 16 ** -0.5
        mask = (jnp.tril(jnp.ones((24, 24), bool))[None] & (seg[:, :, None] == seg[:, None, :]))[:, None]
        return jax.nn.logsumexp(jnp.where(mask, scores, -jnp.inf), axis=-1)

    assert float(jnp.max(jnp.abs(lse - dense_lse(q, k)))) < 1e-5
    assert float(jnp.max(jnp.abs(out - reference_attention(q, k, v, causal=True, segment_ids=seg)))) <= FWD_TOL


def test_bfloat16_runs_close_to_float32_reference():
    q, k, v, w, seg = make_inputs(1, 40, 4, 2, 64, "packed", seed=7)
    fn = jax.jit(lambda q, k, v: flash_attention(q, k, v, causal=True, segment_ids=seg, block_q=16, block_k=16))
    got = fn(q.astype(jnp.bfloat16), k.astype(jnp.bfloat16), v.astype(jnp.bfloat16))
    assert got.dtype == jnp.bfloat16
    want = reference_attention(q, k, v, causal=True, segment_ids=seg)
    assert float(jnp.max(jnp.abs(got.astype(jnp.float32) - want))) < 3e-2


def test_plan_defaults_blocks_padding_and_interpret():
    q = jnp.zeros((1, 300, 8, 96))
    k = jnp.zeros((1, 300, 2, 96))
    p = _plan(q, k, causal=True, use_seg=False, opts=FlashOptions())
    block = 64 if jax.default_backend() == "gpu" else 128
    assert (p.bq, p.bk, p.nq, p.nk, p.groups) == (block, block, -(-300 // block), -(-300 // block), 4)
    assert p.head_dim == 128  # 96 zero-padded to a power of two for Triton
    assert p.kv_padded
    if jax.default_backend() == "cpu":
        assert p.interpret is True  # CPU -> interpret mode
    small = _plan(q[:, :5], k[:, :5], causal=False, use_seg=True, opts=FlashOptions(block_q=64))
    assert (small.bq, small.bk, small.nq) == (16, 16, 1)  # never a tile larger than the padded sequence
    assert _plan(q, k, causal=True, use_seg=False, opts=FlashOptions(interpret=False)).interpret is False
    with pytest.raises(ValueError, match="powers of two"):
        _plan(q, k, causal=True, use_seg=False, opts=FlashOptions(block_q=48))
    with pytest.raises(ValueError, match="multiple of kv_heads"):
        _plan(jnp.zeros((1, 8, 3, 16)), jnp.zeros((1, 8, 2, 16)), causal=True, use_seg=False, opts=FlashOptions())


def test_causal_block_skipping_bounds():
    """Key blocks past the diagonal are never visited; blocks fully below it skip the mask."""
    from termforge.kernels.flash import _kv_bounds, _q_bounds

    p = _plan(jnp.zeros((1, 128, 1, 16)), jnp.zeros((1, 128, 1, 16)), causal=True, use_seg=False,
              opts=FlashOptions(block_q=32, block_k=16))
    for i in range(p.nq):  # query rows [32i, 32i+31]
        lo, hi = (int(x) for x in _kv_bounds(jnp.int32(i), p))
        assert hi == (32 * i + 31) // 16 + 1  # last visited key block holds key 32i+31
        assert lo == (32 * i + 1) // 16  # blocks < lo end at or before query 32i
    for j in range(p.nk):  # keys [16j, 16j+15]
        lo, full = (int(x) for x in _q_bounds(jnp.int32(j), p))
        assert lo == (16 * j) // 32 and full == min(-(-(16 * j + 15) // 32), p.nq)


def test_reference_matches_jaxtrain_reference():
    """kernels.reference_attention repeats jaxtrain's reference math (kernels may not import jaxtrain)."""
    from termforge.jaxtrain.attention import reference_attention as model_reference

    q, k, v, _, seg = make_inputs(2, 20, 4, 2, 16, "packed", seed=1)
    for causal in (True, False):
        a = reference_attention(q, k, v, causal=causal, segment_ids=seg)
        b = model_reference(q, k, v, causal=causal, segment_ids=seg)
        assert float(jnp.max(jnp.abs(a - b))) == 0.0
