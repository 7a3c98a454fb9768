"""Decoding behaviour beyond greedy parity: eos stopping, top-p sampling, the chat helper."""

from __future__ import annotations

import numpy as np
import pytest
from flax import nnx

from termforge.errors import ConfigError
from termforge.jaxtrain import sampler
from termforge.jaxtrain.config import load_config
from termforge.jaxtrain.model import Qwen3ForCausalLM


@pytest.fixture(scope="module")
def model():
    return Qwen3ForCausalLM(load_config("qwen3-tiny", vocab_size=320), rngs=nnx.Rngs(3))


PROMPTS = [[11, 12, 13, 14], [20, 21], [30, 31, 32, 33, 34, 35, 36]]


def test_stops_at_eos_and_pads(model):
    free = sampler.generate(model, PROMPTS, 12, eos_ids=[])
    assert [len(r) for r in free] == [12, 12, 12]
    eos = free[1][4]  # make row 1's fifth token the stop token
    stopped = sampler.generate(model, PROMPTS, 12, eos_ids=[eos])
    first = free[1].index(eos)
    assert stopped[1] == free[1][:first + 1]
    for row, full in zip(stopped, free):
        assert row == full[:len(row)]
        assert eos not in row[:-1]


def test_sampling_is_seeded_and_top_p_small_is_greedy(model):
    a = sampler.generate(model, PROMPTS, 10, temperature=1.0, top_p=0.95, seed=7, eos_ids=[])
    b = sampler.generate(model, PROMPTS, 10, temperature=1.0, top_p=0.95, seed=7, eos_ids=[])
    c = sampler.generate(model, PROMPTS, 10, temperature=1.0, top_p=0.95, seed=8, eos_ids=[])
    assert a == b and a != c
    greedy = sampler.generate(model, PROMPTS, 10, eos_ids=[])
    assert sampler.generate(model, PROMPTS, 10, temperature=1.0, top_p=1e-6, seed=3, eos_ids=[]) == greedy
    assert sampler.generate(model, PROMPTS, 10, eos_ids=[], padding_side="right") == greedy


def test_sample_token_respects_nucleus():
    import jax
    import jax.numpy as jnp

    logits = jnp.log(jnp.asarray([[0.5, 0.3, 0.15, 0.05]] * 2000))
    keys = jax.random.split(jax.random.key(0), 1)[0]
    toks = np.asarray(sampler.sample_token(logits, keys, 1.0, 0.7, False))
    assert set(toks.tolist()) == {0, 1}  # 0.5 + 0.3 >= 0.7: the nucleus is the first two tokens
    assert 0.55 < (toks == 0).mean() < 0.7  # renormalised 0.5 / 0.8


def test_chat_with_trained_tokenizer(tmp_path, small_text):
    from termforge.jaxtrain.tokenizer import load_tokenizer, train_tokenizer

    train_tokenizer([small_text], vocab_size=300, out_dir=tmp_path)
    tok = load_tokenizer(tmp_path)
    m = Qwen3ForCausalLM(load_config("qwen3-tiny", vocab_size=300), rngs=nnx.Rngs(0))
    replies = sampler.chat(m, tok, [[{"role": "user", "content": "ls"}]] * 2, max_new_tokens=6)
    assert len(replies) == 2 and replies[0] == replies[1] and isinstance(replies[0], str)


def test_bad_prompts(model):
    with pytest.raises(ConfigError, match="no empty prompt"):
        sampler.generate(model, [[1], []], 4)
    with pytest.raises(ConfigError, match="padding_side"):
        sampler.generate(model, [[1]], 4, padding_side="middle")
