"""Training run configuration: frozen dataclasses loaded from YAML with dotted overrides.

    cfg = load_train_config("configs/train/tiny.yaml", ["train.steps=30", "data.shards=/data/sft"])

Every key is checked: an unknown key, a wrong type or an impossible combination raises one
`ConfigError` line. `check_against_devices(cfg, n_devices)` adds the checks that need the
device count (mesh divides the devices, batch divides the data axes) and runs before anything
is compiled. Nothing here imports jax.

Schema (see configs/train/tiny.yaml and docs/training.md):

    model: qwen3-tiny             # name in configs/models, a YAML path or a Hugging Face dir
    model_overrides: {}           # Qwen3Config fields (e.g. tie_word_embeddings: false)
    init_from: null               # HF dir or Orbax checkpoint dir; null = random init
    seed: 0                       # parameter init seed
    mesh: {data: 1, fsdp: -1, tensor: 1, context: 1}   # -1 = the remaining devices
    rules: null                   # [[logical, mesh_axis], ...]; null = sharding.DEFAULT_RULES
    data:   {shards, eval_shards, tokenizer, seed, overlength, num_readers, read_threads, ...}
    train:  {steps, seq_len, batch_size, attention_impl, grad_accum, remat, param_dtype, ...}
    optimizer: {lr, min_lr_ratio, warmup_steps, weight_decay, b1, b2, eps, grad_clip}
    checkpoint: {enabled, every, max_to_keep, async_save, export_hf}
    curriculum: [{name, steps, seq_len, batch_size, attention_impl, filter: {...}}, ...]
    targets: [{name, chip, chips, mesh: {...}, grad_accum}, ...]   # machines the run is sized for
    target: null                  # a targets entry: its mesh and grad_accum become mesh / train.grad_accum

A config with `targets` (configs/recipes/) is run with `--target NAME` (= `--set target=NAME`);
`termforge plan-memory` checks each target's memory per device (termforge.jaxtrain.memory).
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from pathlib import Path
from typing import Any, Iterable, Sequence

from termforge.errors import ConfigError

TRAIN_CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs" / "train"
MESH_AXES = ("data", "fsdp", "tensor", "context")
DTYPES = ("float32", "bfloat16", "float16")
REMAT_POLICIES = ("none", "full", "dots", "dots_no_batch", "everything_saveable")
OVERLENGTH = ("truncate", "drop")


@dataclasses.dataclass(frozen=True)
class ShardSpec:
    """One shard set of a mixture; `weight` is its share of the sampled records."""

    path: str
    weight: float = 1.0


@dataclasses.dataclass(frozen=True)
class DataConfig:
    shards: tuple[ShardSpec, ...] = ()
    eval_shards: tuple[ShardSpec, ...] = ()
    tokenizer: str | None = None
    seed: int = 0
    overlength: str = "truncate"  # truncate | drop samples longer than seq_len + 1 tokens
    num_readers: int = -1  # independent packing streams making up the global batch; -1 = process count
    read_threads: int = 2  # Grain threads rendering/tokenising records per reader
    workers: int = 0  # Grain worker processes per reader (mp_prefetch); 0 = render in this process
    prefetch: int = 64  # Grain prefetch buffer (records) per reader
    pack_lookahead: int = 8  # sequences that may skip ahead of one that does not fit the open batch
    verify_shards: bool = True  # sha256 every shard against manifest.json when opening


@dataclasses.dataclass(frozen=True)
class StageFilter:
    """Which records a curriculum stage trains on (null = no bound)."""

    min_assistant_turns: int | None = None
    max_assistant_turns: int | None = None
    min_tokens: int | None = None
    max_tokens: int | None = None


@dataclasses.dataclass(frozen=True)
class StageConfig:
    name: str = "main"
    steps: int | None = None  # null: the remainder of train.steps
    seq_len: int | None = None  # null: train.seq_len
    batch_size: int | None = None  # global rows per optimizer step; null: train.batch_size
    attention_impl: str | None = None  # null: train.attention_impl
    filter: StageFilter = StageFilter()


@dataclasses.dataclass(frozen=True)
class TrainSection:
    steps: int | None = None  # total optimizer steps (all stages); null = sum of the stage budgets
    seq_len: int = 512
    batch_size: int = 8
    attention_impl: str = "reference"
    grad_accum: int = 1
    remat: str = "none"
    param_dtype: str = "float32"
    compute_dtype: str = "float32"
    log_every: int = 1
    eval_every: int = 0  # 0 = only at the end (when eval shards are given)
    eval_batches: int = 2


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    lr: float = 3e-4
    min_lr_ratio: float = 0.1  # cosine decays to lr * min_lr_ratio
    warmup_steps: int = 10
    weight_decay: float = 0.1
    b1: float = 0.9
    b2: float = 0.95
    eps: float = 1e-8
    grad_clip: float = 1.0  # global-norm clip; 0 = off


@dataclasses.dataclass(frozen=True)
class CheckpointConfig:
    enabled: bool = True  # false: no checkpoints at all (throw-away runs, benchmarks)
    every: int = 100  # save every N steps (and always at the end); 0 = only at the end
    max_to_keep: int = 3
    async_save: bool = True
    export_hf: bool = True  # write RUN_DIR/hf at the end


@dataclasses.dataclass(frozen=True)
class MeshConfig:
    data: int = 1
    fsdp: int = -1
    tensor: int = 1
    context: int = 1

    def as_dict(self) -> dict[str, int]:
        return {a: getattr(self, a) for a in MESH_AXES}


@dataclasses.dataclass(frozen=True)
class TargetConfig:
    """A machine a run is sized for: `chips` accelerators of kind `chip` laid out as `mesh`."""

    name: str = ""
    chip: str = ""  # a key of termforge.jaxtrain.memory.CHIPS (tpu-v5p, h100-80gb, ...)
    chips: int = 0  # accelerator count (jax devices); the mesh uses exactly these
    mesh: MeshConfig = MeshConfig()
    grad_accum: int | None = None  # null: train.grad_accum


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    model: str = "qwen3-tiny"
    model_overrides: dict = dataclasses.field(default_factory=dict)
    init_from: str | None = None
    seed: int = 0
    mesh: MeshConfig = MeshConfig()
    rules: tuple | None = None
    data: DataConfig = DataConfig()
    train: TrainSection = TrainSection()
    optimizer: OptimizerConfig = OptimizerConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    curriculum: tuple[StageConfig, ...] = ()
    targets: tuple[TargetConfig, ...] = ()
    target: str | None = None  # name of the targets entry this run uses (resolved at load)

    def to_dict(self) -> dict[str, Any]:
        return _to_plain(self)

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass(frozen=True)
class Stage:
    """A curriculum stage resolved against train.*: concrete lengths and its step range."""

    index: int
    name: str
    start: int  # first global step index (0-based) of the stage
    end: int  # one past its last
    seq_len: int
    batch_size: int
    attention_impl: str
    filter: StageFilter

    @property
    def steps(self) -> int:
        return self.end - self.start


# ------------------------------------------------------------------ plain conversion
def _to_plain(x: Any) -> Any:
    if dataclasses.is_dataclass(x):
        return {f.name: _to_plain(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if isinstance(x, (list, tuple)):
        return [_to_plain(v) for v in x]
    if isinstance(x, dict):
        return {k: _to_plain(v) for k, v in x.items()}
    return x


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, where: str) -> Any:
    """`value` (from YAML) as type `tp`, or a ConfigError naming `where`."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _convert(value, a, where)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0]
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"config key {where!r} must be a mapping, got {value!r}")
        return _from_dict(tp, value, where)
    if tp is tuple and where.endswith("rules"):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key {where!r} must be a list of [logical_name, mesh_axis] pairs")
        return tuple(tuple(v) if isinstance(v, list) else v for v in value)
    if origin is tuple:
        (elem, _ellipsis) = typing.get_args(tp)
        if elem is ShardSpec:
            return _shard_specs(value, where)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key {where!r} must be a list, got {value!r}")
        return tuple(_convert(v, elem, f"{where}.{i}") for i, v in enumerate(value))
    if tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"config key {where!r} must be a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"config key {where!r} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config key {where!r} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config key {where!r} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, (str, Path)):
            raise ConfigError(f"config key {where!r} must be a string, got {value!r}")
        return str(value)
    raise ConfigError(f"config key {where!r}: unsupported type {_type_name(tp)}")  # pragma: no cover


