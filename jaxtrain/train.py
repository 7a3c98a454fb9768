"""The SFT trainer: mesh-sharded Qwen3 training with a curriculum, Orbax exact resume and HF export.

    from termforge.jaxtrain.train import train
    summary = train(load_train_config("configs/train/tiny.yaml", ["train.steps=30"]), "runs/tiny")

Order of work (every check that can fail on bad input runs before anything is compiled):
  1. jax.distributed from the environment (multi-host), then config checks against the devices,
     tokenizer, shard sets, model config and attention implementations.
  2. Mesh from the config; parameters created (or loaded from HF / a checkpoint) directly sharded;
     AdamW (warmup + cosine, global-norm clipping) state sharded like the parameters.
  3. Resume: when RUN_DIR/checkpoints has steps, the latest restores model, opt_state, data_iter
     and meta; training continues bit-identically.
  4. Per curriculum stage: a Grain loader (pipeline.StageLoader) and an `nnx.jit` train step
     (donated model/optimizer, gradient accumulation by scan, remat policy) for its shapes.
  5. metrics.jsonl + TensorBoard + progress line; eval loss on held-out shards every N steps;
     checkpoints every N steps (async) and at the end; export to RUN_DIR/hf.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
from pathlib import Path
from typing import Any, Callable

from termforge.errors import ConfigError
from termforge.jaxtrain.train_config import (
    Stage,
    TrainConfig,
    check_against_devices,
    num_readers,
    stages,
    total_steps,
)

CKPT_SUBDIR = "checkpoints"
HF_SUBDIR = "hf"
CRASH_ENV = "TERMFORGE_TRAIN_CRASH_AT_STEP"  # test hook: SIGKILL this process after that step


# --------------------------------------------------------------------------- distributed
def maybe_initialize_distributed() -> dict[str, Any]:
    """`jax.distributed.initialize()` when the environment describes a multi-process job.

    Explicit: JAX_COORDINATOR_ADDRESS + JAX_NUM_PROCESSES + JAX_PROCESS_ID (any platform; on CPU
    the gloo collectives are selected). Auto-detected by JAX: SLURM (SLURM_NTASKS > 1), Open MPI
    (OMPI_COMM_WORLD_SIZE > 1) and Cloud TPU pods (TPU_WORKER_HOSTNAMES with several hosts).
    TERMFORGE_DISTRIBUTED=0 turns it off.
    """
    import jax

    if os.environ.get("TERMFORGE_DISTRIBUTED", "1") == "0":
        return {"mode": "off"}
    if jax.distributed.is_initialized():
        return {"mode": "already"}
    env = os.environ
    if env.get("JAX_COORDINATOR_ADDRESS") and env.get("JAX_NUM_PROCESSES"):
        try:
            n, pid = int(env["JAX_NUM_PROCESSES"]), int(env.get("JAX_PROCESS_ID", "-1"))
        except ValueError:
            raise ConfigError("JAX_NUM_PROCESSES and JAX_PROCESS_ID must be integers") from None
        if n > 1:
            if not 0 <= pid < n:
                raise ConfigError(f"JAX_PROCESS_ID must be in [0, {n}) when JAX_NUM_PROCESSES={n}")
            # CPU devices need a collectives implementation across processes; accelerators ignore it
            jax.config.update("jax_cpu_collectives_implementation", "gloo")
            jax.distributed.initialize(coordinator_address=env["JAX_COORDINATOR_ADDRESS"], num_processes=n,
                                       process_id=pid)
            return {"mode": "explicit", "num_processes": n, "process_id": pid}
        return {"mode": "single"}
    multi = (int(env.get("SLURM_NTASKS", "1") or 1) > 1 or int(env.get("OMPI_COMM_WORLD_SIZE", "1") or 1) > 1
             or len([h for h in env.get("TPU_WORKER_HOSTNAMES", "").split(",") if h]) > 1)
    if multi:
        jax.distributed.initialize()
        return {"mode": "auto"}
    return {"mode": "single"}


# --------------------------------------------------------------------------- optimizer
def make_schedule(cfg: TrainConfig, steps: int):
    """lr of optimizer update `count` (0-based): linear warmup to `lr` over warmup_steps updates
    (the first update already moves: lr / warmup_steps), then cosine to lr * min_lr_ratio."""
    import optax

    o = cfg.optimizer
    warmup = min(o.warmup_steps, max(steps - 1, 0))
    base = optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=o.lr, warmup_steps=warmup, decay_steps=max(steps, warmup + 1),
        end_value=o.lr * o.min_lr_ratio) if warmup else optax.cosine_decay_schedule(
        o.lr, decay_steps=max(steps - 1, 1), alpha=o.min_lr_ratio)
    return (lambda count: base(count + 1)) if warmup else base


def make_tx(cfg: TrainConfig, steps: int):
    import optax

    o = cfg.optimizer
    parts = [optax.clip_by_global_norm(o.grad_clip)] if o.grad_clip > 0 else []
    parts.append(optax.adamw(make_schedule(cfg, steps), b1=o.b1, b2=o.b2, eps=o.eps, weight_decay=o.weight_decay))
    return optax.chain(*parts)


# --------------------------------------------------------------------------- forward / loss
def _remat_policy(name: str):
    import jax

    cp = jax.checkpoint_policies
    return {"dots": cp.checkpoint_dots, "dots_no_batch": cp.checkpoint_dots_with_no_batch_dims,
            "everything_saveable": cp.everything_saveable}[name]


def forward(model, inputs, positions, segment_ids, remat: str = "none"):
    """Logits [batch, seq, vocab]. `none`/`full` use the model's own call (cfg.remat); named
    policies remat each decoder layer with that jax.checkpoint policy."""
    import jax.numpy as jnp
    from flax import nnx

    if remat in ("none", "full"):
        return model(inputs, positions, segment_ids)
    from termforge.jaxtrain.layers import rope_cos_sin
    from termforge.jaxtrain.sharding import constrain

    cfg = model.config
    x = jnp.take(model.embed_tokens[...], inputs, axis=0).astype(model.dtype)  # [batch, seq, embed]
    x = constrain(x, ("batch", "length", "act_embed"))
    cos, sin = rope_cos_sin(positions, cfg.head_dim, cfg.rope_theta, model.dtype)  # [batch, seq, head_dim]
    layer_fn = nnx.remat(lambda lyr, *a: lyr(*a), policy=_remat_policy(remat))
    for layer in model.layers:
        x, _ = layer_fn(layer, x, cos, sin, segment_ids)
    x = model.norm(x)
    head = model.embed_tokens[...].T if cfg.tie_word_embeddings else model.lm_head[...]  # [embed, vocab]
    return constrain(x @ head.astype(model.dtype), ("batch", "length", "vocab"))


def loss_sum(model, batch: dict, remat: str = "none"):
    """Sum over targets of weight * cross-entropy (float32), for one [rows, seq] batch."""
    import jax.numpy as jnp
    import optax

    logits = forward(model, batch["inputs"], batch["positions"], batch["segment_ids"], remat)
    ce = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), batch["targets"])  # [b, s]
    return jnp.sum(ce * batch["weights"])


def _batch_counts(batch: dict):
    import jax.numpy as jnp

    real = batch["segment_ids"] > 0
    tokens = jnp.sum(real, dtype=jnp.int32)
    seq_sq = jnp.sum(jnp.where(real, 2 * batch["positions"] + 1, 0), dtype=jnp.float32)  # sum of len^2
    return tokens, jnp.sum(batch["weights"]), seq_sq


def microbatches(batch: dict, grad_accum: int) -> dict:
    """[B, ...] -> [A, B/A, ...] per key; microbatch a = rows a, a+A, a+2A, ... (each spread over
    every data shard). Call inside `use_rules` (the rows keep the batch's sharding)."""
    from termforge.jaxtrain.sharding import constrain

    def split(x):
        x = x.reshape((x.shape[0] // grad_accum, grad_accum) + x.shape[1:]).swapaxes(0, 1)
        return constrain(x, (None, "batch", "length"))

    return {k: split(v) for k, v in batch.items()}


def make_train_step(*, grad_accum: int, remat: str, schedule, mesh=None, rules=None):
    """An `nnx.jit` step (model, optimizer, batch) -> metrics; model and optimizer are donated.

    The loss is the token-weighted mean over the whole global batch: with accumulation the
    microbatches (rows a, a+A, a+2A, ... so each is spread over every data shard) are scanned and
    their gradient sums divided by the batch's total weight once.
    """
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    from termforge.jaxtrain.sharding import use_rules

    def step(model, opt, batch):
        with use_rules(mesh, rules) if mesh is not None else _null():
            tokens, total_w, seq_sq = _batch_counts(batch)
            denom = jnp.maximum(total_w, 1.0)
            if grad_accum == 1:
                lsum, grads = nnx.value_and_grad(lambda m: loss_sum(m, batch, remat))(model)
            else:
                graphdef, params, rest = nnx.split(model, nnx.Param, ...)

                def micro(batch_a):
                    def f(p):
                        return loss_sum(nnx.merge(graphdef, p, rest), batch_a, remat)

                    return jax.value_and_grad(f)(params)

                micro_batches = microbatches(batch, grad_accum)

                def body(carry, mb):
                    l, g = micro(mb)
                    return (carry[0] + l, jax.tree.map(jnp.add, carry[1], g)), None

                zeros = jax.tree.map(jnp.zeros_like, params)
                (lsum, grads), _ = jax.lax.scan(body, (jnp.float32(0.0), zeros), micro_batches)
            grads = jax.tree.map(lambda g: g / denom, grads)
            grad_norm = optax.tree.norm(grads)
            lr = schedule(opt.step[...])
            opt.update(model, grads)
            return {"loss": lsum / denom, "grad_norm": grad_norm, "lr": lr, "tokens": tokens,
                    "loss_tokens": total_w, "seq_len_sq": seq_sq}

    return nnx.jit(step, donate_argnums=(0, 1))


def make_eval_step(*, grad_accum: int = 1, mesh=None, rules=None):
    """An `nnx.jit` step (model, batch) -> (sum of weighted cross-entropy, total weight).

    With grad_accum > 1 the batch is evaluated in the training step's microbatches (rows a, a+A,
    ...), scanned, so the eval step never needs more activation memory than a training step.
    """
    import jax
    import jax.numpy as jnp
    from flax import nnx

    from termforge.jaxtrain.sharding import use_rules

    def step(model, batch):
        with use_rules(mesh, rules) if mesh is not None else _null():
            if grad_accum == 1:
                return loss_sum(model, batch, "none"), jnp.sum(batch["weights"])

            def body(total, mb):
                return total + loss_sum(model, mb, "none"), None

            lsum, _ = jax.lax.scan(body, jnp.float32(0.0), microbatches(batch, grad_accum))
            return lsum, jnp.sum(batch["weights"])

    return nnx.jit(step)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


# --------------------------------------------------------------------------- helpers
def _set_attention(model, impl: str) -> None:
    """Switch every attention layer (and the model's config) to `impl` for the next stage."""
    object.__setattr__(model, "config", model.config.replace(attention_impl=impl))
    for layer in model.layers:
        layer.self_attn.attention_impl = impl


def _local_readers(sharding, batch_size: int, seq_len: int, readers: int) -> list[int]:
    """Readers whose rows land on this process's devices."""
    per = batch_size // readers
    need: set[int] = set()
    for idx in sharding.addressable_devices_indices_map((batch_size, seq_len)).values():
        rows = idx[0]
        start, stop, _ = rows.indices(batch_size)
        need.update(range(start // per, (stop - 1) // per + 1))
    return sorted(need)


def _global_batch(batch: dict, sharding) -> dict:
    import jax

    from termforge.jaxtrain.pipeline import BATCH_KEYS

    return {k: jax.make_array_from_callback(batch[k].shape, sharding, lambda idx, a=batch[k]: a[idx])
            for k in BATCH_KEYS}


def resolve_init(init: str | None) -> str | None:
    """An init source: a HF dir (config.json), a checkpoint dir, or a run dir (its checkpoints/)."""
    if init and not (Path(init) / "config.json").exists() and (Path(init) / CKPT_SUBDIR).is_dir():
        return str(Path(init) / CKPT_SUBDIR)
    return init


def _model_config(cfg: TrainConfig, first_stage: Stage):
    """The Qwen3Config of this run (checked, no arrays made)."""
    from termforge.jaxtrain.config import Qwen3Config, load_config

    init = resolve_init(cfg.init_from)
    if init and (Path(init) / "config.json").exists():
        mc = Qwen3Config.from_hf_json(init)
    elif init:
        from termforge.jaxtrain.checkpoint import load_meta

        _, meta = load_meta(init)
        mc = Qwen3Config.from_dict(meta["model_config"], source=f"{init} meta")
    else:
        mc = load_config(cfg.model)
    changes = dict(cfg.model_overrides)
    changes.update(param_dtype=cfg.train.param_dtype, dtype=cfg.train.compute_dtype,
                   remat=cfg.train.remat == "full", attention_impl=first_stage.attention_impl)
    try:
        return mc.replace(**changes)
    except TypeError as exc:
        raise ConfigError(f"model_overrides: {exc}") from None


def _tree_to_pure(tree):
    from flax import nnx

    return nnx.to_pure_dict(tree)


def _abstract_target(state, shardings):
    """ShapeDtypeStructs (with shardings) of a pure-dict state, as Orbax restore targets."""
    import jax

    return jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
                        _tree_to_pure(state), _tree_to_pure(shardings))


def _crash_hook(step: int, mngr) -> None:
    """Test hook: SIGKILL this process after `step` once its checkpoints are on disk (a preemption)."""
    at = os.environ.get(CRASH_ENV)
    if at and int(at) == step:
        mngr.wait_until_finished()
        os.kill(os.getpid(), signal.SIGKILL)


# --------------------------------------------------------------------------- trainer
@dataclasses.dataclass
class _Progress:
    """A rich progress line on stderr (process 0 only)."""

    total: int
    enabled: bool
    log: Callable[[str], None] | None = None
    _prog: Any = None
    _task: Any = None
    _every: int = 1

    def __enter__(self):
        from termforge.ui import console

        if self.enabled and not console.is_terminal:  # logs (CI, SLURM): a plain line every ~10%
            self._every = max(1, self.total // 10)
        elif self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            from termforge.ui import console

            self._prog = Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                                  transient=True)
            self._prog.__enter__()
            self._task = self._prog.add_task("", total=self.total)
        return self

    def update(self, step: int, text: str) -> None:
        if self._prog is not None:
            self._prog.update(self._task, completed=step, description=text)
        elif self.enabled and self.log is not None and text and (step % self._every == 0 or step == self.total):
            self.log(f"step {step}/{self.total} {text}")

    def __exit__(self, *a):
        if self._prog is not None:
            self._prog.__exit__(*a)
        return False


def train(cfg: TrainConfig, run_dir: str | os.PathLike, *, progress: bool = True,
          log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run (or resume) the training run `cfg` in `run_dir`; returns the summary dict."""
    dist = maybe_initialize_distributed()
    import jax
    from flax import nnx

    from termforge.jaxtrain import checkpoint as ckpt
    from termforge.jaxtrain.attention import get_attention
    from termforge.jaxtrain.data import open_shards
    from termforge.jaxtrain.metrics import MetricsWriter, peak_flops_per_device, step_flops
    from termforge.jaxtrain.model import Qwen3ForCausalLM, count_params
    from termforge.jaxtrain.pipeline import Prefetcher, StageLoader, eval_batches
    from termforge.jaxtrain.sharding import DEFAULT_RULES, create_sharded, logical_to_spec, make_mesh, state_shardings
    from termforge.jaxtrain.tokenizer import load_tokenizer

    # ---- 1. every input check, before anything is compiled
    run_dir = Path(run_dir)
    pidx, pcount = jax.process_index(), jax.process_count()
    dims = check_against_devices(cfg, jax.device_count(), pcount)
    plan = stages(cfg)
    n_steps = total_steps(cfg)
    for s in plan:
        get_attention(s.attention_impl)
    tokenizer = load_tokenizer(cfg.data.tokenizer)
    train_sets = [open_shards(s.path, verify=cfg.data.verify_shards) for s in cfg.data.shards]
    eval_sets = [open_shards(s.path, verify=cfg.data.verify_shards) for s in cfg.data.eval_shards]
    mcfg = _model_config(cfg, plan[0])
    if len(tokenizer) > mcfg.vocab_size:
        raise ConfigError(f"tokenizer {cfg.data.tokenizer} has {len(tokenizer)} tokens, more than the model's "
                          f"vocab_size {mcfg.vocab_size}")
    readers = num_readers(cfg, pcount)
    rules = cfg.rules if cfg.rules is not None else DEFAULT_RULES
    say = log if (log is not None and pidx == 0) else (lambda _m: None)

    # ---- 2. mesh, sharded parameters and optimizer
    mesh = make_mesh(dims)
    run_dir.mkdir(parents=True, exist_ok=True)
    mngr = ckpt.train_manager(run_dir / CKPT_SUBDIR, max_to_keep=cfg.checkpoint.max_to_keep,
                              async_save=cfg.checkpoint.async_save)
    latest = mngr.latest_step()
    tx = make_tx(cfg, n_steps)
    schedule = make_schedule(cfg, n_steps)

    def build_model():
        return Qwen3ForCausalLM(mcfg, rngs=nnx.Rngs(cfg.seed))

    abstract_model = nnx.eval_shape(build_model)
    model_shardings = state_shardings(nnx.state(abstract_model, nnx.Param), mesh, rules)
    init_from = resolve_init(cfg.init_from)
    if latest is None and init_from:
        if (Path(init_from) / "config.json").exists():
            from termforge.jaxtrain.hf import from_pretrained

            model = from_pretrained(init_from, dtype=mcfg.param_dtype, compute_dtype=mcfg.dtype, mesh=mesh,
                                    rules=rules, attention_impl=mcfg.attention_impl)
            object.__setattr__(model, "config", mcfg)
        else:
            model, _ = ckpt.restore_model(init_from, mesh=mesh, rules=rules, param_dtype=mcfg.param_dtype,
                                          dtype=mcfg.dtype, attention_impl=mcfg.attention_impl)
        if mcfg.remat:
            object.__setattr__(model, "config", model.config.replace(remat=True))
        init_source = str(init_from)
    elif latest is None:
        model = create_sharded(build_model, mesh, rules)
        init_source = f"random (seed {cfg.seed})"
    else:
        model = create_sharded(build_model, mesh, rules)  # restored below; init is cheap next to training
        init_source = "resume"
    abstract_opt = nnx.eval_shape(lambda: nnx.Optimizer(abstract_model, tx, wrt=nnx.Param))
    opt_shardings = state_shardings(nnx.state(abstract_opt), mesh, rules)
    opt = nnx.Optimizer(model, tx, wrt=nnx.Param)  # zeros like the (sharded) parameters
    nnx.update(opt, jax.device_put(nnx.state(opt), opt_shardings))

    # ---- 3. resume
    step, tokens_seen, data_state = 0, 0, None
    if latest is not None:
        restored = ckpt.restore_train_state(
            mngr, latest,
            params_target=_abstract_target(nnx.state(model, nnx.Param), model_shardings),
            opt_target=_abstract_target(nnx.state(opt), opt_shardings))
        params_state = nnx.state(model, nnx.Param)
        nnx.replace_by_pure_dict(params_state, restored["model"])
        nnx.update(model, params_state)
        opt_state = nnx.state(opt)
        nnx.replace_by_pure_dict(opt_state, restored["opt_state"])
        nnx.update(opt, opt_state)
        meta = restored["meta"]
        step, tokens_seen, data_state = int(meta["step"]), int(meta.get("tokens_seen", 0)), restored["data_iter"]
        if meta.get("train_config", {}).get("curriculum") != cfg.to_dict()["curriculum"] and pidx == 0:
            say(f"warning: resuming {run_dir} with a different curriculum than it was started with")
        say(f"resumed {run_dir} at step {step} ({tokens_seen:,} tokens seen)")

    n_params = count_params(model)
    writer = MetricsWriter(run_dir, resume_step=step if latest is not None else None) if pidx == 0 else None
    if writer is not None and writer.tb is None:
        say("note: tensorboardX is not installed: no TensorBoard events (metrics.jsonl is written)")
    if pidx == 0:
        (run_dir / "train_config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    batch_sharding = jax.sharding.NamedSharding(mesh, logical_to_spec(("batch", "length"), rules, mesh))
    remat = cfg.train.remat
    train_step = make_train_step(grad_accum=cfg.train.grad_accum, remat=remat, schedule=schedule, mesh=mesh,
                                 rules=rules)
    eval_step = make_eval_step(grad_accum=cfg.train.grad_accum, mesh=mesh, rules=rules)
    peak = peak_flops_per_device(jax.devices()[0].device_kind) * jax.device_count()
    pad_id = 0

    def meta_for(step_: int, stage: Stage) -> dict[str, Any]:
        return ckpt.make_meta(model.config, schema=ckpt.TRAIN_META_SCHEMA, train_config=cfg.to_dict(), step=step_,
                              tokens_seen=tokens_seen, stage=stage.index, stage_name=stage.name,
                              process_count=pcount, mesh=dims, time=time.time())

    def save(step_: int, stage: Stage, state: dict) -> None:
        ckpt.save_train_state(mngr, step_, params=_tree_to_pure(nnx.state(model, nnx.Param)),
                              opt_state=_tree_to_pure(nnx.state(opt)), data_state=state, meta=meta_for(step_, stage))

    def run_eval(stage: Stage, cache: dict) -> float | None:
        if not eval_sets:
            return None
        key = (stage.seq_len, stage.batch_size)
        if key not in cache:
            cache[key] = eval_batches(eval_sets, tokenizer, seq_len=stage.seq_len, batch_size=stage.batch_size,
                                      num_batches=cfg.train.eval_batches, overlength=cfg.data.overlength,
                                      vocab_size=mcfg.vocab_size, pad_id=pad_id)
        tot = wsum = 0.0
        for b in cache[key]:
            ls, w = eval_step(model, _global_batch(b, batch_sharding))
            tot += float(ls)
            wsum += float(w)
        return tot / max(wsum, 1.0)

    # ---- 4/5. the loop
    history: list[dict[str, Any]] = []
    eval_cache: dict = {}
    eval_loss = None
    t_start = time.perf_counter()
    compile_s = 0.0
    last_state: dict | None = data_state
    say(f"training {cfg.model} ({n_params:,} params, {mcfg.param_dtype}/{mcfg.dtype}) on mesh "
        f"{' '.join(f'{a}={v}' for a, v in dims.items())} ({jax.device_count()} {jax.devices()[0].platform} devices, "
        f"{pcount} process{'es' if pcount > 1 else ''}), {n_steps} steps in {len(plan)} stage(s), init {init_source}")
    try:
        with _Progress(n_steps, progress and pidx == 0, say) as bar:
            bar.update(step, "")
            for stage in plan:
                if step >= stage.end:
                    continue
                _set_attention(model, stage.attention_impl)
                local = _local_readers(batch_sharding, stage.batch_size, stage.seq_len, readers)
                loader = StageLoader(cfg.data, stage, train_sets, tokenizer, num_readers=readers,
                                     local_readers=local, vocab_size=mcfg.vocab_size, pad_id=pad_id)
                if last_state is not None and last_state.get("stage") == stage.index:
                    loader.set_state(last_state)
                last_state = loader.get_state()
                prefetch = Prefetcher(loader, depth=2)
                first = True
                try:
                    while step < stage.end:
                        t0 = time.perf_counter()
                        host, state = next(prefetch)
                        t_data = time.perf_counter() - t0
                        batch = _global_batch(host, batch_sharding)
                        out = jax.device_get(train_step(model, opt, batch))
                        dt = time.perf_counter() - t0
                        if first:
                            compile_s += dt
                        step += 1
                        last_state = state
                        tokens = int(out["tokens"])
                        tokens_seen += tokens
                        flops = step_flops(mcfg, tokens, float(out["seq_len_sq"]))
                        rec = {"step": step, "stage": stage.name, "loss": float(out["loss"]), "lr": float(out["lr"]),
                               "grad_norm": float(out["grad_norm"]), "tokens": tokens,
                               "loss_tokens": int(out["loss_tokens"]), "tokens_per_s": tokens / dt,
                               "mfu": flops / dt / peak,
                               "padding_efficiency": tokens / (stage.batch_size * stage.seq_len),
                               "step_time_s": dt, "data_wait_s": t_data, "tokens_seen": tokens_seen,
                               "compiled": first}
                        first = False
                        ev_due = eval_sets and ((cfg.train.eval_every and step % cfg.train.eval_every == 0)
                                                or step == n_steps)
                        if ev_due:
                            eval_loss = run_eval(stage, eval_cache)
                            rec["eval_loss"] = eval_loss
                        history.append(rec)
                        if writer is not None and (step % cfg.train.log_every == 0 or step == n_steps or ev_due):
                            writer.write(rec)
                        bar.update(step, f"{stage.name} loss {rec['loss']:.4f} lr {rec['lr']:.2e} "
                                         f"{rec['tokens_per_s']:,.0f} tok/s"
                                         + (f" eval {eval_loss:.4f}" if eval_loss is not None else ""))
                        every = cfg.checkpoint.every
                        if cfg.checkpoint.enabled and ((every and step % every == 0) or step == n_steps):
                            save(step, stage, state)
                        _crash_hook(step, mngr)
                finally:
                    prefetch.close()
    finally:
        mngr.wait_until_finished()
        mngr.close()
        if writer is not None:
            writer.close()
    wall = time.perf_counter() - t_start

    # ---- export
    hf_dir = None
    if cfg.checkpoint.export_hf:
        from termforge.jaxtrain.hf import to_pretrained

        hf_dir = run_dir / HF_SUBDIR
        params = nnx.state(model, nnx.Param)
        if pcount > 1:  # gather: every process holds a full copy, process 0 writes
            params = jax.device_put(params, jax.tree.map(
                lambda _: jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()), params))
            nnx.update(model, params)
        if pidx == 0:
            export_cfg = model.config.replace(remat=False, attention_impl="reference")
            object.__setattr__(model, "config", export_cfg)
            to_pretrained(model, hf_dir, tokenizer_dir=cfg.data.tokenizer)

    steady = [h for h in history if not h["compiled"]]
    tok_s = (sum(h["tokens"] for h in steady) / sum(h["step_time_s"] for h in steady)) if steady else 0.0
    summary = {
        "run_dir": str(run_dir), "steps": step, "stages": [{"name": s.name, "steps": s.steps, "seq_len": s.seq_len,
                                                             "batch_size": s.batch_size,
                                                             "attention_impl": s.attention_impl} for s in plan],
        "params": n_params, "mesh": dims, "processes": pcount, "distributed": dist["mode"],
        "first_loss": history[0]["loss"] if history else None, "final_loss": history[-1]["loss"] if history else None,
        "eval_loss": eval_loss, "tokens_seen": tokens_seen, "tokens_per_s": tok_s,
        "mfu": (sum(h["mfu"] * h["step_time_s"] for h in steady) / max(sum(h["step_time_s"] for h in steady), 1e-9))
        if steady else 0.0,
        "padding_efficiency": (sum(h["tokens"] for h in history) / max(sum(_slots(h, plan) for h in history), 1))
        if history else None,
        "wall_s": wall, "compile_s": compile_s, "resumed_from": latest, "hf_dir": str(hf_dir) if hf_dir else None,
        "steps_this_run": len(history),
    }
    if pidx == 0:
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _slots(rec: dict, plan: list[Stage]) -> int:
    s = next(s for s in plan if s.name == rec["stage"])
    return s.batch_size * s.seq_len
