"""Flax NNX Qwen3 vs transformers (PyTorch) on CPU: forward+backward and decode tokens/s.

    .venv/bin/python benchmarks/model.py [--steps 3] [--only tiny|small]

Both models get the same weights (the Flax one is imported from the saved transformers model).
Training: one jitted loss+grad step vs torch forward + backward (no optimizer in either).
Decode: greedy generation with a KV cache, batch 1, prompt 16, excluding compilation/warm-up.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

CONFIGS = {
    # name: (hidden, layers, heads, kv_heads, head_dim, intermediate, vocab, tied), batch, seq, new_tokens
    "tiny": ((64, 2, 4, 2, 16, 128, 2048, True), 8, 128, 64),
    "small": ((512, 12, 8, 4, 64, 1536, 16384, True), 2, 128, 32),  # ~46M parameters
}


def _hf_model(dims):
    import torch
    import transformers

    hidden, layers, heads, kv, hd, inter, vocab, tied = dims
    cfg = transformers.Qwen3Config(vocab_size=vocab, hidden_size=hidden, intermediate_size=inter,
                                   num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv,
                                   head_dim=hd, tie_word_embeddings=tied, max_position_embeddings=4096,
                                   pad_token_id=0, eos_token_id=None)
    torch.manual_seed(0)
    return transformers.Qwen3ForCausalLM(cfg).eval()


def _time(fn, steps):
    fn()  # warm-up / compile
    fn()
    t = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - t) / steps


def bench(name, steps):
    import jax
    import jax.numpy as jnp
    import optax
    import torch
    from flax import nnx

    from termforge.jaxtrain import hf, sampler
    from termforge.jaxtrain.model import count_params

    dims, batch, seq, new_tokens = CONFIGS[name]
    tm = _hf_model(dims)
    with tempfile.TemporaryDirectory() as d:
        tm.save_pretrained(d)
        fm = hf.from_pretrained(d)
    n_params = count_params(fm)
    ids = np.random.RandomState(0).randint(1, dims[6], (batch, seq + 1))
    x, y = ids[:, :-1], ids[:, 1:]

    graphdef, params, rest = nnx.split(fm, nnx.Param, ...)

    @jax.jit
    def train_step(params, x, y):
        def loss_fn(p):
            logits = nnx.merge(graphdef, p, rest)(x)
            return optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), y).mean()
        return jax.value_and_grad(loss_fn)(params)

    jx, jy = jnp.asarray(x), jnp.asarray(y)
    flax_step = _time(lambda: jax.block_until_ready(train_step(params, jx, jy)), steps)

    tm.train()
    tx, ty = torch.tensor(x), torch.tensor(y)

    def torch_step():
        tm.zero_grad(set_to_none=True)
        logits = tm(tx).logits
        loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), ty.reshape(-1))
        loss.backward()

    torch_step_t = _time(torch_step, steps)
    tm.eval()

    prompt = ids[:1, :16].tolist()
    flax_dec = _time(lambda: sampler.generate(fm, prompt, new_tokens, eos_ids=[]), max(1, steps // 2))

    def torch_dec():
        with torch.no_grad():
            tm.generate(torch.tensor(prompt), attention_mask=torch.ones(1, 16, dtype=torch.long),
                        max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, pad_token_id=0)

    torch_dec_t = _time(torch_dec, max(1, steps // 2))
    toks = batch * seq
    row = {
        "config": name, "params_M": n_params / 1e6, "batch x seq": f"{batch}x{seq}",
        "train_flax_tok_s": toks / flax_step, "train_torch_tok_s": toks / torch_step_t,
        "decode_flax_tok_s": new_tokens / flax_dec, "decode_torch_tok_s": new_tokens / torch_dec_t,
    }
    row["train_ratio"] = row["train_flax_tok_s"] / row["train_torch_tok_s"]
    row["decode_ratio"] = row["decode_flax_tok_s"] / row["decode_torch_tok_s"]
    return row


def main():
    import jax
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--only", choices=sorted(CONFIGS))
    args = ap.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].platform} ({jax.device_count()} devices), "
          f"torch {torch.__version__} threads={torch.get_num_threads()}")
    print(f"{'config':7} {'params':>8} {'batch':>7} | {'train tok/s flax':>16} {'torch':>9} {'ratio':>6} | "
          f"{'decode tok/s flax':>17} {'torch':>8} {'ratio':>6}")
    for name in ([args.only] if args.only else CONFIGS):
        r = bench(name, args.steps)
        print(f"{r['config']:7} {r['params_M']:7.1f}M {r['batch x seq']:>7} | {r['train_flax_tok_s']:16.0f} "
              f"{r['train_torch_tok_s']:9.0f} {r['train_ratio']:5.2f}x | {r['decode_flax_tok_s']:17.1f} "
              f"{r['decode_torch_tok_s']:8.1f} {r['decode_ratio']:5.2f}x", flush=True)


if __name__ == "__main__":
    main()
