"""CLI commands of the training stack (registered by termforge.cli).

Heavy imports (jax, transformers) happen inside the command functions so `termforge --help`
stays fast. Bad input raises TermforgeError, which the CLI prints as one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def _progress_callback(prog, description: str):
    task = prog.add_task(description, total=None)

    def update(done: int, total: int, name: str) -> None:
        prog.update(task, completed=done, total=total)

    return update


def import_hf(
    hf_dir: Path = typer.Argument(..., help="Hugging Face Qwen3ForCausalLM directory (config.json + safetensors)."),
    ckpt_dir: Path = typer.Argument(..., help="Orbax checkpoint directory to create (step 0: model + meta)."),
    dtype: Optional[str] = typer.Option(None, help="Parameter dtype (float32|bfloat16|float16); default: as stored."),
    tokenizer: Optional[Path] = typer.Option(None, help="Tokenizer dir to keep with the checkpoint (default: HF_DIR's)."),
) -> None:
    """Import a Hugging Face Qwen3 model into an Orbax checkpoint."""
    from termforge.jaxtrain import checkpoint, hf
    from termforge.ui import progress, stdout

    with progress(transient=True) as prog:
        model = hf.from_pretrained(hf_dir, dtype=dtype, progress=_progress_callback(prog, "reading tensors"))
    tok = tokenizer
    if tok is None and any((hf_dir / n).exists() for n in ("tokenizer.json", "tokenizer_config.json")):
        tok = hf_dir
    meta = {"source": {"kind": "hf", "path": str(hf_dir.absolute())}}
    gen = hf_dir / "generation_config.json"
    if gen.exists():
        import json

        try:
            meta["generation_config"] = json.loads(gen.read_text())
        except json.JSONDecodeError:
            pass
    checkpoint.save_model(ckpt_dir, model, step=0, meta=meta, tokenizer_dir=tok)
    from termforge.jaxtrain.model import count_params

    cfg = model.config
    stdout.print(f"imported {hf_dir} -> {ckpt_dir}: {count_params(model):,} params, {cfg.num_hidden_layers} layers, "
                 f"{cfg.param_dtype}{', tokenizer kept' if tok else ''}")


def export(
    ckpt_dir: Path = typer.Argument(..., help="Checkpoint directory (import-hf or training CheckpointManager)."),
    hf_dir: Path = typer.Argument(..., help="Output Hugging Face directory."),
    step: Optional[int] = typer.Option(None, help="Step to export (default: latest)."),
    dtype: Optional[str] = typer.Option(None, help="Output dtype (default: the parameter dtype)."),
    max_shard_size: str = typer.Option("5GB", help="Split safetensors above this size (e.g. 5GB, 500MB)."),
    tokenizer: Optional[Path] = typer.Option(None, help="Tokenizer dir to copy (default: the checkpoint's)."),
) -> None:
    """Export a checkpoint as a Hugging Face Qwen3ForCausalLM directory."""
    from termforge.jaxtrain import checkpoint, hf
    from termforge.ui import progress, stdout

    model, meta = checkpoint.restore_model(ckpt_dir, step=step)
    tok = tokenizer or checkpoint.tokenizer_dir(ckpt_dir)
    generation = meta.get("generation_config")
    with progress(transient=True) as prog:
        summary = hf.to_pretrained(model, hf_dir, dtype=dtype, max_shard_size=max_shard_size, tokenizer_dir=tok,
                                   generation=generation, progress=_progress_callback(prog, "writing tensors"))
    stdout.print(f"exported {ckpt_dir} -> {hf_dir}: {summary['tensors']} tensors, {len(summary['files'])} "
                 f"safetensors file(s), {summary['total_bytes'] / 1e6:.1f} MB {summary['dtype']}"
                 f"{', tokenizer copied' if summary['tokenizer_files'] else ''}")


def tokenizer_cmd(
    text_files: List[Path] = typer.Argument(..., help="Plain UTF-8 text files to train on."),
    vocab_size: int = typer.Option(..., "--vocab-size", help="Vocabulary size, special tokens included."),
    out: Path = typer.Option(..., "--out", help="Output Hugging Face tokenizer directory."),
    min_frequency: int = typer.Option(2, help="Minimum pair frequency for a merge."),
) -> None:
    """Train a byte-level BPE tokenizer with Qwen3's special tokens and chat template."""
    from termforge.jaxtrain.tokenizer import train_tokenizer
    from termforge.ui import console, stdout

    with console.status("training BPE"):
        info = train_tokenizer(text_files, vocab_size=vocab_size, out_dir=out, min_frequency=min_frequency)
    stdout.print(f"tokenizer -> {out}: vocab {info['vocab_size']}, special tokens {info['special_tokens']}")


