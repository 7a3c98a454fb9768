"""Logical-axis sharding (MaxText style): model code names axes, rules map names to mesh axes.

Parameters carry logical axis names in their `out_sharding` metadata (e.g. ("embed", "mlp"));
activations are annotated with `constrain(x, ("batch", "length", "embed"))`. Rules, coming from
a run config, map each logical name to a mesh axis (or a tuple of mesh axes, or None =
replicated). Nothing in the model knows the mesh.

    mesh = make_mesh({"data": 1, "fsdp": 4, "tensor": 2, "context": 1})
    with use_rules(mesh, DEFAULT_RULES):
        model = create_sharded(lambda: Qwen3ForCausalLM(cfg, rngs=nnx.Rngs(0)), mesh, DEFAULT_RULES)
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from typing import Any, Callable, Iterable, Mapping, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from termforge.errors import ConfigError

MESH_AXES = ("data", "fsdp", "tensor", "context")

MeshAxis = str | tuple[str, ...] | None
Rules = Sequence[tuple[str, MeshAxis]] | Mapping[str, MeshAxis]

# FSDP over `embed`, tensor parallelism over heads / mlp / vocab, sequence over `context`.
DEFAULT_RULES: tuple[tuple[str, MeshAxis], ...] = (
    ("batch", ("data", "fsdp")),
    ("length", "context"),
    ("embed", "fsdp"),
    ("heads", "tensor"),
    ("kv_heads", "tensor"),
    ("head_dim", None),
    ("mlp", "tensor"),
    ("vocab", "tensor"),
    ("norm", None),
    ("act_embed", None),
)


def normalize_rules(rules: Rules) -> dict[str, MeshAxis]:
    """Rules as a dict; accepts a mapping or a list of pairs (YAML gives lists as lists)."""
    items = rules.items() if isinstance(rules, Mapping) else rules
    out: dict[str, MeshAxis] = {}
    for item in items:
        try:
            name, axis = item
        except (TypeError, ValueError):
            raise ConfigError(f"sharding rule {item!r} is not a (logical_name, mesh_axis) pair") from None
        if isinstance(axis, list):
            axis = tuple(axis)
        for a in (axis if isinstance(axis, tuple) else (axis,)):
            if a is not None and a not in MESH_AXES:
                raise ConfigError(f"sharding rule {name!r} -> {a!r}: mesh axes are {MESH_AXES}")
        out.setdefault(name, axis)  # the first rule for a name wins
    return out


def logical_to_spec(axes: Sequence[str | None] | None, rules: Rules, mesh: Mesh | None = None) -> PartitionSpec:
    """PartitionSpec for logical `axes`; a mesh axis is used at most once (later dims replicate)."""
    if not axes:
        return PartitionSpec()
    table = normalize_rules(rules)
    used: set[str] = set()
    spec: list[MeshAxis] = []
    for name in axes:
        axis = table.get(name) if name is not None else None
        parts = axis if isinstance(axis, tuple) else ((axis,) if axis else ())
        if mesh is not None:  # drop axes of size 1: keeps specs readable and shardings equal
            parts = tuple(p for p in parts if mesh.shape[p] > 1)
        parts = tuple(p for p in parts if p not in used)
        used.update(parts)
        spec.append(None if not parts else parts[0] if len(parts) == 1 else parts)
    while spec and spec[-1] is None:
        spec.pop()
    return PartitionSpec(*spec)


def make_mesh(shape: Mapping[str, int] | Sequence[int], devices: Sequence[Any] | None = None) -> Mesh:
    """A Mesh with axes ("data", "fsdp", "tensor", "context").

    `shape` is a dict (missing axes get 1; one axis may be -1 = the remaining devices) or a
    4-tuple in that order.
    """
    devices = list(jax.devices() if devices is None else devices)
    if isinstance(shape, Mapping):
        unknown = set(shape) - set(MESH_AXES)
        if unknown:
            raise ConfigError(f"unknown mesh axes {sorted(unknown)} (mesh axes are {MESH_AXES})")
        dims = [int(shape.get(a, 1)) for a in MESH_AXES]
    else:
        dims = [int(x) for x in shape]
        if len(dims) != len(MESH_AXES):
            raise ConfigError(f"mesh shape {tuple(dims)} must have {len(MESH_AXES)} entries {MESH_AXES}")
    if dims.count(-1) > 1:
        raise ConfigError("at most one mesh axis may be -1")
    if -1 in dims:
        known = math.prod(d for d in dims if d != -1)
        dims[dims.index(-1)] = len(devices) // max(known, 1)
    if math.prod(dims) != len(devices):
        raise ConfigError(f"mesh shape {dict(zip(MESH_AXES, dims))} needs {math.prod(dims)} devices, "
                          f"have {len(devices)}")
    return Mesh(np.asarray(devices, dtype=object).reshape(dims), MESH_AXES)


# ------------------------------------------------------------- activations
_CONTEXT: contextvars.ContextVar[tuple[Mesh, dict[str, MeshAxis]] | None] = contextvars.ContextVar(
    "termforge_sharding", default=None)


@contextlib.contextmanager
def use_rules(mesh: Mesh, rules: Rules):
    """Within this block, `constrain` annotates activations for `mesh` by `rules`."""
    token = _CONTEXT.set((mesh, normalize_rules(rules)))
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def constrain(x: jax.Array, axes: Sequence[str | None]) -> jax.Array:
    """`with_sharding_constraint` by logical names; a no-op outside `use_rules`."""
    ctx = _CONTEXT.get()
    if ctx is None:
        return x
    mesh, rules = ctx
    return jax.lax.with_sharding_constraint(x, NamedSharding(mesh, logical_to_spec(axes, rules, mesh)))


# -------------------------------------------------------------- parameters
def _var_axes(var: Any) -> tuple[str | None, ...] | None:
    meta = var.get_metadata() if hasattr(var, "get_metadata") else {}
    return meta.get("out_sharding")


def state_shardings(state: Any, mesh: Mesh, rules: Rules) -> Any:
    """A tree like `state` (an nnx.State) with a NamedSharding for each variable."""
    from flax import nnx

    def one(var):
        if isinstance(var, nnx.Variable):
            return var.replace(NamedSharding(mesh, logical_to_spec(_var_axes(var), rules, mesh)))
        return NamedSharding(mesh, PartitionSpec())

    return jax.tree.map(one, state, is_leaf=lambda x: isinstance(x, nnx.Variable))


def create_sharded(constructor: Callable[[], Any], mesh: Mesh, rules: Rules) -> Any:
    """Build an NNX module directly sharded: the constructor is jitted with out_shardings.

    No full copy is ever made on one device: each device materialises only its own shards.
    """
    from flax import nnx

    abstract = nnx.eval_shape(constructor)
    graphdef, abstract_state = nnx.split(abstract)
    shardings = state_shardings(abstract_state, mesh, rules)

    init = jax.jit(lambda: nnx.state(constructor()), out_shardings=shardings)
    with use_rules(mesh, rules):
        state = init()
    return nnx.merge(graphdef, state)


def shard_model(model: Any, mesh: Mesh, rules: Rules) -> Any:
    """Move an existing model's state onto `mesh` by its logical axes (in place); returns it."""
    from flax import nnx

    state = nnx.state(model)
    shardings = state_shardings(state, mesh, rules)
    nnx.update(model, jax.device_put(state, shardings))
    return model


def describe(model: Any) -> dict[str, tuple[str, tuple[int, ...]]]:
    """{param path: (partition spec, shard shape)} — for tests and `inspect`."""
    from flax import nnx

    out = {}
    for path, var in nnx.to_flat_state(nnx.state(model, nnx.Param)):
        arr = var.get_value()
        shard = arr.sharding.shard_shape(arr.shape)
        out["/".join(map(str, path))] = (str(arr.sharding.spec), tuple(shard))
    return out
