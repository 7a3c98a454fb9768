"""Memory per device of a training run on a target machine, worked out without allocating anything.

    cfg = load_train_config("configs/recipes/nemotron-terminal-8b.yaml")
    plan = plan_memory(cfg, "v5p-64")          # a `targets:` entry of the config
    print(plan.table()); assert plan.fits, plan.verdict()

Exact part (parameters, gradients, optimizer state). The model and its AdamW state are built
abstractly (`nnx.eval_shape`: shapes and dtypes, no arrays), each variable gets the sharding the
trainer would give it (the config's logical-axis rules over a `jax.sharding.AbstractMesh` of the
target's shape, so a 256-chip mesh needs no 256 devices), and the bytes of one shard
(`NamedSharding.shard_shape`) are summed. A dimension the mesh does not divide is reported (the
trainer could not place that parameter). Gradients have the parameters' dtype; with
grad_accum > 1 the accumulation scan holds a running sum besides one microbatch's gradients (2x).

Estimated part (activations, per curriculum stage; what the trainer's step keeps alive at its
peak, for one microbatch of `batch_size / (batch shards x grad_accum)` rows of
`seq_len / (length shards)` tokens, i.e. the sequence divided by the context axis):
- saved: what the backward pass keeps from the forward. remat `full`: each decoder layer's
  input; `dots`/`dots_no_batch`: also every projection's output; `none`/`everything_saveable`:
  every intermediate of every layer (see `_layer_bytes_per_token`).
- working: the layer being differentiated (its recomputed intermediates and their cotangents),
  plus ring attention's two key/value blocks in flight, the score matrices of `reference`
  attention (float32, [heads, q, kv] per row) or, for `flash` on a context axis > 1, the whole
  sequence that the kernel gathers on each device.
- logits: [tokens, vocab / vocab shards] in the compute dtype, its float32 copy and float32
  gradient (the cross-entropy runs in float32). Logits and the layer working set are not alive
  at the same time: the peak counts the larger one.
- weights: FSDP gathers one unit (a decoder layer, the embedding or the LM head) over the
  data-parallel axes before using it: the largest unit, twice (the next one is prefetched), in
  the parameter dtype, plus its float32 gradient before the reduce-scatter.
The optimizer update's temporaries (one parameter-sized tree) come after the backward pass, so
the total is `params + grads + opt_state + max(activations, update)`.

Eval (when `data.eval_shards` is set): the trainer's eval step scans a stage's global batch in
the training step's microbatches, forward only: params + opt_state + gathered weights + the larger
of one layer's intermediates and the logits (compute dtype + float32) of one microbatch. Without
eval shards it is only a note.

Not counted: XLA's fragmentation and scratch, the runtime's own reservation, and (on GPUs) JAX
preallocating only 75% of the memory unless `XLA_PYTHON_CLIENT_MEM_FRACTION` says otherwise. A
plan fits when every stage stays under `margin` (default 90%) of the chip's HBM.

This module imports no jax at import time (train_config validates chip names from `CHIPS`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from typing import Any

from termforge.errors import ConfigError

GB = 10**9
DEFAULT_MARGIN = 0.90
REMAT_SAVES = ("full", "dots", "dots_no_batch")


@dataclasses.dataclass(frozen=True)
class Chip:
    name: str
    hbm_bytes: int  # nominal capacity as the vendor states it (GB = 10^9 bytes; at or below what is usable)
    per_host: int  # chips per host (one JAX process per host): the default data.num_readers
    about: str


CHIPS: dict[str, Chip] = {c.name: c for c in (
    Chip("tpu-v5p", 95 * GB, 4, "TPU v5p: 95 GB HBM2e per chip; a v5p-N slice has N/2 chips, 4 per host"),
    Chip("tpu-v5e", 16 * GB, 4, "TPU v5e: 16 GB HBM2 per chip"),
    Chip("tpu-v6e", 32 * GB, 4, "TPU v6e (Trillium): 32 GB HBM per chip"),
    Chip("tpu-v4", 32 * GB, 4, "TPU v4: 32 GB HBM2 per chip; a v4-N slice has N/2 chips"),
    Chip("h100-80gb", 80 * GB, 8, "NVIDIA H100 SXM 80 GB HBM3, 8 per node"),
    Chip("h200", 141 * GB, 8, "NVIDIA H200 141 GB HBM3e, 8 per node"),
    Chip("a100-80gb", 80 * GB, 8, "NVIDIA A100 80 GB HBM2e, 8 per node"),
)}

_DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


# ----------------------------------------------------------------------------- results
@dataclasses.dataclass(frozen=True)
class StageMemory:
    """Bytes per device at one curriculum stage's peak."""

    stage: str
    seq_len: int
    attention_impl: str
    rows: int  # microbatch rows per device
    seq: int  # tokens of one row on a device (seq_len / length shards)
    tokens: int  # microbatch tokens per device (rows x seq)
    saved: int
    working: int
    logits: int
    weights: int
    activations: int  # saved + max(working, logits) + weights
    total: int  # state + max(activations, update temporaries)
    eval_total: int  # the eval step's peak (one microbatch's forward pass at a time)