def train_cmd(
    config: Path = typer.Argument(..., help="Training config YAML (e.g. configs/train/tiny.yaml)."),
    overrides: List[str] = typer.Option([], "--set", help="Override a config key: --set train.steps=30 (repeatable)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run directory (default: runs/<config name>)."),
    init_from: Optional[str] = typer.Option(None, "--init-from", help="Start from a Hugging Face dir or checkpoint."),
    target: Optional[str] = typer.Option(None, "--target", help="A `targets:` entry of the config (recipes): its "
                                         "mesh and grad_accum. Same as --set target=NAME."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress line (logs only)."),
) -> None:
    """Supervised fine-tuning of a Qwen3 model on shard sets (curriculum, sharding, exact resume)."""
    from termforge.jaxtrain.train_config import load_train_config
    from termforge.ui import console, stdout

    cfg = load_train_config(config, list(overrides) + ([f"target={target}"] if target else []))
    if init_from is not None:
        cfg = cfg.replace(init_from=init_from)
    run_dir = out or Path("runs") / Path(config).stem
    from termforge.jaxtrain.train import train

    s = train(cfg, run_dir, progress=not no_progress, log=lambda m: console.print(m, soft_wrap=True))
    import jax

    if jax.process_index() != 0:
        return
    stage_txt = ", ".join(f"{st['name']} {st['steps']}x{st['batch_size']}x{st['seq_len']}" for st in s["stages"])
    hf = f" (hf: {s['hf_dir']})" if s["hf_dir"] else ""
    if not s["steps_this_run"]:
        stdout.print(f"nothing to train: {s['run_dir']} is complete at step {s['steps']} ({stage_txt}){hf}",
                     soft_wrap=True)
        return
    ev = f", eval {s['eval_loss']:.4f}" if s["eval_loss"] is not None else ""
    resumed = f", resumed from step {s['resumed_from']}" if s["resumed_from"] is not None else ""
    stdout.print(f"trained {s['steps']} steps ({stage_txt}) in {s['wall_s']:.1f}s{resumed}: loss "
                 f"{s['first_loss']:.4f} -> {s['final_loss']:.4f}{ev}, {s['tokens_per_s']:,.0f} tok/s, mfu "
                 f"{100 * s['mfu']:.2f}%, padding efficiency {100 * (s['padding_efficiency'] or 0):.1f}% -> "
                 f"{s['run_dir']}{hf}", soft_wrap=True)


def plan_memory_cmd(
    config: Path = typer.Argument(..., help="Training config YAML (e.g. configs/recipes/nemotron-terminal-8b.yaml)."),
    targets: List[str] = typer.Option([], "--target", help="Target(s) of the config to plan (default: all)."),
    chip: Optional[str] = typer.Option(None, "--chip", help="For a config without targets: the chip (tpu-v5p, "
                                       "h100-80gb, ...), with --devices; the mesh is the config's."),
    devices: Optional[int] = typer.Option(None, "--devices", help="For a config without targets: the chip count."),
    overrides: List[str] = typer.Option([], "--set", help="Override a config key (repeatable)."),
    margin: float = typer.Option(0.9, "--margin", help="Share of the chip's HBM a plan may use."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the plans as JSON here."),
) -> None:
    """Memory per device of a training config on its target machines, from abstract shapes (nothing
    is allocated): parameters, gradients, optimizer state and activations per curriculum stage vs HBM."""
    import json

    from termforge.errors import ConfigError
    from termforge.jaxtrain.memory import plan_memory
    from termforge.jaxtrain.train_config import load_train_config
    from termforge.ui import stdout

    cfg = load_train_config(config, overrides)
    name = Path(config).stem
    if chip is not None or devices is not None:
        if chip is None or devices is None or targets:
            raise ConfigError("--chip and --devices go together, and not with --target")
        plans = [plan_memory(cfg.replace(target=None), chip=chip, devices=devices, margin=margin, name=name)]
    else:
        names = targets or ([cfg.target] if cfg.target else [t.name for t in cfg.targets])
        if not names:
            raise ConfigError(f"{config} has no targets: give --chip and --devices")
        plans = [plan_memory(cfg, n, margin=margin, name=name) for n in names]
    for plan in plans:
        stdout.print(plan.table(), soft_wrap=True, markup=False)
        stdout.print()
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps([p.to_dict() for p in plans], indent=2) + "\n")
    bad = [p for p in plans if not p.fits]
    peak = max(plans, key=lambda p: p.peak.total / p.chip.hbm_bytes if p.peak else 0)
    if bad:
        stdout.print(f"{len(bad)} of {len(plans)} target(s) do not fit: " + "; ".join(p.verdict() for p in bad),
                     soft_wrap=True, markup=False)
        raise typer.Exit(1)
    stdout.print(f"{len(plans)} target(s) fit; highest: {peak.verdict().split(': fits: ', 1)[-1]} on {peak.target}",
                 soft_wrap=True, markup=False)


def register(app: typer.Typer) -> None:
    """Add this part's subcommands to the `termforge` app."""
    app.command("import-hf")(import_hf)
    app.command("export")(export)
    app.command("tokenizer")(tokenizer_cmd)
    app.command("train")(train_cmd)
    app.command("plan-memory")(plan_memory_cmd)
