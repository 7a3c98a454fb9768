"""Shared fixtures: tiny random Hugging Face Qwen3 models saved to disk (no hub, no internet)."""

from __future__ import annotations

import pytest


def make_hf_model(vocab=256, hidden=64, layers=2, heads=4, kv_heads=2, head_dim=16, intermediate=96,
                  tied=False, seed=0, eos=None):
    """A transformers Qwen3ForCausalLM with random weights big enough to make argmax unambiguous."""
    import torch
    import transformers

    cfg = transformers.Qwen3Config(
        vocab_size=vocab, hidden_size=hidden, intermediate_size=intermediate, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=kv_heads, head_dim=head_dim,
        tie_word_embeddings=tied, rope_theta=10000.0 if tied else 1_000_000.0, rms_norm_eps=1e-6,
        max_position_embeddings=512, eos_token_id=eos, bos_token_id=None, pad_token_id=0)
    torch.manual_seed(seed)
    model = transformers.Qwen3ForCausalLM(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.08)
            else:  # norm weights: not all ones, so a wrong mapping shows
                p.uniform_(0.6, 1.4)
    return model


@pytest.fixture(scope="session")
def hf_untied(tmp_path_factory):
    """(torch model, saved dir) — untied embeddings, GQA ratio 2."""
    model = make_hf_model(tied=False, seed=1)
    d = tmp_path_factory.mktemp("hf_untied")
    model.save_pretrained(d)
    return model, d


@pytest.fixture(scope="session")
def hf_tied(tmp_path_factory):
    """(torch model, saved dir) — tied embeddings, GQA ratio 4."""
    model = make_hf_model(tied=True, heads=8, kv_heads=2, head_dim=8, seed=2)
    d = tmp_path_factory.mktemp("hf_tied")
    model.save_pretrained(d)
    return model, d


@pytest.fixture(scope="session")
def small_text(tmp_path_factory):
    d = tmp_path_factory.mktemp("text")
    lines = []
    for i in range(300):
        lines.append(f"$ ls -la /tmp/dir{i % 17} && echo 'done {i}' | grep done\n")
        lines.append(f"The agent reads file number {i} and writes the result to /app/out{i % 5}.txt.\n")
    p = d / "corpus.txt"
    p.write_text("".join(lines), encoding="utf-8")
    return p
