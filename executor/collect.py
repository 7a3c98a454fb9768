"""`termforge collect`: run agents on verified tasks and keep their trajectories as records.

    RUN_DIR/index.jsonl                     one line per finished attempt (resumable)
    RUN_DIR/trajectories/<attempt>.jsonl    the trajectory record (DESIGN §4), written atomically
    RUN_DIR/trials/<attempt>/               the Harbor-style trial directory (result.json, episode/)

Every attempt runs in a fresh sandbox and is scored by the task's own tests.
"""

from __future__ import annotations

import functools
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from termforge.errors import TermforgeError
from termforge.executor.agent import LoopConfig, Messages, ModelBackend, TerminusAgent
from termforge.executor.backend import Backend, LocalBackend
from termforge.executor.jobs import TrialJob, TrialOutput, run_trials
from termforge.executor.oracle import STYLES as ORACLE_STYLES, OracleBackend
from termforge.executor.task import Task, load_task, slugify
from termforge.executor.trial import TrialOptions, reward_of
from termforge.llm_client import LLMOptions, chat_backend
from termforge.records import SOURCES, TrajectoryRecord
from termforge.ui import atomic_write_text

BackendFactory = Callable[[Task, int], ModelBackend]


@dataclass(frozen=True)
class CollectOptions:
    agent: str = "oracle"                 # oracle | openai
    attempts: int = 1
    jobs: int = 1
    model_name: str = ""
    max_turns: int = 50
    trial_options: TrialOptions = field(default_factory=TrialOptions)
    backend_factory: BackendFactory | None = None   # overrides `agent` (tests, custom models)
    llm: LLMOptions | None = None                    # for agent "openai"
    oracle_style: str = "full"                       # for agent "oracle": full | terse narration


class ReplayBackend:
    """Returns a recorded trajectory's assistant turns in order (to replay it in a fresh sandbox)."""

    def __init__(self, messages: Messages):
        self._turns = [m["content"] for m in messages if m["role"] == "assistant"]
        self._i = 0

    def __call__(self, messages: Messages) -> str:
        if self._i >= len(self._turns):
            raise RuntimeError("the recorded trajectory has no more turns")
        self._i += 1
        return self._turns[self._i - 1]


def attempt_id(task: Task, k: int) -> str:
    return f"{slugify(task.name, 80)}__a{k}"


def _record(task: Task, aid: str, messages: Messages, reward: float, model_name: str) -> TrajectoryRecord:
    tf = task.config.termforge
    while messages and messages[-1]["role"] != "assistant":
        messages = messages[:-1]
    source = tf.get("source", "seed")
    return TrajectoryRecord(
        trajectory_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"termforge:{task.checksum()}:{aid}:{model_name}")),
        task_id=task.name,
        task_group_id=str(tf.get("seed_task") or tf.get("family") or task.name),
        messages=messages,
        source=source if source in SOURCES else "seed",
        skills=list(tf.get("skills", [])),
        domain=task.config.category,
        difficulty=task.config.difficulty,
        model_name=model_name,
        reward=float(reward),
        n_assistant_turns=sum(m["role"] == "assistant" for m in messages),
    )


def read_index(out: Path) -> dict[str, dict]:
    records: dict[str, dict] = {}
    path = out / "index.jsonl"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
                records[rec["id"]] = rec
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a torn last line after a crash
    return records


@dataclass(frozen=True)
class _OracleFactory:
    """Picklable (it may run on a Ray worker)."""

    style: str = "full"

    def __call__(self, task: Task, k: int) -> ModelBackend:
        return OracleBackend(task, seed=k, style=self.style)


@functools.lru_cache(maxsize=None)
def _shared_chat_backend(llm: LLMOptions) -> ModelBackend:
    return chat_backend(llm)  # one client per process: its concurrency limit is shared


@dataclass(frozen=True)
class _ChatFactory:
    """Picklable (it may run on a Ray worker): the client is made where the episodes run."""

    llm: LLMOptions

    def __call__(self, task: Task, k: int) -> ModelBackend:
        return _shared_chat_backend(self.llm)