def _shard_specs(value: Any, where: str) -> tuple[ShardSpec, ...]:
    """`DIR`, `[DIR, ...]` or `[{path: DIR, weight: 2.0}, ...]`."""
    if value is None:
        return ()
    if isinstance(value, (str, Path)):
        value = [value]
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"config key {where!r} must be a shard directory or a list of {{path, weight}}")
    out = []
    for i, v in enumerate(value):
        if isinstance(v, (str, Path)):
            v = {"path": str(v)}
        spec = _convert(v, ShardSpec, f"{where}.{i}")
        if not (spec.weight > 0 and math.isfinite(spec.weight)):
            raise ConfigError(f"config key '{where}.{i}.weight' must be a positive number, got {spec.weight}")
        out.append(spec)
    return tuple(out)


def _from_dict(cls: type, d: dict, where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in d:
        if key not in names:
            path = f"{where}.{key}" if where else str(key)
            raise ConfigError(f"unknown config key {path!r} (known under {where or 'the top level'}: "
                              f"{', '.join(names)})")
    kwargs = {k: _convert(v, hints[k], f"{where}.{k}" if where else k) for k, v in d.items()}
    return cls(**kwargs)


# ------------------------------------------------------------------ overrides
def parse_override(item: str) -> tuple[list[str], Any]:
    """`train.steps=30` -> (["train", "steps"], 30); the value is parsed as YAML."""
    import yaml

    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE (e.g. train.steps=30)")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key or any(not p for p in key.split(".")):
        raise ConfigError(f"--set {item!r}: empty key part")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def _check_path(parts: list[str], full: str) -> None:
    """Refuse an override whose key does not exist in the schema."""
    tp: Any = TrainConfig
    for i, part in enumerate(parts):
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            tp = next(a for a in typing.get_args(tp) if a is not type(None))
            origin = typing.get_origin(tp)
        if origin is tuple and dataclasses.is_dataclass(typing.get_args(tp)[0]):
            if not part.isdigit():
                name = parts[i - 1]
                example = {"curriculum": "curriculum.0.seq_len", "targets": "targets.0.mesh.fsdp"}.get(name, name + ".0")
                raise ConfigError(f"--set {full}: {name} entries are addressed by index ({example})")
            tp = typing.get_args(tp)[0]
            continue
        if dataclasses.is_dataclass(tp):
            hints = typing.get_type_hints(tp)
            if part not in hints:
                known = ", ".join(hints)
                where = ".".join(parts[:i]) or "the top level"
                raise ConfigError(f"unknown config key {'.'.join(parts[:i + 1])!r} (known under {where}: {known})")
            tp = hints[part]
            continue
        if tp is dict:  # model_overrides.<anything>
            return
        raise ConfigError(f"unknown config key {'.'.join(parts[:i + 1])!r} ({'.'.join(parts[:i])} is a value)")


_LISTS = ("curriculum", "targets")


def _entries(name: str, n: int) -> str:
    return f"curriculum has {n} stage(s)" if name == "curriculum" else f"{name} has {n} entr{'y' if n == 1 else 'ies'}"


def apply_overrides(raw: dict, overrides: Iterable[str]) -> dict:
    """Apply `a.b.c=value` overrides to a raw config dict (validated against the schema)."""
    import copy

    raw = copy.deepcopy(raw)
    for item in overrides:
        parts, value = parse_override(item)
        _check_path(parts, item)
        node: Any = raw
        for j, part in enumerate(parts[:-1]):
            if isinstance(node, list):
                k = int(part)
                if k >= len(node):
                    raise ConfigError(f"--set {item}: {_entries(parts[j - 1], len(node))}, no index {k}")
                node = node[k]
                continue
            nxt = node.get(part)
            if nxt is None:
                nxt = [] if part in _LISTS else {}
                node[part] = nxt
            node = nxt
        last = parts[-1]
        if isinstance(node, list):
            k = int(last)
            if k >= len(node):
                raise ConfigError(f"--set {item}: {_entries(parts[-2], len(node))}, no index {k}")
            node[k] = value
        else:
            node[last] = value
    return raw


# ------------------------------------------------------------------ loading
def config_from_dict(raw: dict, overrides: Sequence[str] = (), *, source: str = "config") -> TrainConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    raw = apply_overrides(raw, overrides)
    cfg = _from_dict(TrainConfig, raw, "")
    if cfg.target is not None:
        if "mesh" in raw:
            raise ConfigError(f"target {cfg.target!r} carries its own mesh: drop the top-level mesh "
                              "(or change targets.N.mesh)")
        t = _target(cfg, cfg.target)
        if t.grad_accum is not None and "grad_accum" in (raw.get("train") or {}):
            raise ConfigError(f"target {cfg.target!r} sets grad_accum: drop train.grad_accum "
                              "(or change targets.N.grad_accum)")
        cfg = with_target(cfg, cfg.target)
    validate(cfg)
    return cfg


def _target(cfg: TrainConfig, name: str) -> TargetConfig:
    for t in cfg.targets:
        if t.name == name:
            return t
    known = ", ".join(t.name for t in cfg.targets) or "none"
    raise ConfigError(f"unknown target {name!r} (targets of this config: {known})")


def with_target(cfg: TrainConfig, name: str) -> TrainConfig:
    """`cfg` laid out for its target `name`: that target's mesh and grad_accum replace mesh / train.grad_accum."""
    t = _target(cfg, name)
    train = dataclasses.replace(cfg.train, grad_accum=t.grad_accum) if t.grad_accum is not None else cfg.train
    return cfg.replace(target=name, mesh=t.mesh, train=train)


def load_train_config(path: str | os.PathLike, overrides: Sequence[str] = ()) -> TrainConfig:
    """A TrainConfig from a YAML file (or a name in configs/train) plus `key=value` overrides."""
    import yaml

    p = Path(path)
    if not p.exists() and (TRAIN_CONFIG_DIR / f"{path}.yaml").exists():
        p = TRAIN_CONFIG_DIR / f"{path}.yaml"
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: training config not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{p}: is a directory, expected a YAML training config") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: invalid YAML ({' '.join(str(exc).split())})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: expected a mapping of training config sections")
    try:
        return config_from_dict(raw, overrides, source=str(p))
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None


