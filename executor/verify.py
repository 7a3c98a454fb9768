"""The proof that a task is sound (DESIGN §2): reward 0 on the untouched environment and reward 1
after solution/solve.sh, each in a fresh container. The outcome goes to <task>/.termforge/verify.json.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import termforge
from termforge.errors import TermforgeError
from termforge.executor.agents import NopAgent, OracleAgent
from termforge.executor.sandbox import close_all
from termforge.executor.task import Task, load_task
from termforge.executor.trial import TrialOptions, reward_of, run_trial
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
    trial_dir: str
    image_seconds: float = 0.0  # part of `seconds` spent building (or finding) the image

    @classmethod
    def from_result(cls, result: dict, seconds: float, trial_dir: Path) -> "PhaseOutcome":
        tf = result.get("termforge", {})
        return cls(reward_of(result), result.get("exception_info"), round(seconds, 3),
                   tf.get("limits_hit", []), str(trial_dir), float(tf.get("image_seconds") or 0.0))


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


def _run_phase(task: Task, phase: str, trials_root: Path, options: TrialOptions) -> tuple[PhaseOutcome, dict]:
    trial_dir = trials_root / f"{task.path.name}__{phase}"
    if trial_dir.exists():
        shutil.rmtree(trial_dir)
    agent = NopAgent() if phase == "before" else OracleAgent()
    t0 = time.perf_counter()
    result = run_trial(task, agent, trial_dir, options=options)
    return PhaseOutcome.from_result(result, time.perf_counter() - t0, trial_dir), result


def verify_tasks(paths: list[str | Path | Task], *, jobs: int = 1, options: TrialOptions = TrialOptions(),
                 trials_dir: str | Path | None = None, write_files: bool = True,
                 on_progress: Callable[[VerifyOutcome | None], None] | None = None) -> list[VerifyOutcome]:
    """Verify tasks in parallel: 2 trials per task, `jobs` at a time.

    Every task is loaded first (a malformed task stops the run before any container starts).
    Errors the caller must fix (no daemon, missing image) stop the run; a task's own failure only
    marks that task unverified.
    """
    tasks = [p if isinstance(p, Task) else load_task(p, require_solution=True) for p in paths]
    names = [t.path.resolve() for t in tasks]
    if len(set(names)) != len(names):
        raise TermforgeError("the same task directory was given twice")
    own_tmp = trials_dir is None
    trials_root = Path(tempfile.mkdtemp(prefix="termforge-verify-")) if own_tmp else Path(trials_dir)
    trials_root.mkdir(parents=True, exist_ok=True)
    outcomes = [VerifyOutcome(t) for t in tasks]
    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="verify")
    futures: dict[Future, tuple[int, str]] = {}
    try:
        for i, task in enumerate(tasks):
            for phase in ("before", "after"):
                futures[pool.submit(_run_phase, task, phase, trials_root, options)] = (i, phase)
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i, phase = futures[fut]
                outcome, result = fut.result()  # re-raises setup errors (daemon, image)
                o = outcomes[i]
                setattr(o, phase, outcome)
                o.image = o.image or result.get("termforge", {}).get("image")
                o.image_id = o.image_id or result.get("termforge", {}).get("image_id")
                if o.before is not None and o.after is not None:
                    if write_files:
                        atomic_write_json(o.task.path / VERIFY_FILE, o.to_json())
                    if on_progress:
                        on_progress(o)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        close_all()
        raise
    finally:
        pool.shutdown(wait=True)
        if own_tmp:
            shutil.rmtree(trials_root, ignore_errors=True)
    return outcomes