@dataclasses.dataclass(frozen=True)
class MemoryPlan:
    config: str
    target: str
    chip: Chip
    devices: int
    mesh: dict[str, int]
    grad_accum: int
    remat: str
    param_dtype: str
    compute_dtype: str
    n_params: int
    params: int
    grads: int
    opt_state: int
    update: int
    stages: tuple[StageMemory, ...]
    margin: float
    problems: tuple[str, ...] = ()  # the trainer would refuse this layout (mesh, batch or shape divisibility)
    notes: tuple[str, ...] = ()  # legal but wasteful choices, eval that would not fit

    @property
    def state(self) -> int:
        return self.params + self.grads + self.opt_state

    @property
    def budget(self) -> int:
        return int(self.chip.hbm_bytes * self.margin)

    @property
    def peak(self) -> StageMemory | None:
        return max(self.stages, key=lambda s: s.total) if self.stages else None

    evaluates: bool = False  # data.eval_shards is set: the eval step must fit too
    param_ways: int = 1  # how many devices share one copy of the parameters (full size / size per device)
    replicated_over: tuple[str, ...] = ()  # mesh axes (> 1) that split no parameter: each holds a full copy

    def over(self, s: StageMemory) -> bool:
        return s.total > self.budget or (self.evaluates and s.eval_total > self.budget)

    @property
    def fits(self) -> bool:
        return not self.problems and bool(self.stages) and not any(self.over(s) for s in self.stages)

    def verdict(self) -> str:
        """One line: fits (peak stage, share of HBM) or why not (with the biggest parts and a hint)."""
        head = f"{self.config} @ {self.target}"
        if self.problems:
            return f"{head}: does not fit: {self.problems[0]}"
        peak = self.peak
        if peak is None:  # pragma: no cover - a config always has a stage
            return f"{head}: no stages"
        share = f"{_gb(peak.total)} GB per device at stage {peak.stage!r} ({100 * peak.total / self.chip.hbm_bytes:.0f}% " \
                f"of {_gb(self.chip.hbm_bytes)} GB {self.chip.name}"
        if self.fits:
            return f"{head}: fits: peak {share}, budget {100 * self.margin:.0f}%)"
        if peak.total <= self.budget:  # only the eval step is over
            worst = max(self.stages, key=lambda s: s.eval_total)
            return (f"{head}: does not fit: the eval step needs {_gb(worst.eval_total)} GB per device at stage "
                    f"{worst.stage!r} > budget {_gb(self.budget)} GB ({100 * self.margin:.0f}% of "
                    f"{_gb(self.chip.hbm_bytes)} GB {self.chip.name}); "
                    "drop data.eval_shards or use more devices")
        rep = ", ".join(f"{a} {self.mesh[a]}" for a in self.replicated_over)
        split = f"each parameter split {self.param_ways} ways" if self.param_ways > 1 else "parameters not split"
        parts = (f"params+grads+optimizer {_gb(self.state)} GB ({split}" + (f", replicated over {rep}" if rep else "")
                 + f"), activations {_gb(peak.activations)} GB")
        if self.state > self.budget / 2:
            hint = "shard the parameters over more devices (a larger fsdp axis, or rules that shard embed over more axes)"
        else:
            hint = "fewer tokens per microbatch (raise grad_accum or the context axis), or remat full"
        return f"{head}: does not fit: {share} > budget {_gb(self.budget)} GB): {parts}; {hint}"

    def table(self) -> str:
        mesh = " ".join(f"{a}={v}" for a, v in self.mesh.items())
        lines = [
            f"{self.config} @ {self.target}" + ("" if self.target == f"{self.devices} x {self.chip.name}" else
                                                  f": {self.devices} x {self.chip.name}")
            + f" ({_gb(self.chip.hbm_bytes)} GB each, "
            f"budget {100 * self.margin:.0f}% = {_gb(self.budget)} GB), mesh {mesh}, grad_accum {self.grad_accum}, "
            f"remat {self.remat}, {self.param_dtype} params / {self.compute_dtype} compute",
            f"  per device: params {_gb(self.params)} GB + grads {_gb(self.grads)} GB + optimizer "
            f"{_gb(self.opt_state)} GB = {_gb(self.state)} GB ({self.n_params / 1e9:.2f}B parameters)",
        ]
        head = ("stage", "seq_len", "attention", "rows x seq", "tokens", "saved", "working", "logits", "weights",
                "total GB", "of HBM", "eval GB")
        rows = [head]
        for s in self.stages:
            rows.append((s.stage, str(s.seq_len), s.attention_impl, f"{s.rows} x {s.seq}", str(s.tokens),
                         _gb(s.saved), _gb(s.working), _gb(s.logits), _gb(s.weights), _gb(s.total),
                         f"{100 * s.total / self.chip.hbm_bytes:.0f}%" + (" !" if s.total > self.budget else ""),
                         _gb(s.eval_total) + (" !" if s.eval_total > self.budget else "")))
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        for r in rows:
            lines.append("  " + "  ".join(c.ljust(w) if i < 4 else c.rjust(w) for i, (c, w) in
                                          enumerate(zip(r, widths))).rstrip())
        lines += [f"  problem: {p}" for p in self.problems] + [f"  note: {n}" for n in self.notes]
        lines.append("  " + self.verdict())
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["chip"] = dataclasses.asdict(self.chip)
        d.update(state=self.state, budget=self.budget, fits=self.fits, verdict=self.verdict())
        return d


