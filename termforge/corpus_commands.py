"""CLI commands of the corpus stage: `shard`, `inspect`, `import-corpus`, `export-corpus`.

Registered by termforge.cli (module name "termforge.corpus_commands"). Heavy imports
(array_record, grain, pyarrow) happen inside the command functions. Bad input raises
TermforgeError, which the CLI prints as one line naming the file and line.
"""

from __future__ import annotations

import random
from array import array
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Iterator, List, Optional

import typer

def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def _bar():
    """The shared progress bar, drawn only on a terminal (piped stderr stays one clean line)."""
    from termforge.ui import console, progress

    bar = progress(transient=True)
    if not console.is_terminal:
        bar.disable = True
    return bar


# ----------------------------------------------------------------------------- inputs


def resolve_inputs(inputs: Iterable[Path]) -> list[tuple[str, Path, Any]]:
    """Each INPUT as ("jsonl", file, None) or ("shards", dir, ShardSet), checked up front.

    A file is JSONL of trajectory records; a directory with manifest.json is a shard set
    (verified); any other directory contributes ``trajectories/*.jsonl`` when it has a
    ``trajectories/`` folder (a collect run) and its own ``*.jsonl`` otherwise.
    """
    from termforge.shards import MANIFEST_NAME, SHARD_RE, ShardError

    out: list[tuple[str, Path, Any]] = []
    for p in inputs:
        if p.is_dir():
            if (p / MANIFEST_NAME).exists() or any(SHARD_RE.match(q.name) for q in p.iterdir()):
                from termforge.jaxtrain.data import open_shards

                out.append(("shards", p, open_shards(p, verify=True)))
                continue
            sub = p / "trajectories"
            files = sorted(sub.glob("*.jsonl")) if sub.is_dir() else sorted(p.glob("*.jsonl"))
            if not files:
                where = sub if sub.is_dir() else p
                raise ShardError(f"{where}: no *.jsonl trajectory files here")
            out.extend(("jsonl", f, None) for f in files)
        elif p.exists():  # a file, a pipe, /dev/stdin
            if p.name.lower().endswith(".parquet"):
                raise ShardError(f"{p}: Parquet input: convert it first with `termforge import-corpus`")
            out.append(("jsonl", p, None))
        else:
            raise ShardError(f"{p}: no such file or directory")
    return out


def iter_input_records(resolved: list[tuple[str, Path, Any]]) -> Iterator:
    from termforge.shards import read_jsonl_records

    for kind, path, shardset in resolved:
        if kind == "shards":
            yield from shardset.records()
        else:
            yield from read_jsonl_records(path)


# ----------------------------------------------------------------------------- shard


