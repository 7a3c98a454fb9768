"""CLI commands of the evaluation part: `eval`, `eval-compare`, `serve` (registered by termforge.cli).

Heavy imports happen inside the command functions so `termforge --help` stays fast. Bad input
(an unreachable endpoint, a checkpoint of another architecture, a folder without tasks) raises
TermforgeError, which the CLI prints as one line with exit status 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from termforge.executor.commands import backend_option, ray_address_option

MODEL_HELP = "CKPT_OR_HF_DIR | openai:URL#MODEL | oracle | nop"
IMAGE_MAP_HELP = "Map a Dockerfile base image to a local one: SOURCE=LOCAL (repeatable)."


def eval_cmd(
    tasks: List[Path] = typer.Argument(..., help="Task directories, or folders of tasks (TB2 format)."),
    model: str = typer.Option(..., "--model", "-m", help=MODEL_HELP),
    out: Path = typer.Option(..., "--out", help="Run directory (index.jsonl, trials/, report.json); resumable."),
    attempts: int = typer.Option(1, "--attempts", "-k", min=1, help="Attempts per task (pass@k up to k)."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Attempts in parallel (--backend local)."),
    max_turns: int = typer.Option(50, "--max-turns", min=1, help="Assistant turns per episode."),
    temperature: float = typer.Option(0.7, "--temperature", min=0.0, help="Sampling temperature (0 = greedy)."),
    top_p: float = typer.Option(1.0, "--top-p", min=0.0, max=1.0, help="Nucleus sampling mass."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", min=1,
                                             help="Tokens per assistant turn (default 2048; local models: "
                                                  "min(2048, context/4))."),
    seed: int = typer.Option(0, "--seed", help="Base seed: every model call's seed derives from it."),
    base_image_map: List[str] = typer.Option([], "--base-image-map", help=IMAGE_MAP_HELP),
    corpus_index: Optional[Path] = typer.Option(None, "--corpus-index",
                                                help="Training corpus (n-gram index, JSONL, shard set or "
                                                     "task folder): warn on overlapping instructions."),
    contamination_threshold: float = typer.Option(0.5, "--contamination-threshold", min=0.0, max=1.0,
                                                  help="Share of 8-grams that counts as overlap."),
    tokenizer: Optional[Path] = typer.Option(None, "--tokenizer", help="Tokenizer dir (default: the model's)."),
    max_context: Optional[int] = typer.Option(None, "--max-context", min=64,
                                              help="Context of a local model (default min(8192, model's))."),
    slots: int = typer.Option(4, "--slots", min=1, help="Batch rows of the local decoder."),
    allow_internet: bool = typer.Option(False, "--allow-internet",
                                        help="Give network to tasks whose task.toml allows internet."),
    skip_network_tasks: bool = typer.Option(False, "--skip-network-tasks",
                                            help="Don't run tasks whose tests download; count them as needs network."),
    retry_errors: bool = typer.Option(False, "--retry-errors", help="On resume, rerun infrastructure errors."),
    api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env", help="Env var with the endpoint's key."),
    backend: str = backend_option(),
    ray_address: Optional[str] = ray_address_option(),
) -> None:
    """Evaluate a model on Terminal-Bench-2.0-format tasks: fresh sandbox per attempt, the task's verifier decides."""
    from rich.table import Table

    from termforge.eval.backends import Sampling, open_provider, parse_model_spec
    from termforge.eval.report import write_report
    from termforge.errors import ConfigError
    from termforge.eval.runner import EvalOptions, run_eval
    from termforge.executor.backend import open_backend
    from termforge.executor.commands import _sigterm_as_interrupt
    from termforge.executor.images import parse_image_map
    from termforge.executor.task import load_task
    from termforge.executor.trial import TrialOptions
    from termforge.executor.verify import find_tasks
    from termforge.ui import console, progress, stdout

    _sigterm_as_interrupt()
    spec = parse_model_spec(model)
    if backend == "ray" and spec.kind == "local":
        raise ConfigError("--backend ray runs episodes on Ray workers, which cannot share an in-process model: "
                          f"serve it with `termforge serve {model}` and pass --model openai:URL#MODEL")
    image_map = parse_image_map(base_image_map)
    loaded = [load_task(p, require_solution=spec.kind == "oracle") for p in find_tasks(tasks)]
    contamination: list[dict] = []
    if corpus_index is not None:
        from termforge.eval.decontam import CorpusIndex, check_tasks

        index = CorpusIndex.load(corpus_index)
        contamination = check_tasks(loaded, index, contamination_threshold)
        for c in contamination:
            console.print(f"[yellow]warning:[/] {c['task']}: instruction shares {100 * c['overlap']:.0f}% of its "
                          f"8-grams with the training corpus ({corpus_index}); its score may be contaminated",
                          soft_wrap=True)
    with console.status(f"opening model {model} …"):
        provider = open_provider(spec, sampling=Sampling(temperature, top_p, max_tokens), seed=seed,
                                 tokenizer=str(tokenizer) if tokenizer else None, slots=slots,
                                 max_context=max_context, api_key_env=api_key_env, concurrency=max(jobs, 1))
    opts = EvalOptions(attempts=attempts, jobs=jobs, max_turns=max_turns, skip_network_tasks=skip_network_tasks,
                       retry_errors=retry_errors,
                       trial_options=TrialOptions(image_map=image_map, allow_internet=allow_internet))
    try:
        runner = open_backend(backend, jobs=jobs, ray_address=ray_address)
    except BaseException:
        provider.close()
        raise
    if runner.ships_files:
        console.print(f"[dim]backend: {runner.describe()}[/]")
    try:
        with runner, progress(transient=True) as bar:
            tid = bar.add_task(f"eval {provider.name}", total=None)

            def plan(total: int, done: int) -> None:
                bar.update(tid, total=total, completed=done)

            def advance(entry: dict) -> None:
                bar.advance(tid)
                bar.update(tid, description=f"eval {provider.name} · last: {entry['cause']}")

            entries = run_eval(loaded, out, provider, opts, on_entry=advance, on_plan=plan, backend=runner)
    finally:
        provider.close()
    report = write_report(out, entries, contamination=contamination)
    table = Table(title=f"eval {provider.name}")
    for col in ("category", "tasks", "trials", "passed", "success", "± s.e."):
        table.add_column(col, justify="left" if col == "category" else "right")
    pct = lambda x: "-" if x is None else f"{100 * x:.1f}%"  # noqa: E731
    for r in report["per_category"]:
        table.add_row(r["category"], str(r["n_tasks"]), str(r["n_trials"]), str(r["n_passed"]),
                      pct(r["success"]), pct(r["stderr"]))
    stdout.print(table)
    causes = ", ".join(f"{c} {n}" for c, n in report["failure_causes"].items() if n)
    stdout.print(f"causes: {causes}", soft_wrap=True)
    ci = report["ci95"]
    pk = ", ".join(f"pass@{k} {100 * v:.1f}%" for k, v in report["pass_at_k"].items())
    excluded = report["excluded"]["needs_network"]
    stdout.print(f"eval {provider.name}: success {pct(report['success'])} ± {pct(report['stderr'])} "
                 f"(95% CI {'-' if ci is None else f'[{pct(ci[0])}, {pct(ci[1])}]'}) on {report['n_tasks']} tasks, "
                 f"{report['n_trials']} trials; {pk or 'pass@k -'}; {excluded} excluded (needs network) "
                 f"→ {out / 'report.json'}", soft_wrap=True)


