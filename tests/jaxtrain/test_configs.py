"""Model configs: published Qwen3 dimensions, parameter counts equal to transformers', conversions."""

from __future__ import annotations

import pytest

from termforge.errors import ConfigError
from termforge.jaxtrain.config import CONFIG_DIR, Qwen3Config, load_config

SIZES = {  # hidden, layers, heads, kv_heads, intermediate, tied
    "0.6b": (1024, 28, 16, 8, 3072, True),
    "1.7b": (2048, 28, 16, 8, 6144, True),
    "4b": (2560, 36, 32, 8, 9728, True),
    "8b": (4096, 36, 32, 8, 12288, False),
    "14b": (5120, 40, 40, 8, 17408, False),
    "32b": (5120, 64, 64, 8, 25600, False),
}
# Parameter counts Qwen publishes on the model cards (total, in billions, rounded).
PUBLISHED_B = {"0.6b": 0.6, "1.7b": 1.7, "4b": 4.0, "8b": 8.2, "14b": 14.8, "32b": 32.8}


def _hf_count(cfg: Qwen3Config) -> int:
    import torch
    import transformers

    with torch.device("meta"):
        model = transformers.Qwen3ForCausalLM(transformers.Qwen3Config(**{
            k: v for k, v in cfg.to_hf_dict().items() if k not in ("architectures", "model_type", "dtype")}))
    return sum(p.numel() for p in model.parameters())  # tied weights counted once


def _our_count(cfg: Qwen3Config) -> int:
    from flax import nnx

    from termforge.jaxtrain.model import Qwen3ForCausalLM, count_params

    return count_params(nnx.eval_shape(lambda: Qwen3ForCausalLM(cfg, rngs=nnx.Rngs(0))))


@pytest.mark.parametrize("size", sorted(SIZES))
def test_published_dimensions_and_param_counts(size):
    cfg = load_config(f"qwen3-{size}")
    hidden, layers, heads, kv, inter, tied = SIZES[size]
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads, cfg.num_key_value_heads,
            cfg.intermediate_size, cfg.tie_word_embeddings) == (hidden, layers, heads, kv, inter, tied)
    assert (cfg.vocab_size, cfg.head_dim, cfg.rope_theta, cfg.rms_norm_eps, cfg.max_position_embeddings) == (
        151936, 128, 1e6, 1e-6, 40960)
    ours = _our_count(cfg)
    assert ours == _hf_count(cfg)
    assert abs(ours / 1e9 - PUBLISHED_B[size]) < 0.06 * PUBLISHED_B[size]


def test_tiny_config_matches_hf_count():
    cfg = load_config("qwen3-tiny")
    assert cfg.tie_word_embeddings and cfg.num_attention_heads // cfg.num_key_value_heads == 2
    assert _our_count(cfg) == _hf_count(cfg)
    assert _our_count(cfg.replace(tie_word_embeddings=False)) == _hf_count(cfg.replace(tie_word_embeddings=False))


def test_hf_dict_round_trip():
    cfg = load_config("qwen3-8b")
    back = Qwen3Config.from_hf_dict(cfg.to_hf_dict())
    assert back == cfg
    # transformers-4 style config.json (top-level rope_theta, torch_dtype)
    d = cfg.to_hf_dict()
    d.pop("rope_parameters")
    d.pop("dtype")
    d.update(rope_theta=5e5, torch_dtype="bfloat16")
    assert Qwen3Config.from_hf_dict(d).rope_theta == 5e5


def test_bad_configs(tmp_path):
    with pytest.raises(ConfigError, match="unknown model config 'qwen3-99b'"):
        load_config("qwen3-99b")
    with pytest.raises(ConfigError, match="multiple of num_key_value_heads"):
        load_config("qwen3-tiny", num_key_value_heads=3)
    bad = tmp_path / "bad.yaml"
    bad.write_text("hidden_size: 8\nfoo: 1\n")
    with pytest.raises(ConfigError, match="unknown Qwen3Config field"):
        load_config(bad)
    with pytest.raises(ConfigError, match="not a Qwen3 causal LM"):
        Qwen3Config.from_hf_dict({"model_type": "llama", "architectures": ["LlamaForCausalLM"]})
    assert sorted(p.stem for p in CONFIG_DIR.glob("qwen3-*.yaml")) == sorted(
        [f"qwen3-{s}" for s in SIZES] + ["qwen3-tiny"])
