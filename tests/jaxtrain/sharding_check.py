"""Run in a subprocess with 8 fake CPU devices (see test_sharding.py); prints JSON results."""

import os

os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
os.environ["JAX_PLATFORMS"] = "cpu"

import json  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from flax import nnx  # noqa: E402

from termforge.jaxtrain import sharding  # noqa: E402
from termforge.jaxtrain.config import load_config  # noqa: E402
from termforge.jaxtrain.model import Qwen3ForCausalLM  # noqa: E402

cfg = load_config("qwen3-tiny", tie_word_embeddings=False)
mesh = sharding.make_mesh({"data": 1, "fsdp": 4, "tensor": 2, "context": 1})
rules = [["batch", ["data", "fsdp"]], ["length", "context"], ["embed", "fsdp"], ["heads", "tensor"],
         ["kv_heads", "tensor"], ["head_dim", None], ["mlp", "tensor"], ["vocab", "tensor"], ["norm", None],
         ["act_embed", None]]
model = sharding.create_sharded(lambda: Qwen3ForCausalLM(cfg, rngs=nnx.Rngs(0)), mesh, rules)
reference = Qwen3ForCausalLM(cfg, rngs=nnx.Rngs(0))  # same seed, unsharded (eager: equal up to float rounding)
same_values = all(np.allclose(np.asarray(a), np.asarray(b), atol=1e-6) for a, b in zip(
    jax.tree.leaves(nnx.state(model, nnx.Param)), jax.tree.leaves(nnx.state(reference, nnx.Param))))
ids = jnp.asarray(np.random.RandomState(0).randint(0, cfg.vocab_size, (8, 16)))


@jax.jit
def fwd(m, x):
    with sharding.use_rules(mesh, rules):
        return m(x)


logits = fwd(model, ids)
print(json.dumps({
    "n_devices": len(jax.devices()),
    "params": sharding.describe(model),
    "same_values": same_values,
    "max_diff": float(jnp.abs(logits - reference(ids)).max()),
    "logits_spec": str(logits.sharding.spec),
}))