def _gb(n: float) -> str:
    return f"{n / GB:.1f}"


# ----------------------------------------------------------------------------- abstract state
@functools.lru_cache(maxsize=8)
def _abstract(mcfg, clip: bool):
    """(params state, optimizer state) of `mcfg` as ShapeDtypeStructs in nnx Variables; no arrays."""
    import optax
    from flax import nnx

    from termforge.jaxtrain.model import Qwen3ForCausalLM

    model = nnx.eval_shape(lambda: Qwen3ForCausalLM(mcfg, rngs=nnx.Rngs(0)))
    parts = [optax.clip_by_global_norm(1.0)] if clip else []
    tx = optax.chain(*parts, optax.adamw(1e-5))  # the state's shapes do not depend on the schedule
    opt = nnx.eval_shape(lambda: nnx.Optimizer(model, tx, wrt=nnx.Param))
    return nnx.state(model, nnx.Param), nnx.state(opt)


def _model_config(cfg):
    """The run's Qwen3Config as the trainer derives it (an init_from that is not there yet is ignored)."""
    from pathlib import Path

    from termforge.jaxtrain.train import _model_config as trainer_model_config
    from termforge.jaxtrain.train_config import stages

    if cfg.init_from and not Path(cfg.init_from).exists():
        cfg = cfg.replace(init_from=None)
    return trainer_model_config(cfg, stages(cfg)[0])


