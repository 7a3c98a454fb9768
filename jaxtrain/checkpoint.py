"""Orbax checkpoints of a model (DESIGN §6): a CheckpointManager directory whose steps hold items
`model` (the parameters as a pure dict) and `meta` (JSON: the model config and provenance).

Training checkpoints add `opt_state` and `data_iter`; this module reads only `model` and `meta`,
so `termforge export` accepts both what `import-hf` writes and what the trainer writes.
A tokenizer given at import time is copied to `<ckpt>/tokenizer/` for export to pick up.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from termforge.errors import ConfigError, TermforgeError
from termforge.jaxtrain.config import Qwen3Config

META_SCHEMA = "termforge.model/1"
TOKENIZER_SUBDIR = "tokenizer"


def _manager(ckpt_dir: Path, create: bool):
    import orbax.checkpoint as ocp

    return ocp.CheckpointManager(
        ckpt_dir.absolute(),
        item_names=("model", "meta"),
        options=ocp.CheckpointManagerOptions(create=create, max_to_keep=None),
    )


def make_meta(config: Qwen3Config, **extra: Any) -> dict[str, Any]:
    return {"schema": META_SCHEMA, "model_config": config.to_dict(), **extra}


def save_model(ckpt_dir: str | os.PathLike, model, *, step: int = 0, meta: dict[str, Any] | None = None,
               tokenizer_dir: str | os.PathLike | None = None) -> Path:
    """Save `model`'s parameters and meta as `step` of a CheckpointManager directory."""
    import orbax.checkpoint as ocp
    from flax import nnx

    ckpt_dir = Path(ckpt_dir)
    meta = dict(meta or {})
    meta.setdefault("schema", META_SCHEMA)
    meta["model_config"] = model.config.to_dict()
    params = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    mngr = _manager(ckpt_dir, create=True)
    if step in mngr.all_steps():
        raise TermforgeError(f"{ckpt_dir}: step {step} already exists; choose an empty checkpoint directory")
    mngr.save(step, args=ocp.args.Composite(model=ocp.args.StandardSave(params), meta=ocp.args.JsonSave(meta)))
    mngr.wait_until_finished()
    mngr.close()
    if tokenizer_dir:
        from termforge.jaxtrain.hf import copy_tokenizer_files

        dest = ckpt_dir / TOKENIZER_SUBDIR
        dest.mkdir(parents=True, exist_ok=True)
        copy_tokenizer_files(tokenizer_dir, dest)
    return ckpt_dir


def _steps(ckpt_dir: Path) -> tuple[Any, list[int]]:
    if not ckpt_dir.is_dir():
        raise ConfigError(f"{ckpt_dir}: checkpoint directory not found")
    mngr = _manager(ckpt_dir, create=False)
    steps = sorted(mngr.all_steps())
    if not steps:
        mngr.close()
        raise ConfigError(f"{ckpt_dir}: no checkpoint steps (not an Orbax CheckpointManager directory)")
    return mngr, steps


def load_meta(ckpt_dir: str | os.PathLike, step: int | None = None) -> tuple[int, dict[str, Any]]:
    """(step, meta) of `step` (default: the latest)."""
    import orbax.checkpoint as ocp

    ckpt_dir = Path(ckpt_dir)
    mngr, steps = _steps(ckpt_dir)
    step = steps[-1] if step is None else step
    if step not in steps:
        raise ConfigError(f"{ckpt_dir}: no step {step} (have {steps})")
    try:
        meta = mngr.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
    except Exception as exc:  # noqa: BLE001 - orbax raises many kinds
        raise ConfigError(f"{ckpt_dir}: step {step} has no readable `meta` item ({type(exc).__name__})") from None
    finally:
        mngr.close()
    if not isinstance(meta, dict) or "model_config" not in meta:
        raise ConfigError(f"{ckpt_dir}: step {step} meta has no model_config")
    return step, meta