# ------------------------------------------------------------------ validation
def _positive(value: Any, name: str, *, zero_ok: bool = False) -> None:
    if value is None:
        return
    if value < 0 or (value == 0 and not zero_ok):
        raise ConfigError(f"{name} must be {'non-negative' if zero_ok else 'positive'}, got {value}")


def validate(cfg: TrainConfig) -> None:
    """Checks that need no devices (called by the loader)."""
    t, o, d, c = cfg.train, cfg.optimizer, cfg.data, cfg.checkpoint
    for name in ("seq_len", "batch_size", "grad_accum", "log_every", "eval_batches"):
        _positive(getattr(t, name), f"train.{name}")
    _positive(t.steps, "train.steps")
    _positive(t.eval_every, "train.eval_every", zero_ok=True)
    if t.remat not in REMAT_POLICIES:
        raise ConfigError(f"train.remat must be one of {', '.join(REMAT_POLICIES)}, got {t.remat!r}")
    for name in ("param_dtype", "compute_dtype"):
        if getattr(t, name) not in DTYPES:
            raise ConfigError(f"train.{name} must be one of {', '.join(DTYPES)}, got {getattr(t, name)!r}")
    _positive(o.lr, "optimizer.lr")
    _positive(o.warmup_steps, "optimizer.warmup_steps", zero_ok=True)
    _positive(o.grad_clip, "optimizer.grad_clip", zero_ok=True)
    _positive(o.weight_decay, "optimizer.weight_decay", zero_ok=True)
    if not 0 <= o.min_lr_ratio <= 1:
        raise ConfigError(f"optimizer.min_lr_ratio must be in [0, 1], got {o.min_lr_ratio}")
    if d.overlength not in OVERLENGTH:
        raise ConfigError(f"data.overlength must be one of {', '.join(OVERLENGTH)}, got {d.overlength!r}")
    if d.num_readers == 0 or d.num_readers < -1:
        raise ConfigError(f"data.num_readers must be positive or -1 (= process count), got {d.num_readers}")
    _positive(d.read_threads, "data.read_threads", zero_ok=True)
    _positive(d.workers, "data.workers", zero_ok=True)
    _positive(d.pack_lookahead, "data.pack_lookahead", zero_ok=True)
    _positive(c.every, "checkpoint.every", zero_ok=True)
    _positive(c.max_to_keep, "checkpoint.max_to_keep")
    for axis in MESH_AXES:
        v = getattr(cfg.mesh, axis)
        if v == 0 or v < -1:
            raise ConfigError(f"mesh.{axis} must be positive or -1 (= fill), got {v}")
    if sum(getattr(cfg.mesh, a) == -1 for a in MESH_AXES) > 1:
        raise ConfigError("at most one mesh axis may be -1")
    if cfg.rules is not None:
        from termforge.jaxtrain.sharding import normalize_rules

        normalize_rules(cfg.rules)
    for i, s in enumerate(cfg.curriculum):
        where = f"curriculum.{i} ({s.name})"
        _positive(s.steps, f"{where}.steps")
        _positive(s.seq_len, f"{where}.seq_len")
        _positive(s.batch_size, f"{where}.batch_size")
        f = s.filter
        for name in ("min_assistant_turns", "max_assistant_turns", "min_tokens", "max_tokens"):
            _positive(getattr(f, name), f"{where}.filter.{name}", zero_ok=True)
    names = [s.name for s in cfg.curriculum]
    if len(set(names)) != len(names):
        raise ConfigError(f"curriculum stage names must be unique, got {names}")
    stages(cfg)  # step budgets add up
    _validate_targets(cfg)


