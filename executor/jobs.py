"""Trials as backend calls (see backend.py): the one place where verify, collect and eval run trials.

A `TrialJob` names a task, how to build the agent (a picklable factory: it may be called on another
machine), the trial options, and where the driver keeps the trial directory (None: nowhere).
`run_trials(backend, jobs)` streams `(job, TrialOutput)` pairs in completion order; the driver
alone writes index lines, records and trial directories.

On the local backend a trial writes its directory in place. On Ray the task directory travels to
the worker as a tar (without .termforge/), the trial runs in a temp directory there, and the
trial directory comes back as a tar that the driver unpacks into place (temp name, then rename),
with the paths in result.json and config.json pointing at the driver's copies.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import pickle
import shutil
import socket
import tarfile
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from termforge.errors import DockerUnavailableError, ImageMissingError, TermforgeError
from termforge.executor.agents import Agent
from termforge.executor.backend import Call
from termforge.executor.sandbox import close_all
from termforge.executor.task import Task, slugify
from termforge.executor.trial import TrialOptions, run_trial
from termforge.ui import atomic_write_json

AgentFactory = Callable[[Task], Agent]
_NODE_ERRORS = (DockerUnavailableError, ImageMissingError)  # a node's setup, not the task's
WORK_PREFIX = "termforge-ray-"  # a Ray worker's temp dirs: termforge-ray-<pid>-XXXX
STALE_CHECK_SEC = 10.0          # how often a worker looks for what dead workers left on its host


@dataclass(frozen=True)
class TrialJob:
    key: str                                  # unique in the run (attempt id, "<task>__before")
    task: Task
    make_agent: AgentFactory                  # picklable for Ray: a module-level function or partial
    options: TrialOptions = field(default_factory=TrialOptions)
    trial_dir: Path | None = None             # where the driver keeps the trial directory
    attempt: int = 0

    @property
    def trial_name(self) -> str:
        return self.trial_dir.name if self.trial_dir is not None else slugify(self.key, 120)


@dataclass
class TrialOutput:
    result: dict[str, Any] | None             # result.json (None: the trial never started)
    seconds: float
    episode: dict[str, Any] | None = None     # messages, n_assistant_turns, stop_reason, parse_errors
    stats: dict[str, Any] | None = None       # the model backend's counters (calls, tokens)
    error: Exception | None = None            # raised by the agent factory or run_trial
    traceback: str | None = None
    node: str = ""
    files: bytes | None = None                # the trial directory as a tar (Ray only; unpacked)


# ----------------------------------------------------------------------------- running one trial


def execute(job: TrialJob, task: Task, trial_dir: Path) -> TrialOutput:
    """Build the agent and run the trial; every exception is returned, none raised (Ctrl-C is)."""
    t0 = time.perf_counter()
    agent = None
    try:
        agent = job.make_agent(task)
        result = run_trial(task, agent, trial_dir, options=job.options)
        return TrialOutput(result, round(time.perf_counter() - t0, 3), _episode(agent), _stats(agent))
    except Exception as exc:  # noqa: BLE001 - the caller decides what a failed trial means
        return TrialOutput(_read_result(trial_dir), round(time.perf_counter() - t0, 3), _episode(agent),
                           _stats(agent), error=exc, traceback=traceback.format_exc())


def run_here(job: TrialJob) -> TrialOutput:
    """A trial on the driver's machine, writing its directory in place."""
    if job.trial_dir is not None:
        shutil.rmtree(job.trial_dir, ignore_errors=True)  # left by an attempt that crashed
        return execute(job, job.task, Path(job.trial_dir))
    with tempfile.TemporaryDirectory(prefix="termforge-trial-") as tmp:
        return execute(job, job.task, Path(tmp) / job.trial_name)


def run_shipped(job: TrialJob, bundle: bytes) -> TrialOutput:
    """A trial on a Ray worker: the task arrives as a tar, the trial directory leaves as one."""
    _remove_stale_sandboxes()
    node = socket.gethostname()
    with tempfile.TemporaryDirectory(prefix=f"{WORK_PREFIX}{os.getpid()}-") as tmp:
        task = dataclasses.replace(job.task, path=unpack_tree(bundle, Path(tmp) / "task"))
        trial_dir = Path(tmp) / "trial" / job.trial_name
        out = cancellable(execute, job, task, trial_dir)
        out.node = node
        if job.trial_dir is not None and trial_dir.is_dir():
            out.files = pack_tree(trial_dir)
    out.error = portable_error(out.error, node)
    return out


