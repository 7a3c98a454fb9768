"""The Qwen3 family in Flax NNX, numerically matching Hugging Face `Qwen3ForCausalLM`.

    model = Qwen3ForCausalLM(load_config("qwen3-tiny"), rngs=nnx.Rngs(0))
    logits = model(input_ids)                                  # [batch, seq, vocab]
    logits = model(input_ids, positions, segment_ids)          # packed: segments never see each other

Parameter layout (names mirror Hugging Face, weights stored input-major):
    embed_tokens                 [vocab, embed]
    layers[i].self_attn.q_proj   [embed, heads, head_dim]      k_proj/v_proj [embed, kv_heads, head_dim]
    layers[i].self_attn.o_proj   [heads, head_dim, embed]      q_norm/k_norm [head_dim]
    layers[i].mlp.gate_proj/up_proj [embed, mlp]               down_proj [mlp, embed]
    layers[i].input_layernorm / post_attention_layernorm [embed]
    norm [embed];  lm_head [embed, vocab] (absent when embeddings are tied)

A KV cache (`init_cache`) turns the same call into prefill/decoding: see `__call__`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from termforge.jaxtrain.attention import get_attention
from termforge.jaxtrain.config import Qwen3Config
from termforge.jaxtrain.layers import MLP, RMSNorm, apply_rope, param, positions_from_segments, rope_cos_sin
from termforge.jaxtrain.sharding import constrain

Cache = dict[str, Any]


def _write_rows(buf: jax.Array, new: jax.Array, index: jax.Array) -> jax.Array:
    """Write new [batch, s, ...] into buf [batch, max_len, ...] at a per-row offset index [batch]."""

    def one(b, n, i):
        return jax.lax.dynamic_update_slice(b, n.astype(b.dtype), (i,) + (0,) * (b.ndim - 1))

    return jax.vmap(one)(buf, new, index)


class Attention(nnx.Module):
    def __init__(self, cfg: Qwen3Config, *, rngs: nnx.Rngs):
        pdt, dt = jnp.dtype(cfg.param_dtype), jnp.dtype(cfg.dtype)
        e, h, hkv, d = cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        self.q_proj = param(rngs, (e, h, d), ("embed", "heads", "head_dim"), pdt)  # [embed, heads, head_dim]
        self.k_proj = param(rngs, (e, hkv, d), ("embed", "kv_heads", "head_dim"), pdt)  # [embed, kv_heads, head_dim]
        self.v_proj = param(rngs, (e, hkv, d), ("embed", "kv_heads", "head_dim"), pdt)  # [embed, kv_heads, head_dim]
        self.o_proj = param(rngs, (h, d, e), ("heads", "head_dim", "embed"), pdt)  # [heads, head_dim, embed]
        self.q_norm = RMSNorm(d, eps=cfg.rms_norm_eps, axis_name="head_dim", param_dtype=pdt, dtype=dt)
        self.k_norm = RMSNorm(d, eps=cfg.rms_norm_eps, axis_name="head_dim", param_dtype=pdt, dtype=dt)
        self.dtype = dt
        self.attention_impl = cfg.attention_impl

    def __call__(self, x: jax.Array, cos: jax.Array, sin: jax.Array, segment_ids: jax.Array | None,
                 cache: Cache | None = None) -> tuple[jax.Array, Cache | None]:
        """x [batch, seq, embed] -> [batch, seq, embed]; cos/sin [batch, seq, head_dim]."""
        dt = self.dtype
        q = jnp.einsum("bse,ehd->bshd", x, self.q_proj[...].astype(dt))  # [batch, seq, heads, head_dim]
        k = jnp.einsum("bse,ehd->bshd", x, self.k_proj[...].astype(dt))  # [batch, seq, kv_heads, head_dim]
        v = jnp.einsum("bse,ehd->bshd", x, self.v_proj[...].astype(dt))  # [batch, seq, kv_heads, head_dim]
        q = apply_rope(self.q_norm(q), cos, sin)  # [batch, seq, heads, head_dim]
        k = apply_rope(self.k_norm(k), cos, sin)  # [batch, seq, kv_heads, head_dim]
        q = constrain(q, ("batch", "length", "heads", "head_dim"))
        k = constrain(k, ("batch", "length", "kv_heads", "head_dim"))
        v = constrain(v, ("batch", "length", "kv_heads", "head_dim"))
        attn = get_attention(self.attention_impl)
        if cache is None:
            out = attn(q, k, v, causal=True, segment_ids=segment_ids)  # [batch, seq, heads, head_dim]
        else:
            index = cache["index"]  # [batch]
            ck = _write_rows(cache["k"], k, index)  # [batch, max_len, kv_heads, head_dim]
            cv = _write_rows(cache["v"], v, index)  # [batch, max_len, kv_heads, head_dim]
            if x.shape[1] > 1:  # prefill into an empty cache: attend among the new tokens
                out = attn(q, k, v, causal=True, segment_ids=segment_ids)
            else:  # one decoding step: attend to every filled slot of the cache
                out = attn(q, ck.astype(dt), cv.astype(dt), causal=False, segment_ids=segment_ids,
                           kv_segment_ids=cache["kv_segment_ids"])
            cache = {"k": ck, "v": cv}
        out = jnp.einsum("bshd,hde->bse", out, self.o_proj[...].astype(dt))  # [batch, seq, embed]
        return out, cache


class DecoderLayer(nnx.Module):
    def __init__(self, cfg: Qwen3Config, *, rngs: nnx.Rngs):
        pdt, dt = jnp.dtype(cfg.param_dtype), jnp.dtype(cfg.dtype)
        self.input_layernorm = RMSNorm(cfg.hidden_size, eps=cfg.rms_norm_eps, axis_name="norm",
                                       param_dtype=pdt, dtype=dt)
        self.self_attn = Attention(cfg, rngs=rngs)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, eps=cfg.rms_norm_eps, axis_name="norm",
                                                param_dtype=pdt, dtype=dt)
        self.mlp = MLP(cfg.hidden_size, cfg.intermediate_size, param_dtype=pdt, dtype=dt, rngs=rngs)

    def __call__(self, x, cos, sin, segment_ids, cache=None):  # x [batch, seq, embed]
        h, cache = self.self_attn(self.input_layernorm(x), cos, sin, segment_ids, cache)
        x = x + h  # [batch, seq, embed]
        x = x + self.mlp(self.post_attention_layernorm(x))  # [batch, seq, embed]
        return constrain(x, ("batch", "length", "act_embed")), cache


class Qwen3ForCausalLM(nnx.Module):
    def __init__(self, config: Qwen3Config, *, rngs: nnx.Rngs):
        self.config = config
        pdt, dt = jnp.dtype(config.param_dtype), jnp.dtype(config.dtype)
        self.embed_tokens = param(rngs, (config.vocab_size, config.hidden_size), ("vocab", "embed"), pdt)
        self.layers = nnx.List([DecoderLayer(config, rngs=rngs) for _ in range(config.num_hidden_layers)])
        self.norm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps, axis_name="norm", param_dtype=pdt, dtype=dt)
        if not config.tie_word_embeddings:
            self.lm_head = param(rngs, (config.hidden_size, config.vocab_size), ("embed", "vocab"), pdt)
        self.dtype = dt

    def init_cache(self, batch: int, max_len: int, dtype=None) -> Cache:
        """An empty KV cache of `max_len` slots per row."""
        cfg = self.config
        shape = (batch, max_len, cfg.num_key_value_heads, cfg.head_dim)  # [batch, max_len, kv_heads, head_dim]
        dtype = dtype or self.dtype
        return {
            "layers": [{"k": jnp.zeros(shape, dtype), "v": jnp.zeros(shape, dtype)} for _ in self.layers],
            "kv_segment_ids": jnp.zeros((batch, max_len), jnp.int32),  # [batch, max_len] 0 = empty slot
            "index": jnp.zeros((batch,), jnp.int32),  # [batch] next slot to write
        }

    def __call__(self, input_ids: jax.Array, positions: jax.Array | None = None,
                 segment_ids: jax.Array | None = None, *, cache: Cache | None = None):
        """Logits [batch, seq, vocab] for input_ids [batch, seq].

        positions [batch, seq]: RoPE positions (default: restart at 0 in each segment).
        segment_ids [batch, seq]: packed-segment ids, 0 = padding; attention stays in a segment.
        cache: with a KV cache, returns (logits, new_cache). A call with seq > 1 is a prefill into
        an empty cache; a call with seq == 1 is one decoding step that writes slot `cache["index"]`.
        """
        cfg = self.config
        batch, seq = input_ids.shape
        if positions is None:
            positions = (positions_from_segments(segment_ids) if segment_ids is not None
                         else jnp.broadcast_to(jnp.arange(seq, dtype=jnp.int32), (batch, seq)))
        x = jnp.take(self.embed_tokens[...], input_ids, axis=0).astype(self.dtype)  # [batch, seq, embed]
        x = constrain(x, ("batch", "length", "act_embed"))
        cos, sin = rope_cos_sin(positions, cfg.head_dim, cfg.rope_theta, self.dtype)  # [batch, seq, head_dim]

        new_cache = None
        if cache is not None:
            q_seg = jnp.ones((batch, seq), jnp.int32) if segment_ids is None else segment_ids  # [batch, seq]
            kv_seg = jax.vmap(lambda b, n, i: jax.lax.dynamic_update_slice(b, n, (i,)))(
                cache["kv_segment_ids"], q_seg.astype(jnp.int32), cache["index"])  # [batch, max_len]
            segment_ids = q_seg
            new_cache = {"layers": [], "kv_segment_ids": kv_seg, "index": cache["index"] + seq}

        for i, layer in enumerate(self.layers):
            if cache is None:
                if cfg.remat:
                    x, _ = nnx.remat(lambda lyr, *a: lyr(*a))(layer, x, cos, sin, segment_ids)
                else:
                    x, _ = layer(x, cos, sin, segment_ids)
            else:
                layer_cache = dict(cache["layers"][i], kv_segment_ids=new_cache["kv_segment_ids"],
                                   index=cache["index"])
                x, lc = layer(x, cos, sin, segment_ids, layer_cache)
                new_cache["layers"].append(lc)

        x = self.norm(x)  # [batch, seq, embed]
        head = self.embed_tokens[...].T if cfg.tie_word_embeddings else self.lm_head[...]  # [embed, vocab]
        logits = x @ head.astype(self.dtype)  # [batch, seq, vocab]
        logits = constrain(logits, ("batch", "length", "vocab"))
        return logits if cache is None else (logits, new_cache)


def count_params(model_or_state: Any) -> int:
    """Number of parameters (works on abstract models from nnx.eval_shape)."""
    state = nnx.state(model_or_state, nnx.Param)
    return sum(int(x.size) for x in jax.tree.leaves(state))