def restore_model(ckpt_dir: str | os.PathLike, *, step: int | None = None, mesh=None, rules=None,
                  **config_overrides: Any):
    """(model, meta) from a checkpoint; parameters are placed sharded when `mesh` is given.

    config_overrides change computation-only fields (dtype, attention_impl, remat); a different
    param_dtype casts after loading.
    """
    import jax
    import jax.numpy as jnp
    import orbax.checkpoint as ocp
    from flax import nnx

    from termforge.jaxtrain.model import Qwen3ForCausalLM
    from termforge.jaxtrain.sharding import state_shardings

    ckpt_dir = Path(ckpt_dir)
    step, meta = load_meta(ckpt_dir, step)
    cfg = Qwen3Config.from_dict(meta["model_config"], source=f"{ckpt_dir} meta")
    stored_dtype = cfg.param_dtype
    new_dtype = config_overrides.pop("param_dtype", None)
    cfg = cfg.replace(**config_overrides) if config_overrides else cfg
    abstract = nnx.eval_shape(lambda: Qwen3ForCausalLM(cfg, rngs=nnx.Rngs(0)))
    graphdef, abstract_state = nnx.split(abstract)
    params_abstract = nnx.state(abstract, nnx.Param)
    if mesh is not None:
        shardings = state_shardings(params_abstract, mesh, rules or ())
        target = jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
                              nnx.to_pure_dict(params_abstract), nnx.to_pure_dict(shardings))
    else:
        target = nnx.to_pure_dict(params_abstract)
    mngr = _manager(ckpt_dir, create=False)
    try:
        restored = mngr.restore(step, args=ocp.args.Composite(model=ocp.args.StandardRestore(target)))["model"]
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(f"{ckpt_dir}: cannot restore item `model` of step {step}: "
                          f"{' '.join(str(exc).split())[:300]}") from None
    finally:
        mngr.close()
    nnx.replace_by_pure_dict(abstract_state, restored)
    model = nnx.merge(graphdef, abstract_state)
    if new_dtype and new_dtype != stored_dtype:
        cfg = cfg.replace(param_dtype=new_dtype)
        state = jax.tree.map(lambda x: x.astype(jnp.dtype(new_dtype)), nnx.state(model, nnx.Param))
        object.__setattr__(model, "config", cfg)
        nnx.update(model, state)
    return model, meta


def tokenizer_dir(ckpt_dir: str | os.PathLike) -> Path | None:
    """The tokenizer stored next to a checkpoint, if any."""
    p = Path(ckpt_dir) / TOKENIZER_SUBDIR
    return p if (p / "tokenizer_config.json").exists() or (p / "tokenizer.json").exists() else None


def remove_checkpoint(ckpt_dir: str | os.PathLike) -> None:
    shutil.rmtree(ckpt_dir, ignore_errors=True)


# --------------------------------------------------------------------- training checkpoints
TRAIN_ITEMS = ("model", "opt_state", "data_iter", "meta")
TRAIN_META_SCHEMA = "termforge.train/1"


def train_manager(ckpt_dir: str | os.PathLike, *, max_to_keep: int | None = 3, async_save: bool = True):
    """A CheckpointManager for training: items model, opt_state, data_iter (Grain, one JSON file per
    process), meta (JSON). `termforge export` reads the same directory (items model + meta)."""
    import grain.checkpoint  # noqa: F401 - registers CheckpointSave/CheckpointRestore with Orbax
    import orbax.checkpoint as ocp

    return ocp.CheckpointManager(
        Path(ckpt_dir).absolute(),
        item_names=TRAIN_ITEMS,
        options=ocp.CheckpointManagerOptions(create=True, max_to_keep=max_to_keep,
                                             enable_async_checkpointing=async_save),
    )


def _iter_state_holder(state: Any = None):
    """A Grain DatasetIterator that only carries a JSON state, for grain's Orbax handler.

    Saving a frozen copy (not the live iterator) keeps an async save exact while training
    goes on.
    """
    import grain

    class _IterState(grain.DatasetIterator):
        def __init__(self, s):
            super().__init__()
            self.state = s

        def __next__(self):
            raise StopIteration

        def get_state(self):
            return self.state

        def set_state(self, s):
            self.state = s

    return _IterState(state)


def save_train_state(mngr, step: int, *, params: Any, opt_state: Any, data_state: dict[str, Any],
                     meta: dict[str, Any]) -> None:
    """Save one training step (async when the manager is): pure-dict params and optimizer state."""
    import grain
    import orbax.checkpoint as ocp

    meta = dict(meta)
    meta.setdefault("schema", TRAIN_META_SCHEMA)
    mngr.save(step, args=ocp.args.Composite(
        model=ocp.args.StandardSave(params),
        opt_state=ocp.args.StandardSave(opt_state),
        data_iter=grain.checkpoint.CheckpointSave(_iter_state_holder(data_state)),
        meta=ocp.args.JsonSave(meta),
    ), force=True)


def restore_train_state(mngr, step: int, *, params_target: Any, opt_target: Any) -> dict[str, Any]:
    """{"model", "opt_state", "data_iter", "meta"} of `step`; targets carry shapes, dtypes, shardings."""
    import grain
    import orbax.checkpoint as ocp

    holder = _iter_state_holder()
    try:
        out = mngr.restore(step, args=ocp.args.Composite(
            model=ocp.args.StandardRestore(params_target),
            opt_state=ocp.args.StandardRestore(opt_target),
            data_iter=grain.checkpoint.CheckpointRestore(holder),
            meta=ocp.args.JsonRestore(),
        ))
    except Exception as exc:  # noqa: BLE001 - orbax raises many kinds
        raise ConfigError(f"{mngr.directory}: cannot restore training step {step} "
                          f"({type(exc).__name__}: {' '.join(str(exc).split())[:300]})") from None
    return {"model": out["model"], "opt_state": out["opt_state"], "data_iter": holder.state, "meta": out["meta"]}
