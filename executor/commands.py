"""CLI commands of the executor: doctor, base-image, run, verify (registered by termforge.cli)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Optional

import typer

IMAGE_MAP_HELP = "Map a Dockerfile base image to a local one: SOURCE=LOCAL (repeatable)."
JOBS_HELP = "Trials in parallel (--backend local; Ray schedules by its workers' CPUs and memory)."


def backend_option():
    from termforge.executor.backend import BACKEND_HELP

    return typer.Option("local", "--backend", help=BACKEND_HELP)


def ray_address_option():
    from termforge.executor.backend import RAY_ADDRESS_HELP

    return typer.Option(None, "--ray-address", help=RAY_ADDRESS_HELP)


def open_cli_backend(name: str, jobs: int, ray_address: str | None):
    """The backend of a command; Docker is checked here for local runs (Ray workers check their own)."""
    from termforge.executor.backend import open_backend
    from termforge.executor.docker_env import client
    from termforge.ui import console

    backend = open_backend(name, jobs=jobs, ray_address=ray_address)
    if backend.ships_files:
        console.print(f"[dim]backend: {backend.describe()}[/]")
    else:
        client()
    return backend


def _sigterm_as_interrupt() -> None:
    """SIGTERM ends the command like Ctrl-C, so every sandbox is removed on the way out."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def doctor() -> None:
    """Check the machine: Docker daemon, base image, tools, JAX devices and library versions."""
    from termforge.executor.doctor import run_checks, render

    rows = run_checks()
    render(rows)
    failed = [r for r in rows if r.required and not r.ok]
    if failed:
        raise typer.Exit(1)


def base_image(force: bool = typer.Option(False, "--force", help="Rebuild even when up to date.")) -> None:
    """Build termforge/base:bookworm locally with debootstrap (skipped when the recipe is unchanged)."""
    from termforge.executor.base_image import BASE_IMAGE, ensure_base_image
    from termforge.ui import console, stdout

    image_id, built = ensure_base_image(force=force, log=lambda m: console.print(f"[dim]{m}[/]"))
    stdout.print(f"{BASE_IMAGE} {'built' if built else 'up to date'}: {image_id[:19]}")


def run(
    task: Path = typer.Argument(..., help="Task directory."),
    agent: str = typer.Option("oracle", "--agent", help="oracle | nop"),
    out: Path = typer.Option(..., "--out", help="Trial directory to write (result.json, logs)."),
    base_image_map: list[str] = typer.Option([], "--base-image-map", help=IMAGE_MAP_HELP),
    allow_internet: bool = typer.Option(False, "--allow-internet",
                                        help="Give network to tasks whose task.toml allows internet."),
) -> None:
    """Run one trial of a task with a built-in agent and write result.json."""
    from termforge.executor.agents import make_agent
    from termforge.executor.docker_env import client
    from termforge.executor.images import parse_image_map
    from termforge.executor.task import load_task
    from termforge.executor.trial import TrialOptions, reward_of, run_trial
    from termforge.ui import console, stdout

    _sigterm_as_interrupt()
    t = load_task(task, require_solution=agent == "oracle")
    a = make_agent(agent)
    options = TrialOptions(image_map=parse_image_map(base_image_map), allow_internet=allow_internet)
    client()
    with console.status(f"running {t.name} with the {agent} agent …"):
        result = run_trial(t, a, out, options=options)
    exc = result.get("exception_info")
    reward = reward_of(result)
    hit = result["termforge"]["limits_hit"]
    summary = f"{t.name}: agent={agent} reward={reward if reward is not None else '-'}"
    if hit:
        summary += f" limits_hit={','.join(hit)}"
    if exc:
        summary += f" error={exc['exception_type']}: {exc['exception_message']}"
    stdout.print(summary + f" → {out / 'result.json'}", soft_wrap=True)
    if exc:
        raise typer.Exit(1)


def verify(
    tasks: list[Path] = typer.Argument(..., help="Task directories, or folders of tasks."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help=JOBS_HELP),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the outcomes as JSON here."),
    trials_dir: Optional[Path] = typer.Option(None, "--trials-dir",
                                              help="Keep every trial's directory here."),
    base_image_map: list[str] = typer.Option([], "--base-image-map", help=IMAGE_MAP_HELP),
    backend: str = backend_option(),
    ray_address: Optional[str] = ray_address_option(),
) -> None:
    """Prove each task: reward 0 before and 1 after its solution, in fresh containers."""
    from rich.table import Table

    from termforge.executor.images import parse_image_map
    from termforge.executor.task import load_task
    from termforge.executor.trial import TrialOptions
    from termforge.executor.verify import find_tasks, verify_tasks
    from termforge.ui import atomic_write_json, progress, stdout

    _sigterm_as_interrupt()
    loaded = [load_task(p, require_solution=True) for p in find_tasks(tasks)]
    options = TrialOptions(image_map=parse_image_map(base_image_map))
    with open_cli_backend(backend, jobs, ray_address) as runner, progress(transient=True) as bar:
        tid = bar.add_task("verifying", total=len(loaded))
        outcomes = verify_tasks(loaded, options=options, trials_dir=trials_dir, backend=runner,
                                on_progress=lambda o: bar.advance(tid))
    table = Table(title="verification")
    for col in ("task", "before", "after", "result"):
        table.add_column(col)
    for o in outcomes:
        fmt = lambda p: "-" if p is None or p.reward is None else f"{p.reward:g}"  # noqa: E731
        table.add_row(o.task.name, fmt(o.before), fmt(o.after),
                      "[green]verified[/]" if o.verified else f"[red]{o.reason}[/]")
    stdout.print(table)
    n_ok = sum(o.verified for o in outcomes)
    if json_out:
        atomic_write_json(json_out, {"verified": n_ok, "total": len(outcomes),
                                     "tasks": [o.to_json() for o in outcomes]})
    stdout.print(f"verified {n_ok}/{len(outcomes)} tasks")
    if n_ok != len(outcomes):
        raise typer.Exit(1)


