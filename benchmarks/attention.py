"""Attention memory and speed: reference (XLA) vs Pallas flash vs ring attention.

    .venv/bin/python benchmarks/attention.py                 # CPU: memory table + small-L timing
    .venv/bin/python benchmarks/attention.py --gpu           # GPU: TFLOP/s vs cuDNN (tools/gpu_check.sh)
    .venv/bin/python benchmarks/attention.py --lengths 2048,8192 --skip-timing

Memory: the compiled program of one forward+backward (grad of sum(attention(q, k, v)) w.r.t.
q, k, v; causal, bfloat16, batch 1, 8 query heads, 2 KV heads, head_dim 128) is asked for its
peak temporary memory per device (`jax.jit(f).lower(...).compile().memory_analysis()`); nothing
is run, so 32k fits on a laptop. N is the size of the mesh's context axis (8 fake CPU devices);
"reference" at N > 1 is XLA's own SPMD partitioning of the einsum attention with the sequence
sharded over N, flash is one device (N = 1), ring shards the sequence over N (zigzag).
Expected: reference grows as L^2 (and L^2/N), flash as L, ring as L/N.

Timing (CPU, small L): forward+backward seconds per call after compilation, as a ratio to the
reference. On CPU the Pallas kernels run in interpret mode (an emulator: a while loop over the
grid), so these ratios measure correctness plumbing, not kernel speed; --gpu measures speed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

if "--gpu" not in sys.argv:  # 8 fake CPU devices for the ring; must precede `import jax`
    os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P  # noqa: E402

from termforge.kernels import flash_attention, reference_attention, ring_attention  # noqa: E402

MiB = 1 << 20


def _loss(attn):
    def f(q, k, v):
        return jnp.sum(attn(q, k, v).astype(jnp.float32))
    return jax.value_and_grad(f, argnums=(0, 1, 2))


def _impl(name: str, mesh: Mesh | None, causal: bool = True, **kw):
    if name == "reference":
        return lambda q, k, v: reference_attention(q, k, v, causal=causal)
    if name == "flash":
        return lambda q, k, v: flash_attention(q, k, v, causal=causal, **kw)
    if name.startswith("ring"):
        return lambda q, k, v: ring_attention(q, k, v, mesh=mesh, causal=causal, **kw)
    if name == "cudnn":
        return lambda q, k, v: jax.nn.dot_product_attention(q, k, v, is_causal=causal, implementation="cudnn")
    raise ValueError(name)


def _args(shape_q, shape_kv, dtype, mesh: Mesh | None):
    sh = None if mesh is None else NamedSharding(mesh, P(None, "context"))
    return [jax.ShapeDtypeStruct(s, dtype, sharding=sh) for s in (shape_q, shape_kv, shape_kv)]


def temp_mib(name, length, n, *, heads=8, kv_heads=2, head_dim=128, dtype=jnp.bfloat16) -> float:
    mesh = Mesh(np.array(jax.devices()[:n]), ("context",)) if (n > 1 or name.startswith("ring")) else None
    fn = _loss(_impl(name, mesh))
    args = _args((1, length, heads, head_dim), (1, length, kv_heads, head_dim), dtype, mesh)
    compiled = jax.jit(fn).lower(*args).compile()
    return compiled.memory_analysis().temp_size_in_bytes / MiB


def memory_table(lengths, ns):
    print(f"\n# Peak temporary memory per device, forward+backward, causal bf16, b=1 h=8 h_kv=2 d=128 "
          f"({jax.default_backend()}, MiB)")
    ns = [n for n in ns if n <= len(jax.devices())]
    header = f"{'L':>6} {'N':>2} {'reference':>12} {'flash':>10} {'ring':>10}  ring*N/L (KiB per token)"
    print(header)
    print("-" * len(header))
    for length in lengths:
        flash = temp_mib("flash", length, 1)
        for n in ns:
            ref = temp_mib("reference", length, n)
            ring = temp_mib("ring", length, n)
            print(f"{length:>6} {n:>2} {ref:>12.1f} {(f'{flash:.1f}' if n == 1 else '-'):>10} {ring:>10.1f}"
                  f"  {ring * 1024 * n / length:8.1f}", flush=True)


def _time(fn, args, steps: int) -> float:
    out = fn(*args)
    jax.block_until_ready(out)  # compile + warm-up
    best = float("inf")
    for _ in range(steps):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t)
    return best


def _inputs(length, heads, kv_heads, head_dim, dtype, seed=0):
    r = np.random.RandomState(seed)
    return [jnp.asarray(r.randn(1, length, h, head_dim), dtype) for h in (heads, kv_heads, kv_heads)]


def cpu_timing(lengths, steps):
    print("\n# Forward+backward time on CPU (best of %d), causal float32, b=1 h=4 h_kv=2 d=64; "
          "Pallas in interpret mode" % steps)
    header = f"{'L':>6} {'reference s':>12} {'flash':>8} {'ring N=4':>9} {'ring N=4 xla':>13}   (ratios to reference)"
    print(header)
    print("-" * len(header))
    mesh = Mesh(np.array(jax.devices()[:4]), ("context",))
    for length in lengths:
        args = _inputs(length, 4, 2, 64, jnp.float32)
        t_ref = _time(jax.jit(_loss(_impl("reference", None))), args, steps)
        t_flash = _time(jax.jit(_loss(_impl("flash", None))), args, steps)
        t_ring = _time(jax.jit(_loss(_impl("ring", mesh))), args, steps)
        t_ring_xla = _time(jax.jit(_loss(_impl("ring", mesh, impl="xla"))), args, steps)
        print(f"{length:>6} {t_ref:>12.4f} {t_flash / t_ref:>8.2f} {t_ring / t_ref:>9.2f} {t_ring_xla / t_ref:>13.2f}",
              flush=True)


def gpu_speed(lengths, steps, *, heads=32, kv_heads=8, head_dim=128, block_q=None, block_k=None):
    """TFLOP/s of forward and forward+backward: Pallas flash (Triton) vs cuDNN vs XLA reference."""
    print(f"\n# {jax.devices()[0].device_kind}: causal bf16 attention, b=1 h={heads} h_kv={kv_heads} d={head_dim}, "
          f"TFLOP/s (best of {steps}; fwd FLOPs = 2 * 2*b*h*L^2*d / 2 causal, fwd+bwd = 3.5 x fwd);\n"
          f"# vs cudnn = cuDNN f+b time / this f+b time; max err = |out - cuDNN out| (else vs reference)")
    header = (f"{'L':>6} {'impl':>10} {'fwd ms':>9} {'fwd TF/s':>9} {'f+b ms':>9} {'f+b TF/s':>9} "
              f"{'vs cudnn':>9} {'max err':>9}")
    print(header)
    print("-" * len(header))
    kw = {k: v for k, v in dict(block_q=block_q, block_k=block_k).items() if v is not None}
    for length in lengths:
        q, k, v = _inputs(length, heads, kv_heads, head_dim, jnp.bfloat16)
        fwd_flops = 4.0 * heads * length * length * head_dim / 2
        results = {}
        for name in ("cudnn", "flash", "reference"):
            if name == "reference" and length > 8192:  # the L x L scores alone would not fit
                continue
            attn = _impl(name, None, **(kw if name == "flash" else {}))
            try:
                fwd = jax.jit(attn)
                out = fwd(q, k, v)
                t_f = _time(fwd, (q, k, v), steps)
                t_fb = _time(jax.jit(_loss(attn)), (q, k, v), steps)
            except Exception as exc:  # noqa: BLE001 - report and go on (e.g. cuDNN missing)
                print(f"{length:>6} {name:>10}  failed: {type(exc).__name__}: {str(exc).splitlines()[0][:80]}")
                continue
            results[name] = (t_f, t_fb, out)
        base = results.get("cudnn")
        ref_out = (results.get("cudnn") or results.get("reference") or (None, None, None))[2]
        for name, (t_f, t_fb, out) in results.items():
            err = (float(jnp.max(jnp.abs(out.astype(jnp.float32) - ref_out.astype(jnp.float32))))
                   if ref_out is not None else float("nan"))
            ratio = (base[1] / t_fb) if base else float("nan")  # > 1: faster than cuDNN (fwd+bwd)
            print(f"{length:>6} {name:>10} {t_f * 1e3:>9.2f} {fwd_flops / t_f / 1e12:>9.1f} {t_fb * 1e3:>9.2f} "
                  f"{3.5 * fwd_flops / t_fb / 1e12:>9.1f} {ratio:>9.2f} {err:>9.3g}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", default="2048,8192,32768", help="sequence lengths for the memory table / GPU speed")
    ap.add_argument("--ns", default="1,2,4,8", help="context-axis sizes for the memory table")
    ap.add_argument("--timing-lengths", default="256,512", help="CPU timing lengths (interpret mode is slow)")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-timing", action="store_true")
    ap.add_argument("--gpu", action="store_true", help="compiled kernels on the GPU: TFLOP/s vs cuDNN")
    ap.add_argument("--block-q", type=int)
    ap.add_argument("--block-k", type=int)
    args = ap.parse_args()
    lengths = [int(x) for x in args.lengths.split(",") if x]
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, {len(jax.devices())} devices")
    if not args.skip_memory:
        memory_table(lengths, [int(x) for x in args.ns.split(",") if x])
    if args.gpu:
        if jax.default_backend() != "gpu":
            sys.exit("--gpu needs a GPU backend")
        gpu_speed(lengths, args.steps, block_q=args.block_q, block_k=args.block_k)
    elif not args.skip_timing:
        cpu_timing([int(x) for x in args.timing_lengths.split(",") if x], args.steps)


if __name__ == "__main__":
    main()