def shard(
    inputs: List[Path] = typer.Argument(..., help="JSONL files, directories of JSONL (a collect run dir) or shard sets."),
    out: Path = typer.Option(..., "--out", help="Shard directory to create."),
    num_shards: int = typer.Option(..., "--num-shards", min=1, help="Number of ArrayRecord shards."),
    seed: int = typer.Option(0, "--seed", help="Shuffle seed: the same input and seed give identical shards."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a complete shard set in --out."),
    keep_duplicates: bool = typer.Option(False, "--keep-duplicates",
                                         help="Keep records whose trajectory_id was already seen."),
    generator_config_hash: Optional[str] = typer.Option(
        None, "--generator-config-hash", help="Recorded in the manifest (default: the input shard sets' own)."),
    backend: str = typer.Option("local", "--backend",
                                help="Who writes the shard files: local (this process) or ray (one Ray task "
                                     "per shard; --out must be on storage every worker mounts)."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address",
                                              help="Ray cluster for --backend ray (HOST:PORT, ray://HOST:PORT, "
                                                   "auto; default RAY_ADDRESS, else a private local instance)."),
) -> None:
    """Write trajectory records as shuffled ArrayRecord shards plus a verified manifest.json."""
    from termforge.executor.backend import open_backend
    from termforge.shards import check_output_dir

    check_output_dir(out, overwrite=overwrite)  # refuse early, before reading anything
    runner = open_backend(backend, ray_address=ray_address)
    with runner:
        _shard(inputs, out, num_shards, seed, overwrite, keep_duplicates, generator_config_hash, runner)


def _shard(inputs, out, num_shards, seed, overwrite, keep_duplicates, generator_config_hash, runner) -> None:
    from termforge.shards import write_shards
    from termforge.ui import stdout

    resolved = resolve_inputs(inputs)
    if generator_config_hash is None:
        hashes = {s.manifest.get("generator_config_hash") for k, _, s in resolved if k == "shards"} - {None}
        if len(hashes) == 1:
            generator_config_hash = hashes.pop()
    with _bar() as prog:
        read_task = prog.add_task("reading records", total=None)
        write_task = prog.add_task("writing shards", total=num_shards, visible=False)

        def report(stage: str, done: int, total: int | None) -> None:
            if stage == "read":
                prog.update(read_task, completed=done)
            else:
                prog.update(write_task, completed=done, visible=True)

        manifest = write_shards(iter_input_records(resolved), out, num_shards, seed=seed,
                                generator_config_hash=generator_config_hash, progress=report,
                                overwrite=overwrite, dedupe=not keep_duplicates,
                                extra={"inputs": [str(p) for _, p, _ in resolved]},
                                run_writes=shard_writes_on(runner) if runner.ships_files else None)
    size = sum(s["bytes"] for s in manifest["shards"])
    dups = manifest["duplicates_skipped"]
    stdout.print(f"sharded {manifest['total_records']} records from {len(resolved)} input(s) -> {out}: "
                 f"{num_shards} shards, {_size(size)}, {len(manifest['skills'])} skills, seed {seed}"
                 + (f", {dups} duplicate(s) skipped" if dups else ""), soft_wrap=True)


def shard_writes_on(runner):
    """`write_shards`' run_writes on a backend: one call per shard, each writing its own file."""
    from termforge.executor.backend import Call
    from termforge.shards import write_shard

    def run(writes):
        calls = (Call(write_shard, (w,), name=f"shard {w.index}", cpus=1) for w in writes)
        with runner.run(calls) as stream:
            for done in stream:
                if done.error is not None:
                    raise done.error
                yield done.value

    return run


# ----------------------------------------------------------------------------- import / export


def import_corpus_cmd(
    files: List[Path] = typer.Argument(..., help="Nemotron-Terminal-Corpus style .jsonl/.parquet files or folders."),
    out: Path = typer.Option(..., "--out", help="Output JSONL of trajectory records (or .parquet)."),
    default_reward: float = typer.Option(0.0, "--default-reward",
                                         help="Reward for rows without one (the released corpus has none)."),
) -> None:
    """Import Nemotron-Terminal-Corpus rows (JSONL or Parquet on disk) as trajectory records."""
    from termforge.adapters import corpus_files, export_records, import_corpus
    from termforge.ui import stdout

    paths = corpus_files(files)
    domains: Counter = Counter()

    def counted(records):
        for rec in records:
            domains[rec.domain or "(none)"] += 1
            yield rec

    with _bar() as prog:
        task = prog.add_task("importing", total=None)
        n = export_records(counted(import_corpus(paths, default_reward=default_reward)), out,
                           on_record=lambda: prog.advance(task))
    top = ", ".join(f"{k} {v}" for k, v in domains.most_common(5))
    stdout.print(f"imported {n} trajectories from {len(paths)} file(s) -> {out}" + (f" (domains: {top})" if top else ""),
                 soft_wrap=True)


def export_corpus_cmd(
    shard_dir: Path = typer.Argument(..., help="Shard set directory."),
    out: Path = typer.Option(..., "--out", help="FILE.jsonl or FILE.parquet (loadable by `datasets`)."),
) -> None:
    """Export a shard set as JSONL or Parquet for the Hugging Face `datasets` library."""
    from termforge.adapters import export_records
    from termforge.jaxtrain.data import open_shards
    from termforge.ui import stdout

    shards = open_shards(shard_dir, verify=True)
    with _bar() as prog:
        task = prog.add_task("exporting", total=shards.num_records)
        n = export_records(shards.records(), out, on_record=lambda: prog.advance(task))
    stdout.print(f"exported {n} records from {shard_dir} ({len(shards.paths)} shards) -> {out} "
                 f"({_size(out.stat().st_size)})", soft_wrap=True)


# ----------------------------------------------------------------------------- inspect


def _length_summary(values: array) -> dict[str, Any]:
    if not values:
        return {"count": 0}
    v = sorted(values)
    n = len(v)

    def q(p: float) -> int:
        return v[min(n - 1, int(p * (n - 1) + 0.5))]

    hist: Counter = Counter()
    for x in v:
        lo = 0 if x <= 0 else 1 << (int(x).bit_length() - 1)
        hist[lo] += 1
    buckets = {(f"{lo}-{2 * lo - 1}" if lo > 1 else str(lo)): c for lo, c in sorted(hist.items())}
    return {"count": n, "min": v[0], "p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": v[-1],
            "mean": round(sum(v) / n, 2), "histogram": buckets}


def _sorted_hist(c: Counter) -> dict[str, int]:
    return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))