def _flat(state):
    from flax import nnx

    return [("/".join(map(str, path)), var) for path, var in nnx.to_flat_state(state)]


def _axes(spec_entry) -> tuple[str, ...]:
    if spec_entry is None:
        return ()
    return tuple(spec_entry) if isinstance(spec_entry, tuple) else (spec_entry,)


def _shard_bytes(state, mesh, rules, problems: list[str], drop_axes: tuple[str, ...] = ()):
    """(bytes per device, {unit: (bytes, elements)}) of `state` sharded by `rules` over `mesh`.

    drop_axes: mesh axes to treat as gathered (FSDP's all-gather before use)."""
    import numpy as np
    from jax.sharding import NamedSharding, PartitionSpec

    from termforge.jaxtrain.sharding import _var_axes, logical_to_spec

    total, units = 0, {}
    for path, var in _flat(state):
        value = var.get_value()
        axes = _var_axes(var)
        spec = logical_to_spec(axes, rules, mesh)
        if drop_axes:
            kept = [tuple(a for a in _axes(e) if a not in drop_axes) for e in spec]
            spec = PartitionSpec(*[(k[0] if len(k) == 1 else k) if k else None for k in kept])
        try:
            shape = NamedSharding(mesh, spec).shard_shape(value.shape)
        except ValueError:
            dims = ", ".join(f"{n} {d}" for n, d in zip(axes or (), value.shape))
            where = re.sub(r"^layers/\d+/", "layers/*/", path)  # one line for all decoder layers
            problem = (f"parameter {where} [{dims}] cannot be split by {spec} over mesh {dict(mesh.shape)}: "
                       "a dimension is not divisible")
            if problem not in problems:
                problems.append(problem)
            shape = tuple(math.ceil(d / _factor(e, mesh)) for d, e in zip(value.shape, tuple(spec) +
                                                                              (None,) * value.ndim))
        n = int(np.prod(shape, dtype=np.int64)) if shape else 1
        nbytes = n * np.dtype(value.dtype).itemsize
        total += nbytes
        parts = path.split("/")
        unit = "/".join(parts[:2]) if parts[0] == "layers" else parts[0]
        b, e = units.get(unit, (0, 0))
        units[unit] = (b + nbytes, e + n)
    return total, units


def _factor(spec_entry, mesh) -> int:
    return math.prod(mesh.shape[a] for a in _axes(spec_entry))


# ----------------------------------------------------------------------------- activations
def _layer_bytes_per_token(c: int, e: float, hq: float, hkv: float, m: float, heads: float) -> float:
    """Bytes one decoder layer's forward leaves for its backward, per token (remat none).

    e, hq, hkv, m: per-device widths of the residual stream, of q (heads x head_dim), of k or v,
    and of the MLP. Counted: norm inputs/outputs (+ their float32 copies), q/k/v projections,
    q/k norms and RoPE outputs, attention output and float32 log-sum-exp, o_proj output, the two
    residual sums, gate/up/silu/product of the MLP and its output."""
    return c * (6 * e + 4 * hq + 4 * hkv + 4 * m) + 2 * 4 * e + 4 * heads


def _dots_bytes_per_token(c: int, e: float, hq: float, hkv: float, m: float) -> float:
    """remat dots: a layer's input and every matmul output (q, k, v, o_proj, gate, up, down)."""
    return c * (e + hq + 2 * hkv + e + 2 * m + e)


