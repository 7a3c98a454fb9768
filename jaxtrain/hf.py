"""Hugging Face interop: Qwen3ForCausalLM safetensors <-> the NNX model, streaming.

Import reads one tensor at a time from (possibly sharded) safetensors files through a memory
map and puts it straight into the NNX state (optionally sharded on a mesh); export converts and
writes one tensor at a time, shard file by shard file. Neither direction holds two full copies
of the weights in host memory. Layout conversions are transposes/reshapes only, so a round trip
HF -> termforge -> HF is bit-identical.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import struct
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from termforge.errors import ConfigError, TermforgeError
from termforge.jaxtrain.config import Qwen3Config

TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
    "added_tokens.json", "chat_template.jinja", "chat_template.json",
)
INDEX_NAME = "model.safetensors.index.json"
SINGLE_NAME = "model.safetensors"
DEFAULT_MAX_SHARD_SIZE = 5 * 1024**3


class WeightsError(TermforgeError):
    """A Hugging Face weight file is missing, incomplete or does not match the config."""


# ------------------------------------------------------------ safetensors
def _np_dtypes() -> dict[str, np.dtype]:
    import ml_dtypes

    return {"F64": np.dtype(np.float64), "F32": np.dtype(np.float32), "F16": np.dtype(np.float16),
            "BF16": np.dtype(ml_dtypes.bfloat16), "I64": np.dtype(np.int64), "I32": np.dtype(np.int32),
            "I16": np.dtype(np.int16), "I8": np.dtype(np.int8), "U8": np.dtype(np.uint8),
            "BOOL": np.dtype(np.bool_)}


def _st_name(dtype: np.dtype) -> str:
    for name, dt in _np_dtypes().items():
        if dt == dtype:
            return name
    raise WeightsError(f"dtype {dtype} cannot be stored in safetensors")


class SafetensorsReader:
    """Lazy reader of one .safetensors file: `get(name)` maps just that tensor from disk."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        try:
            with open(self.path, "rb") as f:
                (n,) = struct.unpack("<Q", f.read(8))
                header = json.loads(f.read(n))
        except FileNotFoundError:
            raise WeightsError(f"{self.path}: weight file not found") from None
        except (struct.error, json.JSONDecodeError, UnicodeDecodeError):
            raise WeightsError(f"{self.path}: not a safetensors file") from None
        self.metadata = header.pop("__metadata__", None) or {}
        self.header: dict[str, dict[str, Any]] = header
        self._data_start = 8 + n

    def keys(self) -> list[str]:
        return list(self.header)

    def info(self, name: str) -> tuple[tuple[int, ...], np.dtype]:
        h = self.header[name]
        try:
            dtype = _np_dtypes()[h["dtype"]]
        except KeyError:
            raise WeightsError(f"{self.path}: tensor {name} has unsupported dtype {h['dtype']}") from None
        return tuple(h["shape"]), dtype

    def get(self, name: str) -> np.ndarray:
        shape, dtype = self.info(name)
        start, end = self.header[name]["data_offsets"]
        count = int(np.prod(shape, dtype=np.int64))
        if end - start != count * dtype.itemsize:
            raise WeightsError(f"{self.path}: tensor {name} has {end - start} bytes, expected "
                               f"{count * dtype.itemsize} for shape {list(shape)} {dtype}")
        if count == 0:
            return np.zeros(shape, dtype)
        mm = np.memmap(self.path, dtype=dtype, mode="r", offset=self._data_start + start, shape=(count,))
        return np.array(mm).reshape(shape)  # a private copy of this one tensor


@dataclasses.dataclass
class _Planned:
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    produce: Callable[[], np.ndarray]

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize


def write_safetensors(path: str | os.PathLike, tensors: list[_Planned], metadata: dict[str, str] | None = None) -> None:
    """Write `tensors` (produced one at a time) to `path` atomically (temp file, then rename)."""
    path = Path(path)
    header: dict[str, Any] = {"__metadata__": metadata or {"format": "pt"}}
    offset = 0
    for t in tensors:
        header[t.name] = {"dtype": _st_name(t.dtype), "shape": list(t.shape),
                          "data_offsets": [offset, offset + t.nbytes]}
        offset += t.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(raw)))
            f.write(raw)
            for t in tensors:
                arr = np.ascontiguousarray(t.produce())
                if arr.shape != t.shape or arr.dtype != t.dtype:
                    raise WeightsError(f"{t.name}: produced {arr.shape} {arr.dtype}, planned {t.shape} {t.dtype}")
                f.write(arr.tobytes())
                del arr
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# ---------------------------------------------------------- name mapping
@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """One Hugging Face tensor and where it lives in the NNX state."""

    hf_name: str
    path: tuple[str | int, ...]  # NNX state path
    hf_shape: tuple[int, ...]
    to_ours: Callable[[np.ndarray], np.ndarray]
    to_hf: Callable[[np.ndarray], np.ndarray]


