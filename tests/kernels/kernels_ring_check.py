"""Ring attention on 8 fake CPU devices, run in a subprocess (XLA_FLAGS must precede `import jax`).

    python kernels_ring_check.py '[{"kind": "attn", "n": 4, ...}, {"kind": "model", ...}]'

Prints one JSON line: a list of {"case": ..., "errors": {...}} (max abs errors against the
single-device reference) in the order of the cases.
"""

import os

os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
os.environ["JAX_PLATFORMS"] = "cpu"

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.sharding import Mesh  # noqa: E402

from termforge.kernels import (from_zigzag, positions_from_segments, reference_attention,  # noqa: E402
                               ring_attention, to_zigzag)


def _segments(kind: str, batch: int, length: int) -> np.ndarray | None:
    if kind == "none":
        return None
    seg = np.ones((batch, length), np.int32)
    if kind == "packed":  # three documents in row 0, two in row 1, tail padding in the last row
        seg[0, length // 3:] = 2
        seg[0, (2 * length) // 3:] = 3
        seg[-1, length // 2:] = 2
    seg[-1, length - max(3, length // 8):] = 0  # padding (segment 0)
    return seg


def attn_case(c: dict) -> dict:
    n, length, groups, head_dim = c["n"], c["length"], c.get("groups", 2), c.get("head_dim", 16)
    batch, kv_heads = 2, 2
    mesh = Mesh(np.array(jax.devices()[:n]).reshape(n), ("context",))
    r = np.random.RandomState(c.get("seed", 0))
    q, k, v = (jnp.asarray(r.randn(batch, length, h, head_dim), jnp.float32)
               for h in (kv_heads * groups, kv_heads, kv_heads))
    w = jnp.asarray(r.randn(batch, length, kv_heads * groups, head_dim), jnp.float32)
    seg = _segments(c["segments"], batch, length)
    seg = None if seg is None else jnp.asarray(seg)
    causal, layout = c["causal"], c.get("layout", "natural")
    kw = dict(mesh=mesh, causal=causal, impl=c.get("impl", "flash"), block_q=c.get("block", 16),
              block_k=c.get("block", 16))

    def ring(q, k, v):
        if layout == "zigzag":  # the caller holds zigzag-ordered data
            zq, zk, zv = (to_zigzag(x, n) for x in (q, k, v))
            zs = None if seg is None else to_zigzag(seg, n)
            return from_zigzag(ring_attention(zq, zk, zv, segment_ids=zs, layout="zigzag", **kw), n)
        return ring_attention(q, k, v, segment_ids=seg, load_balance=layout != "contiguous", **kw)

    def ref(q, k, v):
        return reference_attention(q, k, v, causal=causal, segment_ids=seg)

    def fwd_bwd(f):
        def g(q, k, v):
            out, vjp = jax.vjp(f, q, k, v)
            return (out, *vjp(w))
        return g

    got = jax.jit(fwd_bwd(ring))(q, k, v)
    want = jax.jit(fwd_bwd(ref))(q, k, v)
    names = ("out", "dq", "dk", "dv")
    return {name: float(jnp.max(jnp.abs(a - b))) for name, a, b in zip(names, got, want)}


def model_case(c: dict) -> dict:
    import optax
    from flax import nnx

    from termforge.jaxtrain import sharding
    from termforge.jaxtrain.config import load_config
    from termforge.jaxtrain.model import Qwen3ForCausalLM

    impl, mesh_shape = c["impl"], c["mesh"]
    length, batch = c.get("length", 64), 2
    cfg = load_config("qwen3-tiny")
    mesh = sharding.make_mesh(mesh_shape)
    n = mesh_shape.get("context", 1)
    rules = sharding.DEFAULT_RULES
    r = np.random.RandomState(0)
    ids = r.randint(1, cfg.vocab_size, (batch, length)).astype(np.int32)
    seg = _segments("packed", batch, length)
    pos = np.asarray(positions_from_segments(jnp.asarray(seg)))  # natural order, restart per document
    targets = np.concatenate([ids[:, 1:], np.zeros((batch, 1), np.int32)], axis=1)
    next_seg = np.concatenate([seg[:, 1:], np.zeros((batch, 1), np.int32)], axis=1)
    weights = ((seg > 0) & (next_seg == seg)).astype(np.float32)
    data = dict(ids=ids, pos=pos, seg=seg, targets=targets, weights=weights)
    if impl == "ring_zigzag":  # the data pipeline stores the batch in zigzag order
        data = {key: np.asarray(to_zigzag(jnp.asarray(x), n)) for key, x in data.items()}
    data = {key: jnp.asarray(x) for key, x in data.items()}

    def loss_fn(model, d):
        logits = model(d["ids"], d["pos"], d["seg"])
        ce = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), d["targets"])
        return jnp.sum(ce * d["weights"]) / jnp.sum(d["weights"])

    ref_model = Qwen3ForCausalLM(cfg.replace(attention_impl="reference"), rngs=nnx.Rngs(0))
    ref_data = {key: jnp.asarray(x) for key, x in dict(ids=ids, pos=pos, seg=seg, targets=targets,
                                                          weights=weights).items()}
    ref_loss, ref_grads = nnx.jit(lambda m, d: nnx.value_and_grad(loss_fn)(m, d))(ref_model, ref_data)

    # the same weights under attention_impl=impl, placed on the mesh by the logical-axis rules
    graphdef, _ = nnx.split(nnx.eval_shape(lambda: Qwen3ForCausalLM(cfg.replace(attention_impl=impl),
                                                                     rngs=nnx.Rngs(0))))
    model = sharding.shard_model(nnx.merge(graphdef, nnx.state(ref_model)), mesh, rules)

    import termforge.kernels as kernels

    calls = []
    real_ring = kernels.ring_attention

    def counting_ring(*args, **kwargs):  # proves the model really went through the ring
        calls.append(kwargs.get("layout"))
        return real_ring(*args, **kwargs)

    kernels.ring_attention = counting_ring

    @nnx.jit
    def step(m, d):
        with sharding.use_rules(mesh, rules):
            return nnx.value_and_grad(loss_fn)(m, d)

    try:
        loss, grads = step(model, data)
    finally:
        kernels.ring_attention = real_ring
    g_err = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(
        jax.tree.leaves(nnx.state(grads)), jax.tree.leaves(nnx.state(ref_grads))))
    return {"loss": abs(float(loss) - float(ref_loss)), "grads": g_err, "loss_value": float(ref_loss),
            "grad_scale": max(float(jnp.max(jnp.abs(g))) for g in jax.tree.leaves(nnx.state(ref_grads))),
            "ring_calls": len(calls), "layouts": sorted(set(calls))}


def main() -> None:
    cases = json.loads(sys.argv[1])
    results = []
    for c in cases:
        t0 = time.time()
        errors = attn_case(c) if c["kind"] == "attn" else model_case(c)
        results.append({"case": c, "errors": errors, "seconds": round(time.time() - t0, 1)})
        print(f"# {c} -> {errors} ({time.time() - t0:.1f}s)", file=sys.stderr, flush=True)
    print(json.dumps({"n_devices": len(jax.devices()), "results": results}))


if __name__ == "__main__":
    main()
