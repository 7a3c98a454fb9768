"""Numerical parity of the Flax NNX Qwen3 with transformers' Qwen3ForCausalLM (float32, CPU)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from conftest import make_hf_model
from termforge.jaxtrain import hf, sampler

TOL = 1e-4


def _forward(model, ids, positions=None, segment_ids=None):
    f = jax.jit(lambda m, a, p, s: m(a, p, s))
    return np.asarray(f(model, jnp.asarray(ids),
                        None if positions is None else jnp.asarray(positions),
                        None if segment_ids is None else jnp.asarray(segment_ids)))


@pytest.mark.parametrize("tied,heads,kv_heads", [
    (False, 4, 4),  # GQA ratio 1 (MHA)
    (True, 4, 2),  # ratio 2, tied
    (False, 8, 2),  # ratio 4
])
def test_padded_batch_logits_match_transformers(tmp_path, tied, heads, kv_heads):
    torch_model = make_hf_model(tied=tied, heads=heads, kv_heads=kv_heads, head_dim=16, seed=heads + kv_heads)
    torch_model.save_pretrained(tmp_path)
    model = hf.from_pretrained(tmp_path)
    assert model.config.tie_word_embeddings == tied
    assert hasattr(model, "lm_head") == (not tied)

    rng = np.random.RandomState(0)
    ids = rng.randint(1, 256, size=(4, 19))
    mask = np.ones_like(ids)
    mask[1, 12:] = 0  # right padding
    mask[2, :7] = 0  # left padding
    ids[mask == 0] = 0
    positions = np.maximum(np.cumsum(mask, axis=1) - 1, 0)
    with torch.no_grad():
        ref = torch_model(torch.tensor(ids), attention_mask=torch.tensor(mask),
                          position_ids=torch.tensor(positions)).logits.numpy()
    ours = _forward(model, ids, positions, mask)
    real = mask.astype(bool)
    diff = np.abs(ours - ref)[real].max()
    assert diff <= TOL, diff
    # padding must matter: the same tokens without the mask give different logits on row 2
    unmasked = _forward(model, ids)
    assert np.abs(unmasked[2][real[2]] - ours[2][real[2]]).max() > 1e-3


def test_packed_segments_equal_one_by_one(hf_untied):
    _, path = hf_untied
    model = hf.from_pretrained(path)
    rng = np.random.RandomState(1)
    lengths = [5, 9, 3]
    seqs = [rng.randint(1, 256, size=n) for n in lengths]
    total = 20
    packed = np.zeros((1, total), np.int32)
    segs = np.zeros((1, total), np.int32)
    off = 0
    for k, s in enumerate(seqs):
        packed[0, off:off + len(s)] = s
        segs[0, off:off + len(s)] = k + 1
        off += len(s)
    # default positions restart at 0 in each segment
    packed_logits = _forward(model, packed, None, segs)
    off = 0
    for s in seqs:
        alone = _forward(model, s[None, :])
        diff = np.abs(packed_logits[0, off:off + len(s)] - alone[0]).max()
        assert diff <= TOL, diff
        off += len(s)
    # without segment ids the later sequences see the earlier ones
    unpacked = _forward(model, packed)
    assert np.abs(unpacked[0, 5:14] - packed_logits[0, 5:14]).max() > 1e-3


def test_greedy_generation_matches_transformers(hf_untied):
    torch_model, path = hf_untied
    model = hf.from_pretrained(path)
    prompts = [[5, 6, 7, 8, 9, 10, 11, 12], [3, 4], [100, 101, 102, 103, 104]]
    width = max(map(len, prompts))
    ids = torch.tensor([[0] * (width - len(p)) + p for p in prompts])
    am = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    with torch.no_grad():
        out = torch_model.generate(ids, attention_mask=am, max_new_tokens=32, do_sample=False,
                                   eos_token_id=None, pad_token_id=0)
    expected = out[:, width:].tolist()
    assert all(len(e) == 32 for e in expected)
    for side in ("left", "right"):
        got = sampler.generate(model, prompts, 32, eos_ids=[], padding_side=side)
        assert got == expected, side


def test_greedy_generation_tied_gqa4(hf_tied):
    torch_model, path = hf_tied
    model = hf.from_pretrained(path)
    prompts = [[9, 8, 7], [1, 2, 3, 4, 5, 6]]
    width = 6
    ids = torch.tensor([[0] * (width - len(p)) + p for p in prompts])
    am = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    with torch.no_grad():
        out = torch_model.generate(ids, attention_mask=am, max_new_tokens=32, do_sample=False,
                                   eos_token_id=None, pad_token_id=0)
    assert sampler.generate(model, prompts, 32, eos_ids=[]) == out[:, width:].tolist()
