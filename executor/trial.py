"""One trial: a fresh sandbox, an agent, the task's verifier, and a Harbor-style result.json.

    <trial_dir>/config.json   what was run (task, agent, limits)
    <trial_dir>/result.json   Harbor field names: task_name, agent_info,
                              verifier_result.rewards.reward, exception_info, per-phase timings
    <trial_dir>/agent/ verifier/ artifacts/   copied from /logs (links are never followed)
"""

from __future__ import annotations

import dataclasses
import json
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import termforge
from termforge.errors import TermforgeError
from termforge.executor.agents import Agent, AgentTimeout
from termforge.executor.images import ensure_task_image
from termforge.executor.limits import SandboxLimits, limits_for_task
from termforge.executor.sandbox import Sandbox
from termforge.executor.storage import read_small_file
from termforge.executor.task import Task, slugify
from termforge.ui import atomic_write_json

VERIFIER_CMD = "bash /tests/test.sh > /logs/verifier/test-stdout.txt 2>&1"


@dataclass(frozen=True)
class TrialOptions:
    image_map: dict[str, str] = field(default_factory=dict)
    allow_internet: bool = False             # honoured only for tasks that allow it
    max_cpus: float | None = None
    max_memory_mb: int | None = None
    max_storage_mb: int | None = None
    timeout_multiplier: float = 1.0
    limit_overrides: dict[str, Any] = field(default_factory=dict)

    def limits(self, task: Task) -> SandboxLimits:
        return limits_for_task(task.config, allow_internet=self.allow_internet,
                               max_cpus=self.max_cpus, max_memory_mb=self.max_memory_mb,
                               max_storage_mb=self.max_storage_mb, **self.limit_overrides)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class _Phase:
    def __init__(self, result: dict, key: str):
        self.result, self.key = result, key

    def __enter__(self):
        self.result[self.key] = {"started_at": _now(), "finished_at": None}
        return self

    def __exit__(self, *exc):
        self.result[self.key]["finished_at"] = _now()


def parse_reward(verifier_dir: Path) -> tuple[dict[str, float] | None, tuple[str, str] | None]:
    """Rewards from reward.txt (a float) or else reward.json (a flat object of numbers).

    Returns (rewards, error) where error is (exception_type, message).
    """
    txt = read_small_file(verifier_dir / "reward.txt")
    if txt is not None:
        s = txt.decode("utf-8", errors="replace").strip()
        if not s:
            return None, ("RewardFileEmptyError", "/logs/verifier/reward.txt is empty")
        try:
            return {"reward": float(s)}, None
        except ValueError:
            return None, ("VerifierOutputParseError", f"reward.txt is not a number: {s[:80]!r}")
    raw = read_small_file(verifier_dir / "reward.json")
    if raw is not None:
        if not raw.strip():
            return None, ("RewardFileEmptyError", "/logs/verifier/reward.json is empty")
        try:
            obj = json.loads(raw)
            if not isinstance(obj, dict) or not obj:
                raise ValueError
            rewards = {str(k): float(v) for k, v in obj.items()}
        except (ValueError, TypeError):
            return None, ("VerifierOutputParseError", "reward.json is not a flat object of numbers")
        if "reward" not in rewards:
            rewards["reward"] = float(sum(rewards.values()) / len(rewards))
        return rewards, None
    return None, ("RewardFileNotFoundError", "the verifier wrote no /logs/verifier/reward.txt or reward.json")


