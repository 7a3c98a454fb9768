"""`termforge gen`: draw tasks, filter them, verify them in Docker, keep the verified ones.

    OUT/tasks/<id>/        verified tasks (moved in by rename once proven)
    OUT/rejected/<id>/     rejected tasks (with --keep-rejected)
    OUT/index.jsonl        one line per attempted task: status, reason, family, skills, …
    OUT/summary.json       per-skill generated / verified / rejected-by-reason
    OUT/.staging/          work in progress (cleared on start: nothing half-written survives)

Task i of a run draws from `random.Random(f"{mode}:{seed}:{i}")`, so the same seed gives the same
tasks whatever --jobs is, and an interrupted run continues where the index stops.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from termforge.errors import ConfigError, TermforgeError
from termforge.executor.task import Task, load_task
from termforge.executor.trial import TrialOptions
from termforge.executor.backend import Backend, LocalBackend
from termforge.executor.verify import VerifyOutcome, find_tasks, verify_repeated
from termforge.generator import GENERATOR_VERSION
from termforge.generator.compose import DEFAULT_STEPS, skill_task
from termforge.generator.dedupe import Decontaminator, NearDupIndex
from termforge.generator.filters import privileged_reasons
from termforge.generator.llm import DrawRejected
from termforge.generator.registry import all_families
from termforge.generator.spec import render_task
from termforge.generator.taxonomy import load_taxonomy
from termforge.ui import atomic_write_json

Drawer = Callable[[int, random.Random, Path, str], Task]
REASONS = ("trivial", "broken", "flaky", "error", "privileged", "duplicate", "contaminated", "draw-error",
           "llm-protocol", "llm-unparsable", "llm-invalid")


@dataclass(frozen=True)
class GenOptions:
    mode: str
    n: int
    out: Path
    seed: int = 0
    skills: tuple[str, ...] = ()
    families: tuple[str, ...] = ()          # skill mode: only these families (default: all)
    exclude_families: tuple[str, ...] = ()  # skill mode: never these (e.g. held out for evaluation)
    seeds_dir: Path | None = None
    jobs: int = 1
    decontaminate: tuple[Path, ...] = ()
    verify_runs: int = 2
    keep_rejected: bool = False
    steps: dict[int, float] = field(default_factory=lambda: dict(DEFAULT_STEPS))
    # Estimated Jaccard similarity (instruction + solution) above which a task is a near-duplicate.
    # None: 0.8, but 0.95 in seed mode, where mutants of one seed share their solution's structure
    # by design and differ in names, data and wording.
    near_dup_threshold: float | None = None
    trial_options: TrialOptions = field(default_factory=TrialOptions)
    llm: Any = None  # termforge.generator.llm.LLMOptions for mode "llm"

    def task_id(self, i: int) -> str:
        return f"{self.mode}-s{self.seed}-{i:05d}"


@dataclass
class Record:
    id: str
    index: int
    status: str
    reason: str | None = None
    detail: str | None = None
    name: str | None = None
    family: str | None = None
    category: str | None = None
    difficulty: str | None = None
    skills: list[str] = field(default_factory=list)
    steps: int | None = None
    path: str | None = None
    fingerprint: dict | None = None
    verify: dict | None = None
    seconds: float | None = None


# ----------------------------------------------------------------------------- drawers


def make_drawer(opts: GenOptions) -> Drawer:
    if opts.mode == "skill":
        taxonomy = load_taxonomy()
        families = select_families(all_families(), opts.families, opts.exclude_families)
        allowed = taxonomy.resolve(list(opts.skills)) if opts.skills else None

        def draw_skill(i: int, rng: random.Random, dest: Path, name: str) -> Task:
            spec = skill_task(rng, families, taxonomy, name, allowed_skills=allowed, steps=opts.steps)
            return render_task(spec, dest, extra_meta={"gen_seed": opts.seed, "gen_index": i})

        return draw_skill
    if opts.mode == "seed":
        from termforge.generator.mutate import load_seeds, mutate_seed

        seeds_dir = opts.seeds_dir or Path(__file__).resolve().parent / "seeds"
        seeds = load_seeds(seeds_dir)
        if opts.skills:
            allowed = set(load_taxonomy().resolve(list(opts.skills)))
            seeds = [s for s in seeds if allowed & set(_seed_skills(s))]
            if not seeds:
                raise ConfigError(f"{seeds_dir}: no seed task exercises {', '.join(opts.skills)}")

        def draw_seed(i: int, rng: random.Random, dest: Path, name: str) -> Task:
            return mutate_seed(seeds[i % len(seeds)], rng, dest, name)

        return draw_seed
    if opts.mode == "llm":
        from termforge.generator.llm import make_llm_drawer

        return make_llm_drawer(opts)
    raise ConfigError(f"unknown generation mode {opts.mode!r}; choose skill, seed or llm")


def select_families(families: dict, include: tuple[str, ...], exclude: tuple[str, ...]) -> dict:
    for name in (*include, *exclude):
        if name not in families:
            raise ConfigError(f"unknown task family {name!r}; see `termforge gen --list-families`")
    chosen = {k: v for k, v in families.items() if (not include or k in include) and k not in exclude}
    if not chosen:
        raise ConfigError("no task family left after --families/--exclude-families")
    return chosen


def _seed_skills(seed) -> list[str]:
    task = getattr(seed, "task", None)
    return list(task.config.termforge.get("skills", [])) if task is not None else []


# ----------------------------------------------------------------------------- index


def read_index(out: Path) -> dict[str, dict]:
    """Records of an earlier run, by id; a torn last line (crash mid-write) is ignored."""
    path = out / "index.jsonl"
    records: dict[str, dict] = {}
    if not path.exists():
        return records
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict) and "id" in rec:
                records[rec["id"]] = rec
    return records


class IndexWriter:
    def __init__(self, out: Path):
        self.path = out / "index.jsonl"
        self._repair()
        self._f = open(self.path, "a", encoding="utf-8")

    def _repair(self) -> None:
        """Drop a torn last line so every line of the file is whole JSON."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data[: data.rfind(b"\n") + 1]
            tmp = self.path.with_suffix(".jsonl.tmp")
            tmp.write_bytes(keep)
            os.replace(tmp, self.path)

    def write(self, rec: Record) -> None:
        self._f.write(json.dumps(rec.__dict__, ensure_ascii=False) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()


# ----------------------------------------------------------------------------- the run


def _classify(outcome: VerifyOutcome) -> str:
    reason = outcome.reason
    for key in ("trivial", "broken"):
        if reason.startswith(key):
            return key
    return "error"


def _describe(task: Task) -> dict[str, Any]:
    tf = task.config.termforge
    return {"name": task.name, "family": tf.get("family"), "category": task.config.category,
            "difficulty": task.config.difficulty, "skills": list(tf.get("skills", [])),
            "steps": int(tf.get("steps", 1))}


def _dedupe_text(task: Task) -> str:
    solve = task.solution_dir / "solve.sh"
    return task.instruction + "\n" + (solve.read_text(errors="replace") if solve.exists() else "")


def load_decontaminator(dirs: tuple[Path, ...]) -> Decontaminator:
    deco = Decontaminator()
    for path in find_tasks(list(dirs)) if dirs else []:
        task = load_task(path)
        texts = [task.instruction]
        for p in sorted(task.tests_dir.glob("*")):
            if p.is_file() and p.suffix in (".py", ".sh"):
                texts.append(p.read_text(errors="replace"))
        deco.add_eval(task.name, "\n".join(texts))
    return deco


def generate(opts: GenOptions, *, on_record: Callable[[Record], None] | None = None,
             drawer: Drawer | None = None, backend: Backend | None = None) -> list[dict]:
    """Run (or continue) a generation; returns every record of the run directory's index.

    `drawer` replaces the mode's own (tests and custom generators). Tasks are drawn, filtered and
    written here, in index order; their verification trials run on `backend` (default: local
    threads, `opts.jobs` at a time), so any backend gives the same records for the same seed.
    """
    if opts.n < 0:
        raise ConfigError(f"--n must be ≥ 0, got {opts.n}")
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    _check_run_config(out, opts)
    drawer = drawer or make_drawer(opts)
    decontaminator = load_decontaminator(opts.decontaminate)
    staging = out / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    (out / "tasks").mkdir(exist_ok=True)

    done = read_index(out)
    threshold = opts.near_dup_threshold
    if threshold is None:
        threshold = 0.95 if opts.mode == "seed" else 0.8
    dedupe = NearDupIndex(threshold=threshold)
    for rec in sorted(done.values(), key=lambda r: r["index"]):
        if rec.get("fingerprint"):
            dedupe.add_fingerprint(rec["id"], rec["fingerprint"])
    index = IndexWriter(out)
    backend = backend or LocalBackend(opts.jobs)
    batch: list[tuple[Record, Task]] = []
    batch_size = max(8, 4 * backend.slots)

    def finish(rec: Record) -> None:
        index.write(rec)
        done[rec.id] = rec.__dict__
        if on_record:
            on_record(rec)

    try:
        for i in range(opts.n):
            tid = opts.task_id(i)
            if tid in done:
                continue
            t0 = time.perf_counter()
            rec = Record(id=tid, index=i, status="rejected")
            dest = staging / tid
            try:
                task = drawer(i, random.Random(f"{opts.mode}:{opts.seed}:{i}"), dest, f"termforge-gen/{tid}")
            except TermforgeError:
                raise
            except DrawRejected as exc:  # e.g. an LLM answer that is not a valid task
                rec.reason, rec.detail = exc.reason, exc.detail[:500]
                shutil.rmtree(dest, ignore_errors=True)
                finish(rec)
                continue
            except Exception as exc:  # a family bug: counted, not fatal
                rec.reason, rec.detail = "draw-error", f"{type(exc).__name__}: {exc}"[:500]
                shutil.rmtree(dest, ignore_errors=True)
                finish(rec)
                continue
            rec.__dict__.update(_describe(task))
            bad = privileged_reasons(_dedupe_text(task))
            if bad:
                rec.reason, rec.detail = "privileged", ", ".join(bad)
                _reject(task, out, opts, rec, finish)
                continue
            hit, overlap = decontaminator.check(task.instruction)
            if hit:
                rec.reason, rec.detail = "contaminated", f"{overlap:.0%} of n-grams shared with {hit}"
                _reject(task, out, opts, rec, finish)
                continue
            text = _dedupe_text(task)
            dup, sim = dedupe.find(text)
            if dup:
                rec.reason, rec.detail = "duplicate", f"similarity {sim:.2f} with {dup}"
                _reject(task, out, opts, rec, finish)
                continue
            rec.fingerprint = dedupe.fingerprint(text)
            dedupe.add(tid, text)
            rec.seconds = time.perf_counter() - t0
            batch.append((rec, task))
            if len(batch) >= batch_size:
                _verify_batch(batch, out, opts, finish, backend)
                batch = []
        if batch:
            _verify_batch(batch, out, opts, finish, backend)
    finally:
        index.close()
        shutil.rmtree(staging, ignore_errors=True)
    records = sorted(read_index(out).values(), key=lambda r: r["index"])
    atomic_write_json(out / "summary.json", summarize(records))
    return records


def _check_run_config(out: Path, opts: GenOptions) -> None:
    """A run directory belongs to one (mode, seed, skills): continuing with others would mix runs."""
    key = {"mode": opts.mode, "seed": opts.seed, "skills": sorted(opts.skills),
           "families": sorted(opts.families), "exclude_families": sorted(opts.exclude_families),
           "steps": {str(k): v for k, v in opts.steps.items()}, "generator_version": GENERATOR_VERSION,
           "seeds_dir": str(opts.seeds_dir) if opts.seeds_dir else None}
    path = out / "run.json"
    if path.exists():
        try:
            have = json.loads(path.read_text())
        except json.JSONDecodeError:
            raise ConfigError(f"{path}: corrupt run description; remove the run directory") from None
        if have != key:
            diff = ", ".join(f"{k}={have.get(k)!r}" for k in key if have.get(k) != key[k])
            raise ConfigError(f"{out} holds a run with {diff}; use another --out to start a new run")
    else:
        atomic_write_json(path, key)


def _reject(task: Task, out: Path, opts: GenOptions, rec: Record, finish) -> None:
    if opts.keep_rejected:
        dest = out / "rejected" / rec.id
        shutil.rmtree(dest, ignore_errors=True)
        dest.parent.mkdir(exist_ok=True)
        os.replace(task.path, dest)
        rec.path = os.path.relpath(dest, out)
    else:
        shutil.rmtree(task.path, ignore_errors=True)
    finish(rec)


def _verify_batch(batch: list[tuple[Record, Task]], out: Path, opts: GenOptions, finish,
                  backend: Backend) -> None:
    tasks = [t for _, t in batch]
    runs = verify_repeated(tasks, runs=opts.verify_runs, options=opts.trial_options, backend=backend)
    for k, (rec, task) in enumerate(batch):
        results = [run[k] for run in runs]
        phases = [p for o in results for p in (o.before, o.after) if p is not None]
        rec.verify = {"runs": [{"before": o.before.reward if o.before else None,
                                "after": o.after.reward if o.after else None} for o in results],
                      "seconds": round(sum(p.seconds for p in phases), 3),
                      "image_seconds": round(sum(p.image_seconds for p in phases), 3)}
        rec.status, rec.reason, rec.detail = judge(results)
        if rec.status == "verified":
            dest = out / "tasks" / rec.id
            shutil.rmtree(dest, ignore_errors=True)
            os.replace(task.path, dest)
            rec.path = os.path.relpath(dest, out)
            finish(rec)
        else:
            _reject(task, out, opts, rec, finish)


def judge(results: list[VerifyOutcome]) -> tuple[str, str | None, str | None]:
    """(status, reason, detail) of a task verified once or more."""
    if all(o.verified for o in results):
        return "verified", None, None
    if any(o.verified for o in results):
        return "rejected", "flaky", "verified in some runs only: " + "; ".join(o.reason for o in results)
    return "rejected", _classify(results[0]), results[0].reason[:500]


def summarize(records: list[dict]) -> dict[str, Any]:
    per_skill: dict[str, Counter] = defaultdict(Counter)
    per_category: dict[str, Counter] = defaultdict(Counter)
    totals: Counter = Counter()
    for rec in records:
        outcome = "verified" if rec["status"] == "verified" else f"rejected:{rec['reason']}"
        totals["generated"] += 1
        totals[outcome] += 1
        for s in rec.get("skills") or ["(unknown)"]:
            per_skill[s]["generated"] += 1
            per_skill[s][outcome] += 1
        cat = rec.get("category") or "(unknown)"
        per_category[cat]["generated"] += 1
        per_category[cat][outcome] += 1
    return {"totals": dict(totals),
            "verified_share": totals["verified"] / totals["generated"] if totals["generated"] else 0.0,
            "per_category": {k: dict(v) for k, v in sorted(per_category.items())},
            "per_skill": {k: dict(v) for k, v in sorted(per_skill.items())}}