def eval_compare(
    run_a: Path = typer.Argument(..., help="Baseline run directory (A, 'before')."),
    run_b: Path = typer.Argument(..., help="Run directory to compare (B, 'after')."),
    out: Optional[Path] = typer.Option(None, "--out", help="Where compare.json/.md/.png go (default RUN_B/compare-<A>)."),
) -> None:
    """Compare two eval runs paired by task: B − A, paired bootstrap CI and sign test, a table and a plot."""
    from rich.table import Table

    from termforge.eval.report import write_compare
    from termforge.ui import stdout

    dest = out or (run_b / f"compare-{run_a.resolve().name}")
    cmp = write_compare(run_a, run_b, dest)
    pct = lambda x: "-" if x is None else f"{100 * x:.1f}%"  # noqa: E731
    table = Table(title=f"B={cmp['model_b']} vs A={cmp['model_a']}")
    for col in ("category", "tasks", "A", "B", "B − A"):
        table.add_column(col, justify="left" if col == "category" else "right")
    for r in cmp["per_category"]:
        table.add_row(r["category"], str(r["n_tasks"]), pct(r["success_a"]), pct(r["success_b"]),
                      f"{100 * r['difference']:+.1f}")
    table.add_row("all", str(cmp["n_tasks"]), pct(cmp["success_a"]), pct(cmp["success_b"]),
                  f"{100 * cmp['difference']:+.1f}")
    stdout.print(table)
    ci = cmp["ci95"]
    stdout.print(f"eval-compare: B − A = {100 * cmp['difference']:+.1f} points on {cmp['n_tasks']} paired tasks "
                 f"(95% CI [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}], bootstrap p={cmp['bootstrap_p_value']:.3g}; "
                 f"sign test {cmp['wins']} better / {cmp['losses']} worse, p={cmp['sign_test_p_value']:.3g}) "
                 f"→ {dest / 'compare.json'}", soft_wrap=True)


def serve(
    model: Path = typer.Argument(..., help="termforge checkpoint or Hugging Face Qwen3 directory."),
    port: int = typer.Option(8000, "--port", min=0, max=65535),
    host: str = typer.Option("127.0.0.1", "--host"),
    model_name: Optional[str] = typer.Option(None, "--model-name", help="Name in /v1/models (default: dir name)."),
    tokenizer: Optional[Path] = typer.Option(None, "--tokenizer", help="Tokenizer dir (default: the model's)."),
    max_context: Optional[int] = typer.Option(None, "--max-context", min=64,
                                              help="Context per request (default min(8192, model's))."),
    slots: int = typer.Option(4, "--slots", min=1, help="Requests decoded together (batch rows)."),
) -> None:
    """Serve a local model as an OpenAI-compatible /v1/chat/completions endpoint."""
    from termforge.eval.engine import load_local_model
    from termforge.eval.server import serve_forever
    from termforge.executor.commands import _sigterm_as_interrupt
    from termforge.ui import console, stdout

    _sigterm_as_interrupt()
    with console.status(f"loading {model} …"):
        lm = load_local_model(model, tokenizer=tokenizer, slots=slots, max_context=max_context)
    name = model_name or lm.name

    def ready(bound_port: int) -> None:
        stdout.print(f"serving {name} at http://{host}:{bound_port}/v1 (slots {slots}, context {lm.max_context}); "
                     "Ctrl-C stops", soft_wrap=True)

    try:
        serve_forever(lm, host=host, port=port, model_name=name, on_ready=ready)
    except KeyboardInterrupt:  # uvicorn stops gracefully, then re-raises the signal: the normal end
        pass
    finally:
        lm.close()
    stdout.print(f"serve: stopped after {lm.decoder.stats['requests']} requests, "
                 f"{lm.decoder.stats['generated_tokens']} tokens generated")


def register(app: typer.Typer) -> None:
    """Add this part's subcommands to the `termforge` app."""
    app.command("eval")(eval_cmd)
    app.command("eval-compare")(eval_compare)
    app.command("serve")(serve)
