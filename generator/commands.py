"""CLI command of the generator: `termforge gen` (registered by termforge.cli)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from termforge.executor.commands import JOBS_HELP, backend_option, ray_address_option


def gen(
    mode: str = typer.Option("skill", "--mode", help="skill | seed | llm"),
    n: Optional[int] = typer.Option(None, "--n", help="How many tasks to attempt (each is verified)."),
    out: Optional[Path] = typer.Option(None, "--out",
                                       help="Run directory (tasks/, index.jsonl, summary.json)."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives the same tasks."),
    skills: Optional[str] = typer.Option(None, "--skills",
                                         help="Comma-separated categories or sub-skills to draw from."),
    families: Optional[str] = typer.Option(None, "--families", help="Skill mode: only these families."),
    exclude_families: Optional[str] = typer.Option(None, "--exclude-families",
                                                   help="Skill mode: never these families."),
    seeds_dir: Optional[Path] = typer.Option(None, "--seeds-dir", help="Seed tasks for --mode seed."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help=JOBS_HELP),
    decontaminate: list[Path] = typer.Option([], "--decontaminate",
                                             help="Evaluation task folder to keep out (repeatable)."),
    verify_runs: int = typer.Option(2, "--verify-runs", min=1,
                                    help="Verify each task this many times (flaky ones are rejected)."),
    max_steps: int = typer.Option(4, "--max-steps", min=1, max=4, help="Most steps per skill-mode task."),
    keep_rejected: bool = typer.Option(False, "--keep-rejected", help="Keep rejected tasks in rejected/."),
    list_families: bool = typer.Option(False, "--list-families", help="List the families and exit."),
    llm_base_url: Optional[str] = typer.Option(None, "--llm-base-url", help="OpenAI-compatible endpoint."),
    llm_model: Optional[str] = typer.Option(None, "--llm-model", help="Model name for --mode llm."),
    llm_api_key_env: str = typer.Option("OPENAI_API_KEY", "--llm-api-key-env",
                                        help="Environment variable that holds the API key."),
    backend: str = backend_option(),
    ray_address: Optional[str] = ray_address_option(),
) -> None:
    """Generate tasks and keep only those proven in Docker (fail before, pass after the solution)."""
    from rich.table import Table

    from termforge.errors import ConfigError
    from termforge.executor.commands import open_cli_backend
    from termforge.generator.compose import DEFAULT_STEPS
    from termforge.generator.pipeline import REASONS, GenOptions, generate
    from termforge.ui import progress, stdout

    if list_families:
        from termforge.generator.registry import all_families

        table = Table(title="task families")
        for col in ("family", "category", "skills", "difficulty", "consumes", "produces"):
            table.add_column(col)
        for f in all_families().values():
            table.add_row(f.name, f.category, ",".join(f.skills), f.difficulty, f.consumes or "",
                          f.produces or "")
        stdout.print(table)
        return
    if n is None or out is None:
        raise ConfigError("termforge gen needs --n N and --out DIR")
    steps = {k: v for k, v in DEFAULT_STEPS.items() if k <= max_steps}
    llm = None
    if mode == "llm":
        from termforge.generator.llm import LLMOptions

        if not llm_base_url or not llm_model:
            raise ConfigError("--mode llm needs --llm-base-url and --llm-model")
        llm = LLMOptions(base_url=llm_base_url, model=llm_model, api_key_env=llm_api_key_env)
    opts = GenOptions(mode=mode, n=n, out=out, seed=seed,
                      skills=_names(skills),
                      families=_names(families), exclude_families=_names(exclude_families),
                      seeds_dir=seeds_dir, jobs=jobs, decontaminate=tuple(decontaminate),
                      verify_runs=verify_runs, keep_rejected=keep_rejected, steps=steps, llm=llm)
    with open_cli_backend(backend, jobs, ray_address) as runner, progress(transient=True) as bar:
        tid = bar.add_task(f"gen {mode}", total=n)
        records = generate(opts, on_record=lambda rec: bar.advance(tid), backend=runner)
        bar.update(tid, completed=len(records))
    per_skill: dict[str, dict[str, int]] = {}
    for rec in records:
        for s in rec.get("skills") or ["(unknown)"]:
            row = per_skill.setdefault(s, {"generated": 0, "verified": 0})
            row["generated"] += 1
            key = "verified" if rec["status"] == "verified" else rec["reason"]
            row[key] = row.get(key, 0) + 1
    table = Table(title="generated tasks by skill")
    seen = {k for row in per_skill.values() for k in row}
    cols = ["skill", "generated", "verified", *[r for r in REASONS if r in seen]]
    for col in cols:
        table.add_column(col, justify="right" if col != "skill" else "left")
    for skill, row in sorted(per_skill.items()):
        table.add_row(skill, *[str(row.get(c, 0)) for c in cols[1:]])
    stdout.print(table)
    n_ok = sum(r["status"] == "verified" for r in records)
    stdout.print(f"gen: {n_ok}/{len(records)} tasks verified → {out / 'tasks'} "
                 f"(index {out / 'index.jsonl'})")


def curate(
    inputs: list[Path] = typer.Argument(..., help="Collect run directories or JSONL files of records."),
    out: Path = typer.Option(..., "--out", help="Output directory (curated.jsonl, report.json)."),
    keep_failed: bool = typer.Option(False, "--keep-failed", help="Keep attempts with reward < 1."),
    max_tokens: int = typer.Option(32768, "--max-tokens", help="Drop trajectories above this budget."),
    tokenizer: Optional[Path] = typer.Option(None, "--tokenizer", help="HF tokenizer dir for counts."),
    max_parse_errors: int = typer.Option(0, "--max-parse-errors", help="Malformed turns tolerated."),
    balance: Optional[str] = typer.Option(None, "--balance", help="'uniform' or a JSON/YAML of weights."),
    balance_by: str = typer.Option("category", "--balance-by", help="category | skill"),
    decontaminate: list[Path] = typer.Option([], "--decontaminate", help="Evaluation task folder."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Filter, deduplicate, decontaminate and balance trajectories; every filter is counted."""
    from rich.table import Table

    from termforge.errors import ConfigError
    from termforge.generator.curate import CurateOptions, curate as run_curate
    from termforge.ui import stdout

    if balance_by not in ("category", "skill"):
        raise ConfigError("--balance-by must be category or skill")
    tok = None
    if tokenizer is not None:
        from tokenizers import Tokenizer

        path = tokenizer / "tokenizer.json"
        if not path.is_file():
            raise ConfigError(f"{tokenizer}: no tokenizer.json")
        tok = Tokenizer.from_file(str(path))
    opts = CurateOptions(keep_failed=keep_failed, max_tokens=max_tokens, max_parse_errors=max_parse_errors,
                         balance=balance, balance_by=balance_by, seed=seed,
                         decontaminate=tuple(decontaminate))
    report = run_curate(inputs, out, opts, tokenizer=tok)
    table = Table(title="curation")
    table.add_column("filter")
    table.add_column("dropped", justify="right")
    for f, n in report["dropped"].items():
        table.add_row(f, str(n))
    stdout.print(table)
    if report["balance"].get("under_represented"):
        stdout.print(f"under-represented: {', '.join(report['balance']['under_represented'])}")
    stdout.print(f"curate: kept {report['kept']}/{report['input']} trajectories → {out / 'curated.jsonl'}")


def _names(csv: str | None) -> tuple[str, ...]:
    return tuple(s.strip() for s in (csv or "").split(",") if s.strip())


def register(app: typer.Typer) -> None:
    app.command("gen")(gen)
    app.command("curate")(curate)