def _stage_memory(stage, mc, cfg, mesh, rules, dims, weights: int, state: int, update: int, eval_state: int,
                  notes: list[str]) -> StageMemory:
    from termforge.jaxtrain.sharding import logical_to_spec

    def shards(axes: tuple[str, ...]) -> list[int]:
        spec = tuple(logical_to_spec(axes, rules, mesh))
        spec = spec + (None,) * (len(axes) - len(spec))
        return [_factor(s, mesh) for s in spec]

    c = _DTYPE_BYTES[cfg.train.compute_dtype]
    accum = cfg.train.grad_accum
    b_sh, l_sh, e_sh = shards(("batch", "length", "act_embed"))
    h_sh = shards(("batch", "length", "heads", "head_dim"))[2]
    kv_sh = shards(("batch", "length", "kv_heads", "head_dim"))[2]
    m_sh = shards(("batch", "length", "mlp"))[2]
    v_sh = shards(("batch", "length", "vocab"))[2]
    rows = max(1, math.ceil(stage.batch_size / (b_sh * accum)))
    seq = math.ceil(stage.seq_len / l_sh)
    tokens = rows * seq
    e = mc.hidden_size / e_sh
    hq = mc.num_attention_heads * mc.head_dim / h_sh
    hkv = mc.num_key_value_heads * mc.head_dim / kv_sh
    m = mc.intermediate_size / m_sh
    heads = mc.num_attention_heads / h_sh
    layer = _layer_bytes_per_token(c, e, hq, hkv, m, heads)
    n_layers = mc.num_hidden_layers
    impl, remat = stage.attention_impl, cfg.train.remat

    scores = 0.0  # reference attention: float32 scores and probabilities [heads, q, kv] per row
    if impl == "reference":
        scores = rows * heads * seq * stage.seq_len * 8
    if remat == "full":
        saved = n_layers * tokens * c * e
        working = 2 * tokens * layer + 2 * scores
    elif remat in ("dots", "dots_no_batch"):
        saved = n_layers * (tokens * _dots_bytes_per_token(c, e, hq, hkv, m)
                            + (scores / 2 if remat == "dots" else 0))
        working = 2 * tokens * layer + 2 * scores
    else:  # none, everything_saveable
        saved = n_layers * (tokens * layer + scores)
        working = tokens * layer + scores
    ctx = dims.get("context", 1)
    if impl in ("ring", "ring_zigzag") and ctx > 1:
        working += 2 * 2 * tokens * hkv * c  # the k/v block being used and the one arriving
    elif impl == "flash" and l_sh > 1:
        working += 2 * rows * stage.seq_len * (2 * hq + 2 * hkv) * c  # q, k, v, out gathered (+ cotangents)
        notes.append(f"stage {stage.name!r}: flash attention on a sequence split over {l_sh} devices gathers the "
                     "whole sequence on each of them (duplicate attention work): ring attention avoids that")
    logits = tokens * (mc.vocab_size / v_sh) * (c + 4 + 4)
    activations = saved + max(working, logits) + weights
    total = state + max(activations, update)
    eval_tokens = tokens  # one microbatch at a time (make_eval_step scans the grad_accum microbatches)
    eval_act = max(eval_tokens * layer + scores, eval_tokens * (mc.vocab_size / v_sh) * (c + 4))
    eval_total = eval_state + eval_tokens * c * e + eval_act + weights
    return StageMemory(stage=stage.name, seq_len=stage.seq_len, attention_impl=impl, rows=rows, seq=seq,
                       tokens=tokens, saved=int(saved), working=int(working), logits=int(logits), weights=int(weights),
                       activations=int(activations), total=int(total), eval_total=int(eval_total))