def corpus_stats(records: Iterable, *, samples: int = 0, seed: int = 0) -> dict[str, Any]:
    """Counts, histograms, length and reward distributions of records; `samples` picked by
    seeded reservoir sampling (deterministic for the same input order)."""
    skills: Counter = Counter()
    sources: Counter = Counter()
    difficulties: Counter = Counter()
    domains: Counter = Counter()
    models: Counter = Counter()
    lengths = {k: array("q") for k in ("messages", "assistant_turns", "characters", "tokens")}
    rewards: Counter = Counter()
    reward_sum = 0.0
    reward_min = reward_max = None
    tasks: set[str] = set()
    groups: set[str] = set()
    rng = random.Random(f"termforge.inspect:{seed}")
    picked: list = []
    n = 0
    for rec in records:
        n += 1
        for s in rec.skills or ["(none)"]:
            skills[s] += 1
        sources[rec.source] += 1
        difficulties[rec.difficulty or "unknown"] += 1
        domains[rec.domain or "(none)"] += 1
        models[rec.model_name or "(none)"] += 1
        lengths["messages"].append(len(rec.messages))
        lengths["assistant_turns"].append(rec.n_assistant_turns)
        lengths["characters"].append(sum(len(m["content"]) for m in rec.messages))
        if rec.n_tokens is not None:
            lengths["tokens"].append(rec.n_tokens)
        r = rec.reward
        reward_sum += r
        reward_min = r if reward_min is None else min(reward_min, r)
        reward_max = r if reward_max is None else max(reward_max, r)
        rewards["1.0 (pass)" if r == 1.0 else "0.0" if r == 0.0 else "(0,1)" if 0 < r < 1 else "other"] += 1
        tasks.add(rec.task_id)
        groups.add(rec.task_group_id)
        if samples > 0:
            if len(picked) < samples:
                picked.append(rec)
            else:
                j = rng.randrange(n)
                if j < samples:
                    picked[j] = rec
    return {
        "records": n,
        "unique_tasks": len(tasks),
        "unique_task_groups": len(groups),
        "skills": _sorted_hist(skills),
        "sources": _sorted_hist(sources),
        "difficulties": _sorted_hist(difficulties),
        "domains": _sorted_hist(domains),
        "models": _sorted_hist(models),
        "lengths": {k: _length_summary(v) for k, v in lengths.items()},
        "reward": {"count": n, "mean": round(reward_sum / n, 4) if n else None, "min": reward_min,
                   "max": reward_max, "pass_rate": round(rewards["1.0 (pass)"] / n, 4) if n else None,
                   "histogram": dict(rewards)},
        "samples": picked,
    }


def _hist_table(title: str, hist: dict[str, int], total: int, limit: int = 20, column: str = ""):
    from rich.table import Table

    t = Table(title=title, title_justify="left", show_edge=False)
    t.add_column(column or title.split()[0])
    t.add_column("count", justify="right")
    t.add_column("share", justify="right")
    t.add_column("", no_wrap=True)
    top = max(hist.values(), default=1)
    items = list(hist.items())
    for k, v in items[:limit]:
        t.add_row(k, str(v), f"{100 * v / max(total, 1):.1f}%", "█" * max(1, round(20 * v / top)))
    if len(items) > limit:
        t.add_row(f"... {len(items) - limit} more", str(sum(v for _, v in items[limit:])), "", "")
    return t


def _sample_panel(rec, max_messages: int = 6, max_chars: int = 300):
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

    msgs = rec.messages
    shown = list(enumerate(msgs))
    if len(msgs) > max_messages:
        head = max_messages // 2
        shown = shown[:head] + [(-1, None)] + shown[len(msgs) - (max_messages - head):]
    parts = []
    for i, m in shown:
        if m is None:
            parts.append(Text(f"… {len(msgs) - max_messages} more messages …", style="dim italic"))
            continue
        body = m["content"]
        if len(body) > max_chars:
            body = body[:max_chars] + f" … [{len(m['content']) - max_chars} more chars]"
        line = Text(f"[{i}] {m['role']}: ", style={"system": "magenta", "user": "cyan", "assistant": "green"}[m["role"]])
        line.append(body)
        parts.append(line)
    title = (f"{rec.trajectory_id} · task {rec.task_id} · {rec.source} · {','.join(rec.skills) or '-'} · "
             f"{rec.difficulty} · reward {rec.reward:g}")
    return Panel(Group(*parts), title=Text(title), title_align="left")


