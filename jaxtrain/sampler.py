"""Batched KV-cache decoding: greedy (temperature 0) or top-p sampling, jitted end to end.

    new_tokens = generate(model, [[1, 2, 3], [4, 5]], max_new_tokens=32, eos_ids=[im_end])

The cache is preallocated for prompt + max_new_tokens slots; the prompt is prefilled in one call
and the decode loop is a `lax.while_loop` that stops early once every row has produced an eos.
Prompts are laid out with left or right padding (`padding_side`); either gives the same tokens.
"""

from __future__ import annotations

import functools
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from termforge.errors import ConfigError


def sample_token(logits: jax.Array, rng: jax.Array, temperature: float, top_p: float, greedy: bool) -> jax.Array:
    """Next token [batch] from logits [batch, vocab]."""
    logits = logits.astype(jnp.float32)
    if greedy:
        return jnp.argmax(logits, axis=-1).astype(jnp.int32)
    logits = logits / temperature
    sorted_logits = jnp.sort(logits, axis=-1)[:, ::-1]  # [batch, vocab] descending
    probs = jax.nn.softmax(sorted_logits, axis=-1)  # [batch, vocab]
    mass_before = jnp.cumsum(probs, axis=-1) - probs  # [batch, vocab] mass of strictly better tokens
    kept = jnp.sum(mass_before < top_p, axis=-1)  # [batch] >= 1: the nucleus size
    threshold = jnp.take_along_axis(sorted_logits, (kept - 1)[:, None], axis=-1)  # [batch, 1]
    logits = jnp.where(logits >= threshold, logits, -jnp.inf)  # [batch, vocab]
    return jax.random.categorical(rng, logits, axis=-1).astype(jnp.int32)


@functools.partial(jax.jit, static_argnames=("graphdef", "max_new_tokens", "greedy", "eos_ids", "pad_id"))
def _generate(graphdef, state, tokens, mask, rng, temperature, top_p, *, max_new_tokens: int, greedy: bool,
              eos_ids: tuple[int, ...], pad_id: int):
    """tokens/mask [batch, prompt_len] -> new tokens [batch, max_new_tokens] (pad after eos)."""
    model = nnx.merge(graphdef, state)
    batch, prompt_len = tokens.shape
    lengths = jnp.sum(mask, axis=1).astype(jnp.int32)  # [batch] real prompt tokens
    positions = jnp.maximum(jnp.cumsum(mask, axis=1) - 1, 0).astype(jnp.int32)  # [batch, prompt_len]
    last = (prompt_len - 1 - jnp.argmax(mask[:, ::-1], axis=1)).astype(jnp.int32)  # [batch] last real index

    cache = model.init_cache(batch, prompt_len + max_new_tokens)
    logits, cache = model(tokens, positions, mask.astype(jnp.int32), cache=cache)  # [batch, prompt_len, vocab]
    cache["index"] = last + 1  # next slot: after the prompt (right padding overwrites its pads)
    last_logits = jnp.take_along_axis(logits, last[:, None, None], axis=1)[:, 0]  # [batch, vocab]
    rng, sub = jax.random.split(rng)
    first = sample_token(last_logits, sub, temperature, top_p, greedy)  # [batch]
    eos = jnp.asarray(eos_ids if eos_ids else (-1,), jnp.int32)  # [n_eos]

    def cond(carry):
        i, _, _, _, done, _, _ = carry
        return (i < max_new_tokens) & ~jnp.all(done)

    def body(carry):
        i, cache, tok, pos, done, out, rng = carry
        out = out.at[:, i].set(jnp.where(done, pad_id, tok))  # [batch, max_new_tokens]
        done = done | jnp.any(tok[:, None] == eos[None, :], axis=1)  # [batch]
        logits, cache = model(tok[:, None], pos[:, None], cache=cache)  # [batch, 1, vocab]
        rng, sub = jax.random.split(rng)
        tok = sample_token(logits[:, 0], sub, temperature, top_p, greedy)  # [batch]
        return i + 1, cache, tok, pos + 1, done, out, rng

    out = jnp.full((batch, max_new_tokens), pad_id, jnp.int32)
    done = jnp.zeros((batch,), bool)
    carry = (jnp.int32(0), cache, first, lengths, done, out, rng)
    _, _, _, _, _, out, _ = jax.lax.while_loop(cond, body, carry)
    return out


def pad_prompts(prompts: Sequence[Sequence[int]], padding_side: str = "left", pad_id: int = 0,
                length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Ragged prompts -> tokens, mask [batch, length] padded on `padding_side`."""
    if padding_side not in ("left", "right"):
        raise ConfigError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    if not prompts or any(len(p) == 0 for p in prompts):
        raise ConfigError("generate needs at least one prompt and no empty prompt")
    length = length or max(len(p) for p in prompts)
    tokens = np.full((len(prompts), length), pad_id, np.int32)
    mask = np.zeros((len(prompts), length), np.int32)
    for r, p in enumerate(prompts):
        sl = slice(length - len(p), length) if padding_side == "left" else slice(0, len(p))
        tokens[r, sl] = p
        mask[r, sl] = 1
    return tokens, mask


def generate(model, prompts: Sequence[Sequence[int]], max_new_tokens: int, *, temperature: float = 0.0,
             top_p: float = 1.0, seed: int = 0, eos_ids: Sequence[int] | int | None = None, pad_id: int = 0,
             padding_side: str = "left", bucket: int = 16) -> list[list[int]]:
    """New tokens per prompt, up to and including the first eos (if any).

    temperature 0 is greedy; otherwise top-p (nucleus) sampling with `seed`. eos_ids default to
    the model config's eos_token_id. Prompt length is rounded up to a multiple of `bucket` to
    limit recompilation.
    """
    if max_new_tokens <= 0:
        return [[] for _ in prompts]
    if eos_ids is None:
        eos_ids = model.config.eos_token_id
    eos = tuple(int(e) for e in ((eos_ids,) if isinstance(eos_ids, int) else (eos_ids or ())))
    length = max(len(p) for p in prompts)
    length = -(-length // bucket) * bucket if bucket else length
    tokens, mask = pad_prompts(prompts, padding_side, pad_id, length)
    graphdef, state = nnx.split(model)
    out = _generate(graphdef, state, jnp.asarray(tokens), jnp.asarray(mask), jax.random.key(seed),
                    jnp.float32(max(temperature, 1e-6)), jnp.float32(top_p), max_new_tokens=max_new_tokens,
                    greedy=temperature <= 0.0, eos_ids=eos, pad_id=pad_id)
    result = []
    for row in np.asarray(out).tolist():
        cut = next((k + 1 for k, t in enumerate(row) if t in eos), len(row))
        result.append(row[:cut])
    return result


def chat(model, tokenizer, conversations: Sequence[Sequence[dict]], max_new_tokens: int = 256,
         **kwargs) -> list[str]:
    """Reply text for each conversation (lists of {"role", "content"}), via the chat template."""
    prompts = [tokenizer.apply_chat_template(list(c), add_generation_prompt=True, tokenize=True)
               for c in conversations]
    prompts = [p["input_ids"] if isinstance(p, dict) or hasattr(p, "keys") else p for p in prompts]
    eos = kwargs.pop("eos_ids", None)
    if eos is None:
        eos = [tokenizer.convert_tokens_to_ids("<|im_end|>")]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    outs = generate(model, prompts, max_new_tokens, eos_ids=eos, pad_id=pad, **kwargs)
    return [tokenizer.decode(o, skip_special_tokens=True) for o in outs]