def _ident(x: np.ndarray) -> np.ndarray:
    return x


def _t(x: np.ndarray) -> np.ndarray:
    return x.T


def tensor_specs(cfg: Qwen3Config) -> list[TensorSpec]:
    """All tensors of a Hugging Face Qwen3ForCausalLM, in its saving order."""
    e, h, hkv, d, i, v = (cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads,
                          cfg.head_dim, cfg.intermediate_size, cfg.vocab_size)

    def proj_in(heads):  # HF [heads*head_dim, embed] <-> ours [embed, heads, head_dim]
        return (lambda w: w.T.reshape(e, heads, d), lambda w: w.reshape(e, heads * d).T)

    o_in = (lambda w: w.T.reshape(h, d, e), lambda w: w.reshape(h * d, e).T)  # HF [embed, heads*head_dim]

    specs = [TensorSpec("model.embed_tokens.weight", ("embed_tokens",), (v, e), _ident, _ident)]
    for n in range(cfg.num_hidden_layers):
        p = f"model.layers.{n}."
        specs += [
            TensorSpec(p + "input_layernorm.weight", ("layers", n, "input_layernorm", "weight"), (e,), _ident, _ident),
            TensorSpec(p + "self_attn.q_proj.weight", ("layers", n, "self_attn", "q_proj"), (h * d, e), *proj_in(h)),
            TensorSpec(p + "self_attn.k_proj.weight", ("layers", n, "self_attn", "k_proj"), (hkv * d, e), *proj_in(hkv)),
            TensorSpec(p + "self_attn.v_proj.weight", ("layers", n, "self_attn", "v_proj"), (hkv * d, e), *proj_in(hkv)),
            TensorSpec(p + "self_attn.o_proj.weight", ("layers", n, "self_attn", "o_proj"), (e, h * d), *o_in),
            TensorSpec(p + "self_attn.q_norm.weight", ("layers", n, "self_attn", "q_norm", "weight"), (d,), _ident, _ident),
            TensorSpec(p + "self_attn.k_norm.weight", ("layers", n, "self_attn", "k_norm", "weight"), (d,), _ident, _ident),
            TensorSpec(p + "mlp.gate_proj.weight", ("layers", n, "mlp", "gate_proj"), (i, e), _t, _t),
            TensorSpec(p + "mlp.up_proj.weight", ("layers", n, "mlp", "up_proj"), (i, e), _t, _t),
            TensorSpec(p + "mlp.down_proj.weight", ("layers", n, "mlp", "down_proj"), (e, i), _t, _t),
            TensorSpec(p + "post_attention_layernorm.weight",
                       ("layers", n, "post_attention_layernorm", "weight"), (e,), _ident, _ident),
        ]
    specs.append(TensorSpec("model.norm.weight", ("norm", "weight"), (e,), _ident, _ident))
    if not cfg.tie_word_embeddings:
        specs.append(TensorSpec("lm_head.weight", ("lm_head",), (v, e), _t, _t))
    return specs


# ----------------------------------------------------------------- import
class _WeightFiles:
    """name -> reader over model.safetensors or the files of model.safetensors.index.json."""

    def __init__(self, hf_dir: Path):
        index = hf_dir / INDEX_NAME
        self.readers: dict[str, SafetensorsReader] = {}
        self.where: dict[str, str] = {}
        if index.exists():
            try:
                weight_map = json.loads(index.read_text())["weight_map"]
            except (json.JSONDecodeError, KeyError):
                raise WeightsError(f"{index}: not a safetensors index (no weight_map)") from None
            for name, fname in weight_map.items():
                self.where[name] = fname
        elif (hf_dir / SINGLE_NAME).exists():
            for name in SafetensorsReader(hf_dir / SINGLE_NAME).keys():
                self.where[name] = SINGLE_NAME
        else:
            raise WeightsError(f"{hf_dir}: no {SINGLE_NAME} or {INDEX_NAME} (only safetensors weights are supported)")
        self.dir = hf_dir
        for fname in sorted(set(self.where.values())):
            self.readers[fname] = SafetensorsReader(hf_dir / fname)
        for name, fname in self.where.items():
            if name not in self.readers[fname].header:
                raise WeightsError(f"{hf_dir / fname}: tensor {name} listed in {INDEX_NAME} is missing from the file")

    def __contains__(self, name: str) -> bool:
        return name in self.where

    def names(self) -> list[str]:
        return list(self.where)

    def info(self, name):
        return self.readers[self.where[name]].info(name)

    def get(self, name: str) -> np.ndarray:
        return self.readers[self.where[name]].get(name)