def run_trial(task: Task, agent: Agent, trial_dir: str | Path, *,
              options: TrialOptions = TrialOptions(), on_sandbox=None) -> dict[str, Any]:
    """Run one trial end to end; always writes result.json (also on errors) and returns it.

    Setup errors that are the caller's to fix (missing image, daemon down) are re-raised after
    result.json is written. `on_sandbox(sandbox)` is called once the sandbox runs (for tests).
    """
    trial_dir = Path(trial_dir)
    trial_dir.mkdir(parents=True, exist_ok=True)
    limits = options.limits(task)
    mult = options.timeout_multiplier
    result: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "task_name": task.name,
        "trial_name": trial_dir.name,
        "trial_uri": trial_dir.resolve().as_uri(),
        "task_id": {"path": str(task.path.resolve())},
        "task_checksum": task.checksum(),
        "agent_info": {"name": agent.name, "version": agent.version, "model_info": None},
        "agent_result": None,
        "verifier_result": None,
        "exception_info": None,
        "started_at": _now(),
        "finished_at": None,
        "environment_setup": None,
        "agent_setup": None,
        "agent_execution": None,
        "verifier": None,
        "termforge": {"version": termforge.__version__, "limits": dataclasses.asdict(limits),
                      "limits_hit": [], "image": None, "image_id": None},
    }
    atomic_write_json(trial_dir / "config.json", {
        "task": str(task.path.resolve()), "agent": agent.name,
        "limits": dataclasses.asdict(limits), "timeout_multiplier": mult,
        "image_map": options.image_map,
    })
    sandbox: Sandbox | None = None
    verifier_ran = False
    reraise: BaseException | None = None
    try:
        with _Phase(result, "environment_setup"):
            image = ensure_task_image(task, image_map=options.image_map)
            result["termforge"].update(image=image.tag, image_id=image.image_id,
                                       image_cached=image.cached, image_seconds=round(image.seconds, 3))
            sandbox = Sandbox(image.tag, limits, name=slugify(task.name, 48)).start()
            result["termforge"]["container_start_sec"] = round(sandbox.start_seconds, 3)
        if on_sandbox is not None:
            on_sandbox(sandbox)
        with _Phase(result, "agent_setup"):
            pass
        with _Phase(result, "agent_execution"):
            try:
                meta = agent.run(sandbox, task, timeout=task.config.agent_timeout_sec * mult,
                                 log_dir=trial_dir / "episode")
                result["agent_result"] = {"metadata": meta}
            except AgentTimeout as exc:
                result["agent_result"] = {"metadata": exc.metadata}
                sandbox._hit("agent_timeout")
                result["exception_info"] = _exc_info("AgentTimeoutError", str(exc))
        sandbox.check_cgroup_events()
        if _sandbox_died(sandbox):
            cause = ", ".join(sandbox.limits_hit) or "the container stopped"
            raise _SandboxDied(f"sandbox ended during the agent phase ({cause})")
        with _Phase(result, "verifier"):
            sandbox.put_dir(task.tests_dir, "/tests")
            r = sandbox.exec(["bash", "-c", VERIFIER_CMD],
                             timeout=task.config.verifier_timeout_sec * mult)
            if r.timed_out:
                sandbox._hit("verifier_timeout")
                raise _VerifierTimeout(
                    f"tests/test.sh ran past the verifier timeout of "
                    f"{task.config.verifier_timeout_sec * mult:g} s")
            if "storage_limit" in sandbox.limits_hit:  # killed by the watchdog meanwhile
                raise _SandboxDied("sandbox ended during the verifier phase (storage_limit)")
            verifier_ran = True
    except (_SandboxDied, _VerifierTimeout) as exc:
        result["exception_info"] = _exc_info(exc.kind, str(exc))
    except TermforgeError as exc:
        result["exception_info"] = _exc_info(type(exc).__name__, str(exc))
        reraise = exc
    except Exception as exc:  # an executor bug must not lose the trial's record
        result["exception_info"] = _exc_info(type(exc).__name__, str(exc), traceback.format_exc())
    except BaseException as exc:  # Ctrl-C: record, clean up, re-raise
        result["exception_info"] = _exc_info(type(exc).__name__, "interrupted")
        reraise = exc
    finally:
        if sandbox is not None:
            try:
                sandbox.check_cgroup_events()
                result["termforge"]["storage_used_mb"] = round(sandbox.storage_used() / 2**20, 2)
                skipped = sandbox.copy_logs_to(trial_dir)
                if skipped:
                    result["termforge"]["skipped_log_entries"] = skipped[:50]
            finally:
                result["termforge"]["limits_hit"] = list(sandbox.limits_hit)
                sandbox.close()
        if verifier_ran:
            rewards, error = parse_reward(trial_dir / "verifier")
            if error is None:
                result["verifier_result"] = {"rewards": rewards}
            elif result["exception_info"] is None:
                result["exception_info"] = _exc_info(*error)
        result["finished_at"] = _now()
        atomic_write_json(trial_dir / "result.json", result)
    if reraise is not None:
        raise reraise
    return result


def _sandbox_died(sandbox: Sandbox) -> bool:
    """The watchdog records its kill before sending it, and a killed exec can return before
    Docker marks the container stopped: trust the record, not only the container's state."""
    return "storage_limit" in sandbox.limits_hit or not sandbox.is_running()


class _SandboxDied(Exception):
    kind = "SandboxTerminatedError"


class _VerifierTimeout(Exception):
    kind = "VerifierTimeoutError"


def _exc_info(kind: str, message: str, tb: str | None = None) -> dict[str, Any]:
    return {"exception_type": kind, "exception_message": message,
            "exception_traceback": tb, "occurred_at": _now()}


def reward_of(result: dict[str, Any]) -> float | None:
    vr = result.get("verifier_result") or {}
    return (vr.get("rewards") or {}).get("reward")