def _validate_targets(cfg: TrainConfig) -> None:
    from termforge.jaxtrain.memory import CHIPS  # a table; imports no jax

    names = [t.name for t in cfg.targets]
    if len(set(names)) != len(names) or "" in names:
        raise ConfigError(f"target names must be unique and non-empty, got {names}")
    for i, t in enumerate(cfg.targets):
        where = f"targets.{i} ({t.name})"
        if t.chip not in CHIPS:
            raise ConfigError(f"{where}.chip must be one of {', '.join(CHIPS)}, got {t.chip!r}")
        _positive(t.chips, f"{where}.chips")
        _positive(t.grad_accum, f"{where}.grad_accum")
        for axis in MESH_AXES:
            v = getattr(t.mesh, axis)
            if v == 0 or v < -1:
                raise ConfigError(f"{where}.mesh.{axis} must be positive or -1 (= fill), got {v}")
        if sum(getattr(t.mesh, a) == -1 for a in MESH_AXES) > 1:
            raise ConfigError(f"{where}: at most one mesh axis may be -1")
        try:
            resolve_mesh(cfg.replace(mesh=t.mesh), t.chips)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None


def stages(cfg: TrainConfig) -> list[Stage]:
    """The curriculum resolved into concrete stages with step ranges.

    train.steps is the total; a stage whose `steps` is null takes what the others leave. When the
    fixed budgets exceed train.steps, later stages are cut (a stage left with 0 steps is dropped).
    """
    t = cfg.train
    specs = list(cfg.curriculum) or [StageConfig(name="main")]
    open_ = [s for s in specs if s.steps is None]
    if len(open_) > 1:
        raise ConfigError("at most one curriculum stage may leave `steps` unset (it takes the remainder)")
    fixed = sum(s.steps for s in specs if s.steps is not None)
    if t.steps is None:
        if open_:
            raise ConfigError(f"train.steps is unset and stage {open_[0].name!r} has no step budget: "
                              "set train.steps or the stage's steps")
        total = fixed
    else:
        total = t.steps
    remainder = max(total - fixed, 0)
    out, start = [], 0
    for i, s in enumerate(specs):
        n = s.steps if s.steps is not None else remainder
        n = min(n, total - start)
        if n <= 0:
            continue
        out.append(Stage(index=i, name=s.name, start=start, end=start + n,
                         seq_len=s.seq_len or t.seq_len, batch_size=s.batch_size or t.batch_size,
                         attention_impl=s.attention_impl or t.attention_impl, filter=s.filter))
        start += n
    if not out:
        raise ConfigError("the curriculum has no steps to run (train.steps is 0?)")
    return out