def _set_path(state_dict: dict, path: tuple, value: Any) -> None:
    node = state_dict
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def from_pretrained(hf_dir: str | os.PathLike, *, dtype: str | None = None, compute_dtype: str | None = None,
                    mesh=None, rules=None, attention_impl: str | None = None, progress: Any = None):
    """Load a Hugging Face Qwen3ForCausalLM directory into a `Qwen3ForCausalLM` (NNX).

    dtype: parameter dtype (default: the checkpoint's); compute_dtype defaults to dtype.
    mesh/rules: place each tensor directly with its NamedSharding.
    progress: optional callback `progress(done, total, name)`.
    """
    import jax
    import jax.numpy as jnp
    from flax import nnx

    from termforge.jaxtrain.model import Qwen3ForCausalLM
    from termforge.jaxtrain.sharding import logical_to_spec

    hf_dir = Path(hf_dir)
    if not hf_dir.is_dir():
        raise WeightsError(f"{hf_dir}: not a directory")
    overrides: dict[str, Any] = {}
    if dtype:
        overrides["param_dtype"] = dtype
    if compute_dtype or dtype:
        overrides["dtype"] = compute_dtype or dtype
    if attention_impl:
        overrides["attention_impl"] = attention_impl
    cfg = Qwen3Config.from_hf_json(hf_dir, **overrides)
    files = _WeightFiles(hf_dir)
    specs = tensor_specs(cfg)
    expected = {s.hf_name for s in specs}
    extra = [n for n in files.names() if n not in expected
             and not (cfg.tie_word_embeddings and n == "lm_head.weight")
             and not n.endswith("rotary_emb.inv_freq")]
    if extra:
        raise WeightsError(f"{hf_dir}: unexpected tensor {extra[0]} (not part of Qwen3ForCausalLM with this "
                           f"config.json){f' and {len(extra) - 1} more' if len(extra) > 1 else ''}")

    abstract = nnx.eval_shape(lambda: Qwen3ForCausalLM(cfg, rngs=nnx.Rngs(0)))
    graphdef, abstract_state = nnx.split(abstract)
    flat = {tuple(p): var for p, var in nnx.to_flat_state(abstract_state)}
    values = nnx.to_pure_dict(abstract_state)

    pdt = jnp.dtype(cfg.param_dtype)
    for k, spec in enumerate(specs):
        if spec.hf_name not in files:
            raise WeightsError(f"{hf_dir}: missing tensor {spec.hf_name}")
        shape, _ = files.info(spec.hf_name)
        if shape != spec.hf_shape:
            raise WeightsError(f"{hf_dir}: tensor {spec.hf_name} has shape {list(shape)}, config.json implies "
                               f"{list(spec.hf_shape)}")
        arr = spec.to_ours(files.get(spec.hf_name)).astype(pdt, copy=False)  # one tensor on host
        var = flat[spec.path]
        if mesh is not None:
            sharding = jax.sharding.NamedSharding(
                mesh, logical_to_spec(var.get_metadata().get("out_sharding"), rules or (), mesh))
            value = jax.device_put(arr, sharding)
        else:
            value = jnp.asarray(arr)
        _set_path(values, spec.path, value)
        del arr
        if progress is not None:
            progress(k + 1, len(specs), spec.hf_name)
    nnx.replace_by_pure_dict(abstract_state, values)
    return nnx.merge(graphdef, abstract_state)


# ----------------------------------------------------------------- export
def parse_size(size: int | str) -> int:
    """5000000, "5GB", "500MB", "10KiB" -> bytes."""
    if isinstance(size, int):
        return size
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?I?B?)\s*", str(size).upper())
    if not m:
        raise ConfigError(f"cannot parse size {size!r} (e.g. 5GB, 500MB, 1048576)")
    num, unit = float(m.group(1)), m.group(2).rstrip("B")
    scale = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
             "KI": 2**10, "MI": 2**20, "GI": 2**30, "TI": 2**40}[unit]
    return int(num * scale)


