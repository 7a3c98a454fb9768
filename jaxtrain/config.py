"""Qwen3 model configuration: a frozen dataclass, YAML loading and Hugging Face config.json conversion.

Kept next to each other (Levanter style) so that one place knows how our field names map to
Hugging Face's. Only the fields that change the computation are stored; everything else in a
Hugging Face config.json is either checked (architecture, activation, bias, sliding window) or
ignored.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from termforge.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs" / "models"

_DTYPES = ("float32", "bfloat16", "float16")


@dataclasses.dataclass(frozen=True)
class Qwen3Config:
    """Hyper-parameters of a Qwen3 decoder (names follow Hugging Face's Qwen3Config)."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    rope_theta: float = 1_000_000.0
    rms_norm_eps: float = 1e-6
    max_position_embeddings: int = 40960
    tie_word_embeddings: bool = False
    # Token ids recorded for export (generation_config.json); the model itself does not use them.
    bos_token_id: int | None = None
    eos_token_id: int | tuple[int, ...] | None = None
    pad_token_id: int | None = None
    # Computation choices (not part of the Hugging Face architecture).
    attention_impl: str = "reference"  # key of termforge.jaxtrain.attention's registry
    param_dtype: str = "float32"  # storage dtype of the parameters
    dtype: str = "float32"  # compute dtype of activations (bfloat16 on accelerators)
    remat: bool = False  # rematerialise each decoder layer in the backward pass

    def __post_init__(self) -> None:
        for name in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                     "num_attention_heads", "num_key_value_heads", "head_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"Qwen3Config.{name} must be a positive integer, got {value!r}")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ConfigError(
                f"Qwen3Config: num_attention_heads ({self.num_attention_heads}) must be a multiple "
                f"of num_key_value_heads ({self.num_key_value_heads})"
            )
        if self.head_dim % 2:
            raise ConfigError(f"Qwen3Config.head_dim must be even for RoPE, got {self.head_dim}")
        for name in ("param_dtype", "dtype"):
            if getattr(self, name) not in _DTYPES:
                raise ConfigError(f"Qwen3Config.{name} must be one of {_DTYPES}, got {getattr(self, name)!r}")
        if isinstance(self.eos_token_id, list):
            object.__setattr__(self, "eos_token_id", tuple(self.eos_token_id))

    # ----------------------------------------------------------------- derived
    @property
    def num_groups(self) -> int:
        """Query heads per key/value head (GQA ratio)."""
        return self.num_attention_heads // self.num_key_value_heads

    def replace(self, **changes: Any) -> "Qwen3Config":
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------ dict / YAML
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if isinstance(d["eos_token_id"], tuple):
            d["eos_token_id"] = list(d["eos_token_id"])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str = "config") -> "Qwen3Config":
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - fields)
        if unknown:
            raise ConfigError(f"{source}: unknown Qwen3Config field(s) {', '.join(unknown)}")
        try:
            return cls(**d)
        except TypeError as exc:  # a missing required field
            raise ConfigError(f"{source}: {exc}") from None

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> "Qwen3Config":
        import yaml

        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: model config not found") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML ({' '.join(str(exc).split())})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of Qwen3Config fields")
        data = data.get("model", data)  # allow a top-level `model:` section
        return cls.from_dict(data, source=str(path))

    # ------------------------------------------------------- Hugging Face JSON
    @classmethod
    def from_hf_dict(cls, d: dict[str, Any], *, source: str = "config.json", **overrides: Any) -> "Qwen3Config":
        """Build from a Hugging Face Qwen3 config.json mapping; refuses other architectures."""
        model_type = d.get("model_type")
        archs = d.get("architectures") or []
        if model_type != "qwen3" or (archs and "Qwen3ForCausalLM" not in archs):
            raise ConfigError(
                f"{source}: not a Qwen3 causal LM (model_type={model_type!r}, architectures={archs!r}); "
                "only Qwen3ForCausalLM is supported"
            )
        if d.get("hidden_act", "silu") != "silu":
            raise ConfigError(f"{source}: hidden_act {d['hidden_act']!r} is not supported (only silu)")
        if d.get("attention_bias", False):
            raise ConfigError(f"{source}: attention_bias=true is not supported")
        if d.get("use_sliding_window", False):
            raise ConfigError(f"{source}: use_sliding_window=true is not supported")
        rope = d.get("rope_parameters") or d.get("rope_scaling") or {}
        rope_type = rope.get("rope_type", rope.get("type", "default"))
        if rope_type not in (None, "default"):
            raise ConfigError(f"{source}: rope_type {rope_type!r} is not supported (only default)")
        theta = d.get("rope_theta", rope.get("rope_theta", 1_000_000.0))
        try:
            heads = d["num_attention_heads"]
            kwargs = dict(
                vocab_size=d["vocab_size"],
                hidden_size=d["hidden_size"],
                intermediate_size=d["intermediate_size"],
                num_hidden_layers=d["num_hidden_layers"],
                num_attention_heads=heads,
                num_key_value_heads=d.get("num_key_value_heads") or heads,
                head_dim=d.get("head_dim") or d["hidden_size"] // heads,
            )
        except KeyError as exc:
            raise ConfigError(f"{source}: missing field {exc.args[0]!r}") from None
        dtype = d.get("dtype") or d.get("torch_dtype") or "float32"
        kwargs.update(
            rope_theta=float(theta),
            rms_norm_eps=float(d.get("rms_norm_eps", 1e-6)),
            max_position_embeddings=int(d.get("max_position_embeddings", 40960)),
            tie_word_embeddings=bool(d.get("tie_word_embeddings", False)),
            bos_token_id=d.get("bos_token_id"),
            eos_token_id=d.get("eos_token_id"),
            pad_token_id=d.get("pad_token_id"),
            param_dtype=dtype if dtype in _DTYPES else "float32",
            dtype=dtype if dtype in _DTYPES else "float32",
        )
        kwargs.update(overrides)
        return cls(**kwargs)

    @classmethod
    def from_hf_json(cls, path: str | os.PathLike, **overrides: Any) -> "Qwen3Config":
        path = Path(path)
        if path.is_dir():
            path = path / "config.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no config.json (not a Hugging Face model directory)") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: invalid JSON ({exc})") from None
        return cls.from_hf_dict(data, source=str(path), **overrides)

    def to_hf_dict(self, torch_dtype: str | None = None) -> dict[str, Any]:
        """A config.json that transformers' Qwen3ForCausalLM loads."""
        return {
            "architectures": ["Qwen3ForCausalLM"],
            "model_type": "qwen3",
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "hidden_act": "silu",
            "max_position_embeddings": self.max_position_embeddings,
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "rope_parameters": {"rope_type": "default", "rope_theta": self.rope_theta},
            "rope_scaling": None,
            "attention_bias": False,
            "attention_dropout": 0.0,
            "use_sliding_window": False,
            "sliding_window": None,
            "max_window_layers": self.num_hidden_layers,
            "tie_word_embeddings": self.tie_word_embeddings,
            "initializer_range": 0.02,
            "use_cache": True,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": list(self.eos_token_id) if isinstance(self.eos_token_id, tuple) else self.eos_token_id,
            "pad_token_id": self.pad_token_id,
            "dtype": torch_dtype or self.param_dtype,
        }


def load_config(name_or_path: str | os.PathLike, **overrides: Any) -> Qwen3Config:
    """A model config from a YAML path, a Hugging Face dir/config.json, or a name in configs/models.

    `load_config("qwen3-tiny")` reads configs/models/qwen3-tiny.yaml.
    """
    p = Path(name_or_path)
    if p.is_dir() or p.name == "config.json":
        cfg = Qwen3Config.from_hf_json(p)
    elif p.suffix in (".yaml", ".yml") or p.exists():
        cfg = Qwen3Config.from_yaml(p)
    else:
        candidate = CONFIG_DIR / f"{name_or_path}.yaml"
        if not candidate.exists():
            known = ", ".join(sorted(x.stem for x in CONFIG_DIR.glob("*.yaml")))
            raise ConfigError(f"unknown model config {name_or_path!r} (known: {known})")
        cfg = Qwen3Config.from_yaml(candidate)
    return cfg.replace(**overrides) if overrides else cfg