def inspect(
    shard_dir: Path = typer.Argument(..., help="Shard set directory (JSONL files and run dirs work too)."),
    samples: int = typer.Option(2, "--samples", min=0, help="Rendered sample trajectories to show."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the statistics as JSON here."),
    seed: int = typer.Option(0, "--seed", help="Seed for choosing the samples."),
) -> None:
    """Counts, histograms, length and reward distributions and sample trajectories of a corpus."""
    from rich.table import Table

    from termforge.ui import atomic_write_json, stdout

    resolved = resolve_inputs([shard_dir])
    shardset = resolved[0][2] if resolved[0][0] == "shards" else None
    with _bar() as prog:
        task = prog.add_task("reading records", total=shardset.num_records if shardset else None)

        def counted():
            for rec in iter_input_records(resolved):
                prog.advance(task)
                yield rec

        stats = corpus_stats(counted(), samples=samples, seed=seed)
    picked = stats.pop("samples")
    stats["path"] = str(shard_dir)
    if shardset is not None:
        m = shardset.manifest
        stats["shards"] = len(shardset.paths)
        stats["shard_bytes"] = sum(s["bytes"] for s in m["shards"])
        stats["manifest"] = {k: m.get(k) for k in ("created", "seed", "generator_config_hash", "record_schema")}
    stats["sample_ids"] = [r.trajectory_id for r in picked]
    n = stats["records"]

    over = Table(title="corpus", title_justify="left", show_header=False, show_edge=False)
    over.add_column()
    over.add_column(justify="right")
    over.add_row("records", str(n))
    if shardset is not None:
        over.add_row("shards", str(stats["shards"]))
        over.add_row("shard MB", f"{stats['shard_bytes'] / 1e6:.1f}")
        over.add_row("generator config", str(stats["manifest"]["generator_config_hash"] or "-"))
    over.add_row("unique tasks", str(stats["unique_tasks"]))
    over.add_row("task groups", str(stats["unique_task_groups"]))
    stdout.print(over)
    for key, title in (("skills", "skill"), ("sources", "source"), ("difficulties", "difficulty"),
                       ("domains", "domain"), ("models", "model")):
        stdout.print(_hist_table(f"{title} histogram", stats[key], n))

    lt = Table(title="lengths per trajectory", title_justify="left", show_edge=False)
    for col in ("", "count", "min", "p50", "p90", "p99", "max", "mean"):
        lt.add_column(col, justify="right" if col else "left")
    for key, label in (("messages", "messages"), ("assistant_turns", "assistant turns"),
                       ("characters", "characters"), ("tokens", "tokens (n_tokens)")):
        s = stats["lengths"][key]
        if s["count"]:
            lt.add_row(label, *(str(s[c]) for c in ("count", "min", "p50", "p90", "p99", "max", "mean")))
        else:
            lt.add_row(label, "0", *["-"] * 6)
    stdout.print(lt)
    for key, label in (("messages", "messages"), ("assistant_turns", "assistant turns"), ("characters", "characters")):
        stdout.print(_hist_table(f"{label} histogram", stats["lengths"][key].get("histogram", {}), n, column=label))
    if stats["lengths"]["tokens"]["count"]:
        stdout.print(_hist_table("tokens histogram", stats["lengths"]["tokens"]["histogram"], n))
    rw = stats["reward"]
    stdout.print(_hist_table("reward histogram", rw["histogram"], n))
    for rec in picked:
        stdout.print(_sample_panel(rec))
    if json_out is not None:
        atomic_write_json(json_out, stats)
    top = ", ".join(f"{k} {v}" for k, v in list(stats["skills"].items())[:3])
    where = f" in {stats['shards']} shards" if shardset is not None else ""
    stdout.print(f"{shard_dir}: {n} records{where}, {stats['unique_tasks']} tasks, {len(stats['skills'])} skills "
                 f"(top: {top or '-'}), mean reward {rw['mean'] if rw['mean'] is not None else '-'}, "
                 f"pass rate {rw['pass_rate'] if rw['pass_rate'] is not None else '-'}"
                 + (f", stats -> {json_out}" if json_out else ""), soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the corpus subcommands to the `termforge` app."""
    app.command("shard")(shard)
    app.command("inspect")(inspect)
    app.command("import-corpus")(import_corpus_cmd)
    app.command("export-corpus")(export_corpus_cmd)