def total_steps(cfg: TrainConfig) -> int:
    return stages(cfg)[-1].end


def resolve_mesh(cfg: TrainConfig, n_devices: int) -> dict[str, int]:
    """Mesh axis sizes with -1 filled; ConfigError when the mesh does not fit the devices."""
    dims = cfg.mesh.as_dict()
    shown = ", ".join(f"{a}: {v}" for a, v in dims.items())
    known = math.prod(v for v in dims.values() if v != -1)
    if -1 in dims.values():
        if n_devices % known:
            raise ConfigError(f"mesh {{{shown}}} does not divide the {n_devices} device(s): the fixed axes "
                              f"need a multiple of {known}")
        dims[next(a for a, v in dims.items() if v == -1)] = n_devices // known
    elif known != n_devices:
        raise ConfigError(f"mesh {{{shown}}} needs {known} device(s), have {n_devices}: the mesh must "
                          "use every device (set one axis to -1 to fill)")
    return dims


def num_readers(cfg: TrainConfig, process_count: int) -> int:
    return process_count if cfg.data.num_readers == -1 else cfg.data.num_readers


def check_against_devices(cfg: TrainConfig, n_devices: int, process_count: int = 1) -> dict[str, int]:
    """Device-dependent checks (before compilation); returns the resolved mesh."""
    if cfg.targets and cfg.target is None and cfg.mesh == MeshConfig():
        raise ConfigError(f"this config is sized for targets {', '.join(t.name for t in cfg.targets)}: choose one "
                          "with --target NAME (or set mesh explicitly)")
    if cfg.target is not None:
        t = _target(cfg, cfg.target)
        if t.chips != n_devices:
            raise ConfigError(f"target {t.name!r} is {t.chips} {t.chip} chip(s), this job has {n_devices} device(s)")
    dims = resolve_mesh(cfg, n_devices)
    check_stage_shapes(cfg, dims, process_count)
    if not cfg.data.shards:
        raise ConfigError("data.shards is not set (a shard set directory, or a list of {path, weight})")
    for spec in cfg.data.shards + cfg.data.eval_shards:
        p = Path(spec.path)
        if not p.is_dir():
            raise ConfigError(f"shard set {spec.path} not found (data.shards / data.eval_shards)")
        if not (p / "manifest.json").exists():
            raise ConfigError(f"shard set {spec.path} has no manifest.json (not a complete shard set)")
    if not cfg.data.tokenizer:
        raise ConfigError("data.tokenizer is not set (a Hugging Face tokenizer directory)")
    if not Path(cfg.data.tokenizer).is_dir():
        raise ConfigError(f"tokenizer directory {cfg.data.tokenizer} not found (data.tokenizer)")
    if cfg.init_from and not Path(cfg.init_from).exists():
        raise ConfigError(f"init_from {cfg.init_from} not found (a Hugging Face dir, a checkpoint dir or a run dir)")
    return dims


def check_stage_shapes(cfg: TrainConfig, dims: dict[str, int], process_count: int = 1) -> None:
    """Every stage's batch divides the data axes (x grad_accum) and the readers; seq_len the context axis."""
    data_par = dims["data"] * dims["fsdp"]
    accum = cfg.train.grad_accum
    readers = num_readers(cfg, process_count)
    for s in stages(cfg):
        if s.batch_size % (data_par * accum):
            extra = f" x grad_accum {accum}" if accum > 1 else ""
            raise ConfigError(f"stage {s.name!r}: batch_size {s.batch_size} is not divisible by the data axes "
                              f"(data {dims['data']} x fsdp {dims['fsdp']}{extra} = {data_par * accum})")
        if s.batch_size % readers:
            raise ConfigError(f"stage {s.name!r}: batch_size {s.batch_size} is not divisible by "
                              f"data.num_readers {readers}")
        if s.seq_len % dims["context"]:
            raise ConfigError(f"stage {s.name!r}: seq_len {s.seq_len} is not divisible by the context axis "
                              f"({dims['context']})")