def cancellable(fn: Callable[..., TrialOutput], *args) -> TrialOutput:
    """Run `fn` in a thread while this (main) thread waits in short steps.

    Ray cancels a running task by flagging a KeyboardInterrupt in the main thread, which a long
    blocking wait (an exec of the agent's command) would only notice when it ends. Waiting here
    notices it within half a second; then this worker's sandboxes are removed -- which ends the
    trial -- and the interrupt goes on.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            box["error"] = exc

    worker = threading.Thread(target=target, name="trial", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.5)
    except BaseException:
        close_all()
        worker.join(30)
        raise
    if "error" in box:
        raise box["error"]
    return box["value"]


_last_stale_check = float("-inf")


def _remove_stale_sandboxes() -> None:
    """Sandboxes and temp dirs of a worker that died (and was retried elsewhere) are removed by
    the next trial on its host (checked at most every STALE_CHECK_SEC per worker process)."""
    global _last_stale_check
    if time.monotonic() - _last_stale_check < STALE_CHECK_SEC:
        return
    _last_stale_check = time.monotonic()
    for path in Path(tempfile.gettempdir()).glob(f"{WORK_PREFIX}*-*"):
        pid = path.name[len(WORK_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            shutil.rmtree(path, ignore_errors=True)
    try:
        from termforge.executor.sandbox import remove_stale_sandboxes

        remove_stale_sandboxes()
    except Exception:  # noqa: BLE001 - Docker trouble shows up in the trial itself
        pass


def _episode(agent) -> dict[str, Any] | None:
    ep = getattr(agent, "last_episode", None)
    if ep is None:
        return None
    return {"messages": list(ep.messages), "n_assistant_turns": ep.n_assistant_turns,
            "stop_reason": ep.stop_reason, "parse_errors": ep.parse_errors}


def _stats(agent) -> dict[str, Any] | None:
    stats = getattr(getattr(agent, "backend", None), "stats", None)
    return stats.to_json() if hasattr(stats, "to_json") else None


def _read_result(trial_dir: Path) -> dict | None:
    try:
        return json.loads((trial_dir / "result.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def portable_error(exc: Exception | None, node: str) -> Exception | None:
    """The exception as it may cross processes: itself when it pickles, else one that says the same.
    Errors of the node's own setup (Docker, base image) name the node."""
    if exc is None:
        return None
    if isinstance(exc, _NODE_ERRORS):
        return type(exc)(f"on Ray node {node}: {exc}")
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - e.g. an __init__ that takes other arguments
        kind = TermforgeError if isinstance(exc, TermforgeError) else RuntimeError
        return kind(f"{type(exc).__name__}: {exc}")


# ----------------------------------------------------------------------------- files in transit


def pack_tree(root: Path, *, exclude: tuple[str, ...] = ()) -> bytes:
    """A gzip'd tar of `root` (links stored as links), top-level names in `exclude` left out."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        for child in sorted(Path(root).iterdir()):
            if child.name not in exclude:
                tar.add(child, arcname=child.name)
    return buf.getvalue()


def unpack_tree(data: bytes, dest: Path) -> Path:
    """Unpack `pack_tree` bytes into `dest` (created); the tar 'data' filter refuses paths that
    leave `dest`, device files and links pointing outside."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        tar.extractall(dest, filter="data")
    return dest


def land_trial_dir(data: bytes, trial_dir: Path) -> None:
    """Unpack a trial directory from a worker into place: a temp sibling, then a rename."""
    trial_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{trial_dir.name}.", suffix=".landing", dir=trial_dir.parent))
    try:
        unpack_tree(data, tmp)
        shutil.rmtree(trial_dir, ignore_errors=True)
        os.replace(tmp, trial_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def relocate(result: dict[str, Any], task_path: Path, trial_dir: Path | None) -> None:
    """Point a worker's result (and, when kept, result.json / config.json) at the driver's paths."""
    if "task_id" in result:
        result["task_id"] = {"path": str(task_path.resolve())}
    if trial_dir is None:
        return
    if "trial_uri" in result:
        result["trial_uri"] = trial_dir.resolve().as_uri()
    if (trial_dir / "result.json").is_file():
        atomic_write_json(trial_dir / "result.json", result)
    config = _read_json(trial_dir / "config.json")
    if isinstance(config, dict) and "task" in config:
        config["task"] = str(task_path.resolve())
        atomic_write_json(trial_dir / "config.json", config)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


# ----------------------------------------------------------------------------- the stream


def _call(job: TrialJob, ships_files: bool) -> Call:
    limits = job.options.limits(job.task)
    if ships_files:
        fn, args = run_shipped, (job, pack_tree(job.task.path, exclude=(".termforge",)))
    else:
        fn, args = run_here, (job,)
    return Call(fn, args, tag=job, name=f"trial {job.key}", cpus=limits.cpus, memory_mb=limits.memory_mb)


class TrialStream:
    """`(job, TrialOutput)` pairs in completion order; a context manager (leaving it by an
    exception cancels the trials in flight and removes their sandboxes)."""

    def __init__(self, backend, jobs: Iterable[TrialJob]):
        self._ships = backend.ships_files
        self._stream = backend.run((_call(j, self._ships) for j in jobs), on_abort=close_all)

    def stop(self) -> None:
        """Start no further trial; those running still finish and are delivered."""
        self._stream.stop()

    def __enter__(self) -> "TrialStream":
        self._stream.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._stream.__exit__(*exc)

    def __iter__(self) -> Iterator[tuple[TrialJob, TrialOutput]]:
        for call, out, error in self._stream:
            job: TrialJob = call.tag
            if error is not None:  # the call itself failed (lost worker, a bug outside the trial)
                out = TrialOutput(None, 0.0, error=error if isinstance(error, Exception)
                                  else RuntimeError(repr(error)))
            elif self._ships:
                if out.files is not None and job.trial_dir is not None:
                    land_trial_dir(out.files, Path(job.trial_dir))
                out.files = None
                if out.result is not None:
                    relocate(out.result, job.task.path, job.trial_dir)
            yield job, out


def run_trials(backend, jobs: Iterable[TrialJob]) -> TrialStream:
    return TrialStream(backend, jobs)