def generation_config(cfg: Qwen3Config) -> dict[str, Any]:
    out: dict[str, Any] = {"_from_model_config": False}
    for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
        value = getattr(cfg, key)
        if value is not None:
            out[key] = list(value) if isinstance(value, tuple) else value
    return out


def copy_tokenizer_files(src: str | os.PathLike, out_dir: str | os.PathLike) -> list[str]:
    src, out_dir = Path(src), Path(out_dir)
    copied = []
    for name in TOKENIZER_FILES:
        if (src / name).exists():
            shutil.copyfile(src / name, out_dir / name)
            copied.append(name)
    if not copied:
        raise ConfigError(f"{src}: no tokenizer files (tokenizer.json, tokenizer_config.json, ...)")
    return copied


def _plan_shards(items: list[_Planned], max_bytes: int) -> list[list[_Planned]]:
    shards: list[list[_Planned]] = [[]]
    size = 0
    for it in items:
        if shards[-1] and size + it.nbytes > max_bytes:
            shards.append([])
            size = 0
        shards[-1].append(it)
        size += it.nbytes
    return shards


def iter_hf_tensors(model) -> Iterator[tuple[str, np.ndarray]]:
    """(HF name, HF-layout numpy array) for each tensor, one at a time."""
    from flax import nnx

    flat = {tuple(p): var for p, var in nnx.to_flat_state(nnx.state(model, nnx.Param))}
    for spec in tensor_specs(model.config):
        yield spec.hf_name, spec.to_hf(np.asarray(flat[spec.path].get_value()))


def to_pretrained(model, out_dir: str | os.PathLike, *, dtype: str | None = None,
                  max_shard_size: int | str = DEFAULT_MAX_SHARD_SIZE, tokenizer_dir: str | os.PathLike | None = None,
                  generation: dict[str, Any] | None = None, progress: Any = None) -> dict[str, Any]:
    """Write `model` as a Hugging Face Qwen3ForCausalLM directory; returns a summary dict.

    Shards above `max_shard_size` into model-0000k-of-0000n.safetensors with an index.
    """
    import jax.numpy as jnp
    from flax import nnx

    from termforge.ui import atomic_write_json

    cfg: Qwen3Config = model.config
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    max_bytes = parse_size(max_shard_size)
    flat = {tuple(p): var for p, var in nnx.to_flat_state(nnx.state(model, nnx.Param))}
    specs = tensor_specs(cfg)
    out_dtype = np.dtype(jnp.dtype(dtype or cfg.param_dtype))
    done = [0]

    def producer(spec: TensorSpec) -> Callable[[], np.ndarray]:
        def produce() -> np.ndarray:
            arr = np.asarray(flat[spec.path].get_value())  # one tensor gathered to host
            out = np.ascontiguousarray(spec.to_hf(arr).astype(out_dtype, copy=False))
            done[0] += 1
            if progress is not None:
                progress(done[0], len(specs), spec.hf_name)
            return out

        return produce

    items = [_Planned(s.hf_name, s.hf_shape, out_dtype, producer(s)) for s in specs]
    shards = _plan_shards(items, max_bytes)
    for stale in list(out_dir.glob("model*.safetensors")) + [out_dir / INDEX_NAME]:
        stale.unlink(missing_ok=True)
    total = sum(it.nbytes for it in items)
    if len(shards) == 1:
        write_safetensors(out_dir / SINGLE_NAME, shards[0])
        files = [SINGLE_NAME]
    else:
        files = [f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors" for k in range(len(shards))]
        weight_map = {}
        for fname, shard in zip(files, shards):
            write_safetensors(out_dir / fname, shard)
            weight_map.update({it.name: fname for it in shard})
        atomic_write_json(out_dir / INDEX_NAME, {"metadata": {"total_size": total}, "weight_map": weight_map})
    atomic_write_json(out_dir / "config.json", cfg.to_hf_dict(torch_dtype=str(out_dtype)))
    atomic_write_json(out_dir / "generation_config.json", generation or generation_config(cfg))
    tokenizer_files = copy_tokenizer_files(tokenizer_dir, out_dir) if tokenizer_dir else []
    return {"out_dir": str(out_dir), "files": files, "total_bytes": total, "tensors": len(items),
            "dtype": str(out_dtype), "tokenizer_files": tokenizer_files}