# ----------------------------------------------------------------------------- the plan
def plan_memory(cfg, target: str | None = None, *, chip: str | None = None, devices: int | None = None,
                margin: float = DEFAULT_MARGIN, name: str | None = None) -> MemoryPlan:
    """Memory per device of `cfg` on `target` (a `targets:` entry), or on `devices` x `chip` with cfg.mesh.

    Builds nothing but abstract shapes; never raises for a layout that does not fit (see `.fits`,
    `.problems`, `.verdict()`), only for a config it cannot read (ConfigError)."""
    from jax.sharding import AbstractMesh

    from termforge.jaxtrain.sharding import DEFAULT_RULES, MESH_AXES, _var_axes, logical_to_spec
    from termforge.jaxtrain.train_config import _target, check_stage_shapes, resolve_mesh, stages, with_target

    target = target if target is not None else cfg.target
    if target is not None:
        cfg = with_target(cfg, target)
        t = _target(cfg, target)
        chip, devices = t.chip, t.chips
    elif chip is None or devices is None:
        raise ConfigError("memory plan: name a target of the config, or a chip and a device count")
    if chip not in CHIPS:
        raise ConfigError(f"unknown chip {chip!r} (known: {', '.join(CHIPS)})")
    if not 0 < margin <= 1:
        raise ConfigError(f"margin must be in (0, 1], got {margin}")
    the_chip = CHIPS[chip]
    label = target or f"{devices} x {chip}"
    problems: list[str] = []
    notes: list[str] = []
    dims = resolve_mesh(cfg, devices)  # ConfigError: the mesh does not use exactly the devices
    processes = max(1, devices // the_chip.per_host)
    try:
        check_stage_shapes(cfg, dims, processes)
    except ConfigError as exc:
        problems.append(str(exc))

    mesh = AbstractMesh(tuple(dims[a] for a in MESH_AXES), MESH_AXES)
    rules = cfg.rules if cfg.rules is not None else DEFAULT_RULES
    mc = _model_config(cfg)
    params_state, opt_state = _abstract(mc, cfg.optimizer.grad_clip > 0)
    params, sharded_units = _shard_bytes(params_state, mesh, rules, problems)
    full, _ = _shard_bytes(params_state, AbstractMesh((1,) * len(MESH_AXES), MESH_AXES), rules, [])
    used = {a for _, v in _flat(params_state) for e in logical_to_spec(_var_axes(v), rules, mesh) for a in _axes(e)}
    replicated = tuple(a for a in MESH_AXES if dims[a] > 1 and a not in used)
    opt, _ = _shard_bytes(opt_state, mesh, rules, [])  # the moments would repeat their parameter's problem
    # FSDP: a unit is gathered over the axes that split the batch and the sequence
    dp_axes = tuple(a for e in logical_to_spec(("batch", "length"), rules, mesh) for a in _axes(e))
    _, units = _shard_bytes(params_state, mesh, rules, [], drop_axes=dp_axes)
    gathered = [v for k, v in units.items() if v[0] > sharded_units[k][0]]  # units FSDP must gather
    unit_bytes, unit_elems = max(gathered) if gathered else (0, 0)
    weights = 2 * unit_bytes + unit_elems * 4
    grads = params * (2 if cfg.train.grad_accum > 1 else 1)
    n_params = sum(int(v.get_value().size) for _, v in _flat(params_state))
    state = params + grads + opt
    update = params  # AdamW's update tree, alive after the backward pass
    stage_rows = tuple(_stage_memory(s, mc, cfg, mesh, rules, dims, weights, state, update, params + opt, notes)
                       for s in stages(cfg))
    evaluates = bool(cfg.data.eval_shards)
    worst = max(stage_rows, key=lambda s: s.eval_total)
    if not evaluates and worst.eval_total > int(the_chip.hbm_bytes * margin):
        notes.append(f"with data.eval_shards set, the eval step (one microbatch's forward pass at a time) "
                     f"would need {_gb(worst.eval_total)} GB per device at stage {worst.stage!r}: it would not fit")
    return MemoryPlan(config=name or cfg.model, target=label, chip=the_chip, devices=devices, mesh=dims,
                      grad_accum=cfg.train.grad_accum, remat=cfg.train.remat, param_dtype=mc.param_dtype,
                      compute_dtype=mc.dtype, n_params=n_params, params=params, grads=grads, opt_state=opt,
                      update=update, stages=stage_rows, margin=margin, problems=tuple(problems),
                      notes=tuple(dict.fromkeys(notes)), evaluates=evaluates,
                      param_ways=max(1, round(full / params)), replicated_over=replicated)


def plan_all(cfg, *, margin: float = DEFAULT_MARGIN, name: str | None = None) -> list[MemoryPlan]:
    """A plan for every target of `cfg` (the selected one only, when cfg.target is set)."""
    names = [cfg.target] if cfg.target else [t.name for t in cfg.targets]
    if not names:
        raise ConfigError("the config has no targets: give a chip and a device count")
    return [plan_memory(cfg, n, margin=margin, name=name) for n in names]


# ----------------------------------------------------------------------------- cross-check
def compiled_memory(cfg, stage: int = 0, devices=None) -> dict[str, int]:
    """XLA's own memory analysis of the trainer's step for stage `stage`, on real `devices` (default:
    all), compiled from abstract inputs (no parameter or batch is allocated).

    For checking the estimate on a machine small enough to own the devices (tests: 8 CPU devices;
    a GPU). Returns per-device bytes: arguments, outputs, aliased (donated) and temporaries, and
    `peak` = arguments + outputs - aliased + temporaries."""
    import jax
    import jax.numpy as jnp
    from flax import nnx
    from jax.sharding import NamedSharding

    from termforge.jaxtrain.model import Qwen3ForCausalLM
    from termforge.jaxtrain.sharding import DEFAULT_RULES, logical_to_spec, make_mesh, state_shardings
    from termforge.jaxtrain.train import _set_attention, make_schedule, make_train_step, make_tx
    from termforge.jaxtrain.train_config import resolve_mesh, stages, total_steps

    devices = list(jax.devices() if devices is None else devices)
    dims = resolve_mesh(cfg, len(devices))
    mesh = make_mesh(dims, devices)
    rules = cfg.rules if cfg.rules is not None else DEFAULT_RULES
    st = stages(cfg)[stage]
    mc = _model_config(cfg).replace(attention_impl=st.attention_impl)
    n = total_steps(cfg)
    tx = make_tx(cfg, n)
    model = nnx.eval_shape(lambda: Qwen3ForCausalLM(mc, rngs=nnx.Rngs(0)))
    opt = nnx.eval_shape(lambda: nnx.Optimizer(model, tx, wrt=nnx.Param))
    _set_attention(model, st.attention_impl)

    def attach(tree):
        shardings = state_shardings(nnx.state(tree), mesh, rules)
        state = jax.tree.map(lambda v, s: jax.ShapeDtypeStruct(v.shape, v.dtype, sharding=s),
                             nnx.state(tree), shardings)
        nnx.update(tree, state)

    attach(model)
    attach(opt)
    bs = NamedSharding(mesh, logical_to_spec(("batch", "length"), rules, mesh))
    shape = (st.batch_size, st.seq_len)
    batch = {"inputs": jnp.int32, "targets": jnp.int32, "positions": jnp.int32, "segment_ids": jnp.int32,
             "weights": jnp.float32}
    batch = {k: jax.ShapeDtypeStruct(shape, dt, sharding=bs) for k, dt in batch.items()}
    step = make_train_step(grad_accum=cfg.train.grad_accum, remat=cfg.train.remat, schedule=make_schedule(cfg, n),
                           mesh=mesh, rules=rules)
    ma = step.lower(model, opt, batch).compile().memory_analysis()
    out = {"arguments": int(ma.argument_size_in_bytes), "outputs": int(ma.output_size_in_bytes),
           "aliased": int(ma.alias_size_in_bytes), "temporaries": int(ma.temp_size_in_bytes)}
    out["peak"] = out["arguments"] + out["outputs"] - out["aliased"] + out["temporaries"]
    return out