def collect(
    tasks: list[Path] = typer.Argument(..., help="Task directories, or folders of tasks."),
    agent: str = typer.Option("oracle", "--agent", help="oracle | openai"),
    attempts: int = typer.Option(1, "--attempts", "-k", min=1, help="Episodes per task."),
    out: Path = typer.Option(..., "--out", help="Run directory (index.jsonl, trajectories/, trials/)."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help=JOBS_HELP),
    max_turns: int = typer.Option(50, "--max-turns", min=1, help="Assistant turns per episode."),
    oracle_style: str = typer.Option("full", "--oracle-style",
                                     help="oracle narration: full (describes outputs and steps) | terse (one fixed "
                                          "line per kind of turn)"),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint (openai)."),
    model: Optional[str] = typer.Option(None, "--model", help="Model name (openai)."),
    temperature: float = typer.Option(0.7, "--temperature"),
    concurrency: int = typer.Option(8, "--concurrency", min=1, help="Concurrent requests (openai)."),
    api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env"),
    base_image_map: list[str] = typer.Option([], "--base-image-map", help=IMAGE_MAP_HELP),
    backend: str = backend_option(),
    ray_address: Optional[str] = ray_address_option(),
) -> None:
    """Run an agent on tasks in fresh sandboxes and write one trajectory record per attempt."""
    from rich.table import Table

    from termforge.errors import TermforgeError
    from termforge.executor.collect import CollectOptions, collect as run_collect
    from termforge.executor.images import parse_image_map
    from termforge.executor.task import load_task
    from termforge.executor.trial import TrialOptions
    from termforge.executor.verify import find_tasks
    from termforge.llm_client import LLMOptions
    from termforge.ui import progress, stdout

    _sigterm_as_interrupt()
    loaded = [load_task(p, require_solution=agent == "oracle") for p in find_tasks(tasks)]
    llm = None
    if agent == "openai":
        if not base_url or not model:
            raise TermforgeError("--agent openai needs --base-url and --model")
        llm = LLMOptions(base_url=base_url, model=model, api_key_env=api_key_env,
                         temperature=temperature, concurrency=concurrency)
    elif agent != "oracle":
        raise TermforgeError(f"unknown agent {agent!r} for collect; use oracle or openai")
    opts = CollectOptions(agent=agent, attempts=attempts, jobs=jobs, max_turns=max_turns, llm=llm,
                          oracle_style=oracle_style,
                          trial_options=TrialOptions(image_map=parse_image_map(base_image_map)))
    with open_cli_backend(backend, jobs, ray_address) as runner, progress(transient=True) as bar:
        tid = bar.add_task(f"collect {agent}", total=len(loaded) * attempts)
        entries = run_collect(loaded, out, opts, on_record=lambda e: bar.advance(tid), backend=runner)
    per_skill: dict[str, list] = {}
    for e in entries:
        for s in e.get("skills") or ["(none)"]:
            per_skill.setdefault(s, []).append(e)
    table = Table(title="trajectories by skill")
    for col in ("skill", "attempts", "reward 1", "mean turns"):
        table.add_column(col, justify="left" if col == "skill" else "right")
    for s, es in sorted(per_skill.items()):
        turns = [e.get("turns", 0) for e in es]
        table.add_row(s, str(len(es)), str(sum(e.get("reward") == 1.0 for e in es)),
                      f"{sum(turns) / len(turns):.1f}")
    stdout.print(table)
    ok = sum(e.get("reward") == 1.0 for e in entries)
    stdout.print(f"collect: {len(entries)} trajectories, {ok} with reward 1 → {out / 'trajectories'}")


def register(app: typer.Typer) -> None:
    """Add this part's subcommands to the `termforge` app."""
    app.command("doctor")(doctor)
    app.command("base-image")(base_image)
    app.command("run")(run)
    app.command("verify")(verify)
    app.command("collect")(collect)
