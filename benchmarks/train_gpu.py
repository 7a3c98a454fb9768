"""Training-step throughput and MFU of the Qwen3 port on one accelerator, per attention kernel.

    python benchmarks/train_gpu.py --model qwen3-0.6b --seq-len 4096 --batch 4 --impls reference,flash
    python benchmarks/train_gpu.py --model qwen3-tiny --seq-len 256 --batch 2 --steps 2   # CPU smoke run

One jitted SFT step (`termforge.jaxtrain.train.make_train_step`: forward, token-weighted cross
entropy, backward, AdamW with donated model and optimizer) on random tokens: every row one
segment of `--seq-len` tokens, every target weighted. Parameters in `--param-dtype`, compute in
bfloat16, optimizer state float32-like (optax's adamw follows the parameters). For each attention
implementation the first step (compilation) is excluded, then `--steps` steps are timed with the
loss fetched each step.

MFU = model FLOPs (termforge.jaxtrain.metrics.step_flops: 6·N·tokens + causal attention) / (step
seconds · peak dense bf16 FLOP/s of the device, PEAK_FLOPS). The last line prints each kernel's
tokens/s as a ratio to the first implementation in --impls, measured in this same process.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def run_one(model_name: str, impl: str, *, seq_len: int, batch: int, steps: int, remat: str, param_dtype: str,
            overrides: dict, init: str = "eager") -> dict:
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    from termforge.jaxtrain.config import load_config
    from termforge.jaxtrain.metrics import peak_flops_per_device, step_flops
    from termforge.jaxtrain.model import Qwen3ForCausalLM, count_params
    from termforge.jaxtrain.sharding import DEFAULT_RULES, create_sharded, make_mesh, state_shardings
    from termforge.jaxtrain.train import make_train_step

    cfg = load_config(model_name).replace(param_dtype=param_dtype, dtype="bfloat16", attention_impl=impl,
                                          remat=remat == "full", **overrides)
    mesh = make_mesh({"data": 1, "fsdp": jax.device_count(), "tensor": 1, "context": 1})
    t0 = time.perf_counter()
    if init == "sharded":  # the trainer's way: one jitted constructor with out_shardings
        model = create_sharded(lambda: Qwen3ForCausalLM(cfg, rngs=nnx.Rngs(0)), mesh, DEFAULT_RULES)
    else:  # op by op on the default device (one device only)
        model = Qwen3ForCausalLM(cfg, rngs=nnx.Rngs(0))
    jax.block_until_ready(nnx.state(model))
    init_s = time.perf_counter() - t0
    opt = nnx.Optimizer(model, optax.adamw(1e-5), wrt=nnx.Param)
    nnx.update(opt, jax.device_put(nnx.state(opt), state_shardings(nnx.state(opt), mesh, DEFAULT_RULES)))
    step = make_train_step(grad_accum=1, remat=remat, schedule=lambda s: jnp.float32(1e-5), mesh=mesh,
                           rules=DEFAULT_RULES)

    rng = jax.random.key(1)
    tokens = jax.random.randint(rng, (batch, seq_len + 1), 0, cfg.vocab_size, dtype=jnp.int32)  # [batch, seq+1]
    positions = jnp.broadcast_to(jnp.arange(seq_len, dtype=jnp.int32), (batch, seq_len))  # [batch, seq]
    data = {"inputs": tokens[:, :-1], "targets": tokens[:, 1:], "positions": positions,
            "segment_ids": jnp.ones((batch, seq_len), jnp.int32), "weights": jnp.ones((batch, seq_len), jnp.float32)}

    t0 = time.perf_counter()
    first = step(model, opt, data)
    first_loss = float(first["loss"])
    compile_s = time.perf_counter() - t0
    float(step(model, opt, data)["loss"])  # a second warm-up step: any re-layout of donated state settles
    times, losses = [], []
    for _ in range(steps):
        t0 = time.perf_counter()
        out = step(model, opt, data)
        losses.append(float(out["loss"]))  # fetching the loss waits for the step
        times.append(time.perf_counter() - t0)
    print(f"# {impl} step times: {[round(t, 4) for t in times]}", file=sys.stderr, flush=True)
    times.sort()
    step_s = times[len(times) // 2]
    n_tok = batch * seq_len
    flops = step_flops(cfg, n_tok, float(batch * seq_len * seq_len))
    peak = peak_flops_per_device(jax.devices()[0].device_kind) * jax.device_count()
    mem = {}
    try:
        stats = jax.devices()[0].memory_stats() or {}
        mem = {"peak_bytes_in_use_gib": round(stats.get("peak_bytes_in_use", 0) / 2**30, 2)}
    except Exception:  # noqa: BLE001 - not every backend reports memory
        pass
    return {"model": model_name, "impl": impl, "params": count_params(model), "seq_len": seq_len, "batch": batch,
            "remat": remat, "param_dtype": param_dtype, "init": init, "init_s": round(init_s, 2), "compile_s": round(compile_s, 2),
            "step_s_median": round(step_s, 4), "tokens_per_s": round(n_tok / step_s, 1),
            "tflops_per_s": round(flops / step_s / 1e12, 2), "mfu": round(flops / step_s / peak, 4),
            "loss_first": round(first_loss, 4), "loss_last": round(losses[-1], 4), **mem,
            "device": jax.devices()[0].device_kind}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen3-0.6b")
    ap.add_argument("--seq-len", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--impls", default="reference,flash")
    ap.add_argument("--remat", default="full", choices=["none", "full", "dots", "dots_no_batch"])
    ap.add_argument("--param-dtype", default="float32")
    ap.add_argument("--init", default="eager", choices=["eager", "sharded"],
                    help="eager: build the model op by op (one device); sharded: the trainer's jitted create_sharded")
    ap.add_argument("--layers", type=int, default=None, help="override num_hidden_layers")
    args = ap.parse_args(argv)
    overrides = {"num_hidden_layers": args.layers} if args.layers else {}
    results = []
    for impl in args.impls.split(","):
        try:
            r = run_one(args.model, impl, seq_len=args.seq_len, batch=args.batch, steps=args.steps,
                        remat=args.remat, param_dtype=args.param_dtype, overrides=overrides,
                        init=args.init)
        except Exception as exc:  # noqa: BLE001 - report and go on with the next kernel
            r = {"model": args.model, "impl": impl, "error": f"{type(exc).__name__}: {str(exc)[:500]}"}
        print(json.dumps(r), flush=True)
        results.append(r)
    ok = [r for r in results if "error" not in r]
    if len(ok) >= 2:
        base = ok[0]
        print("ratios (tokens/s vs " + base["impl"] + "): "
              + ", ".join(f"{r['impl']} {r['tokens_per_s'] / base['tokens_per_s']:.2f}x" for r in ok[1:]), flush=True)
    return 0 if len(ok) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
