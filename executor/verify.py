"""The proof that a task is sound (DESIGN §2): reward 0 on the untouched environment and reward 1
after solution/solve.sh, each in a fresh container. The outcome goes to <task>/.termforge/verify.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import termforge
from termforge.errors import TermforgeError
from termforge.executor.agents import NopAgent, OracleAgent
from termforge.executor.backend import Backend, LocalBackend
from termforge.executor.jobs import TrialJob, run_trials
from termforge.executor.task import Task, load_task
from termforge.executor.trial import TrialOptions, reward_of
from termforge.ui import atomic_write_json

VERIFY_FILE = Path(".termforge") / "verify.json"


def find_tasks(paths: list[str | Path]) -> list[Path]:
    """Task directories among `paths`: a task itself, or a folder whose children are tasks."""
    found: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise TermforgeError(f"{p}: no such task or folder")
        if (p / "task.toml").is_file() or (p / "instruction.md").is_file():
            found.append(p)
            continue
        children = sorted(c for c in p.iterdir() if c.is_dir() and (c / "task.toml").is_file())
        if not children:
            raise TermforgeError(f"{p}: not a task (no task.toml) and holds no task directories")
        found.extend(children)
    return found


@dataclass
class PhaseOutcome:
    reward: float | None
    exception: dict | None
    seconds: float
    limits_hit: list[str]
    trial_dir: str | None   # None: the trial directory was not kept
    image_seconds: float = 0.0  # part of `seconds` spent building (or finding) the image

    @classmethod
    def from_result(cls, result: dict, seconds: float, trial_dir: Path | None) -> "PhaseOutcome":
        tf = result.get("termforge", {})
        return cls(reward_of(result), result.get("exception_info"), round(seconds, 3),
                   tf.get("limits_hit", []), None if trial_dir is None else str(trial_dir),
                   float(tf.get("image_seconds") or 0.0))


@dataclass
class VerifyOutcome:
    task: Task
    before: PhaseOutcome | None = None
    after: PhaseOutcome | None = None
    image: str | None = None
    image_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def verified(self) -> bool:
        return (self.before is not None and self.after is not None
                and self.before.exception is None and self.before.reward == 0.0
                and self.after.exception is None and self.after.reward == 1.0)

    @property
    def reason(self) -> str:
        if self.verified:
            return "verified"
        b, a = self.before, self.after
        if b is None or a is None:
            return "incomplete"
        if b.exception:
            return f"error before the solution: {b.exception['exception_type']}: " \
                   f"{b.exception['exception_message']}"
        if b.reward != 0.0:
            return f"trivial: tests give reward {b.reward:g} before the solution"
        if a.exception:
            return f"error after the solution: {a.exception['exception_type']}: " \
                   f"{a.exception['exception_message']}"
        return f"broken: tests give reward {a.reward:g} after the solution"

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task.name,
            "path": str(self.task.path),
            "verified": self.verified,
            "reason": self.reason,
            "task_checksum": self.task.checksum(),
            "image": self.image,
            "image_id": self.image_id,
            "before": None if self.before is None else self.before.__dict__,
            "after": None if self.after is None else self.after.__dict__,
            "verified_at": datetime.now(timezone.utc).isoformat(),
            "termforge_version": termforge.__version__,
        }


def _nop_agent(task: Task) -> NopAgent:
    return NopAgent()


def _oracle_agent(task: Task) -> OracleAgent:
    return OracleAgent()


PHASE_AGENTS = {"before": _nop_agent, "after": _oracle_agent}


def verify_tasks(paths: list[str | Path | Task], *, jobs: int = 1, options: TrialOptions = TrialOptions(),
                 trials_dir: str | Path | None = None, write_files: bool = True,
                 on_progress: Callable[[VerifyOutcome | None], None] | None = None,
                 backend: Backend | None = None) -> list[VerifyOutcome]:
    """Verify tasks in parallel: 2 trials per task, `jobs` at a time (or on `backend`).

    Every task is loaded first (a malformed task stops the run before any container starts).
    Errors the caller must fix (no daemon, missing image) stop the run; a task's own failure only
    marks that task unverified.
    """
    return verify_repeated(paths, runs=1, jobs=jobs, options=options, trials_dir=trials_dir,
                           write_files=write_files, on_progress=on_progress, backend=backend)[0]


def verify_repeated(paths: list[str | Path | Task], *, runs: int, jobs: int = 1,
                    options: TrialOptions = TrialOptions(), trials_dir: str | Path | None = None,
                    write_files: bool = True, on_progress: Callable[[VerifyOutcome], None] | None = None,
                    backend: Backend | None = None) -> list[list[VerifyOutcome]]:
    """Verify every task `runs` times (2 fresh trials each time); outcomes[run][task].

    All 2 x runs x tasks trials go to the backend at once (a local one of `jobs` threads unless
    given). Only the first run's outcome is written to <task>/.termforge/verify.json. Trial
    directories are kept under `trials_dir` (<task>__before, <task>__after; later runs add __rN).
    """
    tasks = [p if isinstance(p, Task) else load_task(p, require_solution=True) for p in paths]
    names = [t.path.resolve() for t in tasks]
    if len(set(names)) != len(names):
        raise TermforgeError("the same task directory was given twice")
    runs = max(1, runs)
    trials_root = Path(trials_dir) if trials_dir is not None else None
    outcomes = [[VerifyOutcome(t) for t in tasks] for _ in range(runs)]
    where: dict[str, tuple[int, int, str]] = {}

    def jobs_to_run() -> Iterator[TrialJob]:
        for r in range(runs):
            for i, task in enumerate(tasks):
                for phase in ("before", "after"):
                    name = f"{task.path.name}__{phase}" + (f"__r{r}" if r else "")
                    key = f"{i}:{name}"
                    where[key] = (r, i, phase)
                    yield TrialJob(key, task, PHASE_AGENTS[phase], options,
                                   trial_dir=trials_root / name if trials_root else None)

    backend = backend or LocalBackend(jobs)
    with run_trials(backend, jobs_to_run()) as stream:
        for job, out in stream:
            if out.error is not None:
                raise out.error  # setup errors (daemon, image) are the caller's to fix
            r, i, phase = where.pop(job.key)
            o = outcomes[r][i]
            setattr(o, phase, PhaseOutcome.from_result(out.result, out.seconds, job.trial_dir))
            tf = out.result.get("termforge", {})
            o.image = o.image or tf.get("image")
            o.image_id = o.image_id or tf.get("image_id")
            if o.before is not None and o.after is not None:
                if write_files and r == 0:
                    atomic_write_json(o.task.path / VERIFY_FILE, o.to_json())
                if on_progress:
                    on_progress(o)
    return outcomes
