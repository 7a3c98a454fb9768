"""`termforge eval`: attempts of a model on tasks, each in a fresh sandbox, scored by the task's
own verifier, with a resumable index and a report.

    RUN_DIR/run.json              what is evaluated (model, sampling, seed, limits); a resumed run
                                  must match it
    RUN_DIR/index.jsonl           one line per finished attempt (appended, fsynced; resumable)
    RUN_DIR/trials/<attempt>/     Harbor-style trial directory: config.json, result.json (with
                                  termforge.eval = cause and network evidence), episode/, verifier/
    RUN_DIR/report.json|.md, *.png   written by termforge.eval.report

Attempts run `jobs` at a time (or on a Ray cluster, see termforge.executor.backend); a failure inside one attempt (a crashed backend, an executor bug,
an image that does not build) is recorded as that attempt's cause and never stops the others.
Only errors the user must fix before anything can run (Docker down, a base image that is not
available) end the run -- after the attempts already in flight are recorded.
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from termforge.errors import ConfigError, DockerUnavailableError, ImageMissingError, TermforgeError
from termforge.eval.backends import Provider
from termforge.eval.tb2 import classify_network, scan_downloads
from termforge.executor.agent import LoopConfig, TerminusAgent
from termforge.executor.agents import NopAgent
from termforge.executor.backend import Backend, LocalBackend
from termforge.executor.jobs import TrialJob, TrialOutput, run_trials
from termforge.executor.task import Task, load_task
from termforge.executor.trial import TrialOptions, reward_of
from termforge.ui import atomic_write_json

RUN_SCHEMA = "termforge.eval-run/1"
FATAL_ERRORS = (DockerUnavailableError, ImageMissingError)


@dataclass(frozen=True)
class EvalOptions:
    attempts: int = 1
    jobs: int = 1
    max_turns: int = 50
    trial_options: TrialOptions = field(default_factory=TrialOptions)
    skip_network_tasks: bool = False      # don't run tasks whose tests download (offline sandboxes)
    check_images: bool = True             # one clear error for unavailable base images up front
    retry_errors: bool = False            # on resume, run again the attempts that ended in an
                                          # infrastructure error


def attempt_id(task: Task, k: int) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", task.name).strip("-")[:80]
    return f"{slug}__a{k}"


def read_index(out: Path) -> dict[str, dict]:
    records: dict[str, dict] = {}
    path = Path(out) / "index.jsonl"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
                records[rec["id"]] = rec
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a torn last line after a crash
    return records


def _repair_index(out: Path) -> None:
    path = out / "index.jsonl"
    if path.exists():
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data[: data.rfind(b"\n") + 1])
            os.replace(tmp, path)


def classify(result: dict[str, Any], network: bool) -> tuple[str, str]:
    """(cause, detail) of one trial: passed | needs_network | timeout | infrastructure_error |
    wrong_result | parse_errors | never_completed."""
    reward = reward_of(result)
    exc = result.get("exception_info") or {}
    etype, emsg = exc.get("exception_type"), exc.get("exception_message") or ""
    meta = (result.get("agent_result") or {}).get("metadata") or {}
    stop = meta.get("stop_reason")
    if reward == 1.0:
        return "passed", ""
    if network:
        return "needs_network", "the verifier (or image build) could not reach the network"
    if etype == "AgentTimeoutError" or stop == "timeout":
        return "timeout", "agent: " + (emsg or "ran out of time")
    if etype == "VerifierTimeoutError":
        return "timeout", "verifier: " + emsg
    if stop == "model_error":
        return "infrastructure_error", f"model backend: {meta.get('error') or emsg}"
    if etype:
        return "infrastructure_error", f"{etype}: {emsg}"[:500]
    if reward is None:
        return "infrastructure_error", "no reward"
    if stop is None or stop == "completed":
        return "wrong_result", f"reward {reward:g}"
    turns = int(meta.get("n_assistant_turns") or 0)
    parse_errors = int(meta.get("parse_errors") or 0)
    if parse_errors and 2 * parse_errors >= turns:
        return "parse_errors", f"{parse_errors} of {turns} turns could not be parsed"
    return "never_completed", f"stopped at {stop} without confirming completion"


def _synthetic_result(task: Task, trial_dir: Path, kind: str, message: str, tb: str | None) -> dict:
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc).isoformat()
    return {"task_name": task.name, "trial_name": trial_dir.name, "agent_info": None, "agent_result": None,
            "verifier_result": None, "started_at": now, "finished_at": now, "termforge": {},
            "exception_info": {"exception_type": kind, "exception_message": message,
                               "exception_traceback": tb, "occurred_at": now}}


def run_eval(task_paths: list[str | Path | Task], out: str | Path, provider: Provider,
             opts: EvalOptions = EvalOptions(), *,
             on_entry: Callable[[dict], None] | None = None,
             on_plan: Callable[[int, int], None] | None = None, backend: Backend | None = None) -> list[dict]:
    """Run every missing attempt; returns the index entries of the run directory (all of them).

    Attempts run `opts.jobs` at a time in threads, or on `backend` (e.g. Ray workers, which need
    a model they can reach: an endpoint, the oracle or nop). Only this process writes the run
    directory. `on_plan(total, already_done)` is called once before the first attempt starts.
    """
    backend = backend or LocalBackend(opts.jobs)
    if backend.ships_files and provider.lm is not None:
        raise ConfigError(f"--backend {backend.name} runs episodes on other processes, which cannot share this "
                          "in-process model: serve it with `termforge serve CKPT` and pass --model openai:URL#MODEL")
    tasks = [p if isinstance(p, Task) else load_task(p, require_solution=provider.spec.kind == "oracle")
             for p in task_paths]
    if not tasks:
        raise TermforgeError("no tasks to evaluate")
    names = [t.name for t in tasks]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise TermforgeError(f"task {dupes[0]!r} was given twice")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "trials").mkdir(exist_ok=True)
    _check_run_config(out, provider, opts)
    done = read_index(out)
    _repair_index(out)
    if opts.retry_errors:
        done = {k: e for k, e in done.items() if e.get("cause") != "infrastructure_error"}
    todo = [(t, k) for t in tasks for k in range(opts.attempts) if attempt_id(t, k) not in done]
    if on_plan:
        on_plan(len(tasks) * opts.attempts, len(tasks) * opts.attempts - len(todo))
    if not todo:
        return sorted(done.values(), key=lambda e: e["id"])
    static = {t.name: scan_downloads(t.path) for t in tasks}
    if opts.check_images and not backend.ships_files:  # Ray workers check their own Docker
        from termforge.eval.tb2 import check_images
        from termforge.executor.docker_env import client

        client()  # Docker down: one clear error before anything runs
        check_images(sorted({t.name: t for t, _ in todo}.values(), key=lambda t: t.name),
                     opts.trial_options.image_map)

    fatal: list[BaseException] = []
    run = [(t, k) for t, k in todo if not _skipped(t, opts, static)]
    jobs = (TrialJob(attempt_id(t, k), t, functools.partial(_eval_agent, provider, k, opts.max_turns),
                     opts.trial_options, trial_dir=out / "trials" / attempt_id(t, k), attempt=k)
            for t, k in run)
    with open(out / "index.jsonl", "a", encoding="utf-8") as index:
        def record(entry: dict) -> None:
            index.write(json.dumps(entry) + "\n")
            index.flush()
            os.fsync(index.fileno())
            done[entry["id"]] = entry
            if on_entry:
                on_entry(entry)

        for t, k in todo:
            if _skipped(t, opts, static):
                record(_skipped_entry(t, k, provider, static[t.name]))
        with run_trials(backend, jobs) as stream:
            for job, output in stream:
                if isinstance(output.error, FATAL_ERRORS):
                    fatal.append(output.error)
                    stream.stop()  # the attempts in flight are still recorded
                    continue
                record(_entry(job, output, provider, static.get(job.task.name, [])))
    if fatal:
        raise fatal[0]
    return sorted(done.values(), key=lambda e: e["id"])


def _eval_agent(provider: Provider, k: int, max_turns: int, task: Task):
    backend = provider.backend(task, k)
    if backend is None:
        return NopAgent()
    return TerminusAgent(backend, name=f"terminus-2:{provider.name}", model_name=provider.name,
                         config=LoopConfig(max_turns=max_turns))


def _base_entry(task: Task, k: int, provider: Provider) -> dict[str, Any]:
    aid = attempt_id(task, k)
    return {"id": aid, "task": task.name, "attempt": k, "category": task.config.category or "unknown",
            "difficulty": task.config.difficulty or "unknown", "model": provider.name, "trial": f"trials/{aid}"}


def _skipped(task: Task, opts: EvalOptions, static: dict[str, list[str]]) -> bool:
    """--skip-network-tasks: a task whose tests download is not run (unless it may use the network)."""
    internet = opts.trial_options.allow_internet and task.config.allow_internet
    return opts.skip_network_tasks and bool(static.get(task.name)) and not internet


def _skipped_entry(task: Task, k: int, provider: Provider, evidence: list[str]) -> dict[str, Any]:
    return {**_base_entry(task, k, provider), "reward": None, "passed": False, "cause": "needs_network",
            "detail": "not run: its tests download (" + evidence[0] + ")",
            "network_evidence": evidence[:3], "seconds": 0.0}


def _entry(job: TrialJob, output: TrialOutput, provider: Provider, evidence: list[str]) -> dict[str, Any]:
    """The index line of a finished attempt; a failure inside the attempt is its cause, never fatal."""
    task, trial_dir = job.task, Path(job.trial_dir)
    result = output.result
    exc = output.error
    if isinstance(exc, TermforgeError):  # e.g. the image does not build: this attempt only
        result = result or _synthetic_result(task, trial_dir, type(exc).__name__, str(exc), None)
    elif exc is not None:  # one attempt's crash never stops the run
        result = _synthetic_result(task, trial_dir, type(exc).__name__, str(exc) or repr(exc), output.traceback)
        atomic_write_json(trial_dir / "result.json", result)
    verdict_reward = reward_of(result)
    verdict = classify_network(trial_dir, result, evidence) if verdict_reward != 1.0 else None
    network = bool(verdict and verdict.needs_network)
    cause, detail = classify(result, network)
    meta = (result.get("agent_result") or {}).get("metadata") or {}
    exc_info = result.get("exception_info") or {}
    entry: dict[str, Any] = {
        **_base_entry(task, job.attempt, provider), "reward": verdict_reward, "passed": verdict_reward == 1.0,
        "cause": cause, "detail": detail,
        "stop_reason": meta.get("stop_reason"), "turns": meta.get("n_assistant_turns"),
        "parse_errors": meta.get("parse_errors"), "completed": meta.get("completed"),
        "exception": exc_info.get("exception_type"),
        "seconds": output.seconds,
    }
    if output.stats is not None:
        s = output.stats
        entry.update(calls=s["calls"], prompt_tokens=s["prompt_tokens"], completion_tokens=s["completion_tokens"])
        if s.get("dropped_messages"):
            entry["dropped_messages"] = s["dropped_messages"]
    if network:
        entry["network_evidence"] = verdict.evidence
    _annotate_result(trial_dir, result, provider, entry)
    return entry


def _annotate_result(trial_dir: Path, result: dict, provider: Provider, entry: dict) -> None:
    """Add the model and the eval verdict to the trial's result.json (Harbor keeps model_info there)."""
    try:
        if isinstance(result.get("agent_info"), dict):
            result["agent_info"]["model_info"] = {"name": provider.name, "provider": provider.spec.kind}
        result.setdefault("termforge", {})["eval"] = {
            k: entry.get(k) for k in ("cause", "detail", "network_evidence", "calls", "prompt_tokens",
                                      "completion_tokens") if entry.get(k) is not None}
        atomic_write_json(trial_dir / "result.json", result)
    except OSError:
        pass


def _check_run_config(out: Path, provider: Provider, opts: EvalOptions) -> None:
    """A run directory belongs to one model and one set of sampling options."""
    desc = provider.describe()
    conf = {"schema": RUN_SCHEMA, **desc, "max_turns": opts.max_turns,
            "image_map": opts.trial_options.image_map}
    path = out / "run.json"
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            old = None
        if isinstance(old, dict):
            keys = ("model", "temperature", "top_p", "max_tokens", "seed", "max_turns")
            diff = [k for k in keys if old.get(k) != conf.get(k)]
            if diff:
                k = diff[0]
                raise TermforgeError(f"{out} holds a run with {k}={old.get(k)!r}, not {conf.get(k)!r}; "
                                     "resume with the same options or choose another --out")
            conf["attempts_history"] = old.get("attempts_history", [])
    conf.setdefault("attempts_history", []).append(opts.attempts)
    atomic_write_json(path, conf)