def _backend_factory(opts: CollectOptions) -> BackendFactory:
    if opts.backend_factory is not None:
        return opts.backend_factory
    if opts.agent == "oracle":
        if opts.oracle_style not in ORACLE_STYLES:
            raise TermforgeError(f"--oracle-style must be one of {', '.join(ORACLE_STYLES)}, not {opts.oracle_style!r}")
        return _OracleFactory(opts.oracle_style)
    if opts.agent == "openai":
        if opts.llm is None:
            raise TermforgeError("--agent openai needs --base-url and --model")
        return _ChatFactory(opts.llm)
    raise TermforgeError(f"unknown agent {opts.agent!r} for collect; use oracle or openai")


def _terminus_agent(factory: BackendFactory, k: int, model_name: str, max_turns: int,
                    task: Task) -> TerminusAgent:
    return TerminusAgent(factory(task, k), name=f"terminus-2:{model_name}", model_name=model_name,
                         config=LoopConfig(max_turns=max_turns))


def collect(task_paths: list[str | Path | Task], out: str | Path, opts: CollectOptions = CollectOptions(), *,
            on_record: Callable[[dict], None] | None = None, backend: Backend | None = None) -> list[dict]:
    """Run `attempts` episodes per task (`jobs` at a time, or on `backend`); returns the index
    entries of the whole run directory. Only this process writes the run directory."""
    tasks = [p if isinstance(p, Task) else load_task(p, require_solution=opts.agent == "oracle")
             for p in task_paths]
    out = Path(out)
    (out / "trajectories").mkdir(parents=True, exist_ok=True)
    (out / "trials").mkdir(exist_ok=True)
    factory = _backend_factory(opts)
    model_name = opts.model_name or (opts.llm.model if opts.llm else opts.agent)
    done = read_index(out)
    _repair_index(out)
    todo = [(t, k) for t in tasks for k in range(opts.attempts) if attempt_id(t, k) not in done]
    jobs = (TrialJob(attempt_id(t, k), t,
                     functools.partial(_terminus_agent, factory, k, model_name, opts.max_turns),
                     opts.trial_options, trial_dir=out / "trials" / attempt_id(t, k), attempt=k)
            for t, k in todo)
    backend = backend or LocalBackend(opts.jobs)
    with open(out / "index.jsonl", "a", encoding="utf-8") as index, run_trials(backend, jobs) as stream:
        for job, output in stream:
            if output.error is not None:
                raise output.error
            entry = _entry(job, output, out, model_name)
            index.write(json.dumps(entry) + "\n")
            index.flush()
            os.fsync(index.fileno())
            done[job.key] = entry
            if on_record:
                on_record(entry)
    return sorted(done.values(), key=lambda e: e["id"])


def _entry(job: TrialJob, output: TrialOutput, out: Path, model_name: str) -> dict[str, Any]:
    """The index line of a finished attempt; writes its trajectory record (atomically) first."""
    task, result = job.task, output.result
    reward = reward_of(result)
    entry: dict[str, Any] = {"id": job.key, "task": task.name, "attempt": job.attempt, "reward": reward,
                             "skills": list(task.config.termforge.get("skills", [])),
                             "category": task.config.category,
                             "exception": (result.get("exception_info") or {}).get("exception_type")}
    episode = output.episode
    if episode is not None:
        rec = _record(task, job.key, list(episode["messages"]), reward or 0.0, model_name)
        atomic_write_text(out / "trajectories" / f"{job.key}.jsonl", rec.to_json() + "\n")
        entry.update(trajectory_id=rec.trajectory_id, turns=episode["n_assistant_turns"],
                     stop_reason=episode["stop_reason"], parse_errors=episode["parse_errors"],
                     trajectory=f"trajectories/{job.key}.jsonl")
    return entry


def _repair_index(out: Path) -> None:
    path = out / "index.jsonl"
    if path.exists():
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data[: data.rfind(b"\n") + 1])
            os.replace(tmp, path)
