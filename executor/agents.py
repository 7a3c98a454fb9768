"""Built-in agents of the executor: `oracle` (runs solution/solve.sh) and `nop` (does nothing).

An agent gets a started sandbox and the task, acts until it is done or its timeout passes, and
returns metadata for result.json. Model-driven agents (Terminus-2 loop) plug in the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from termforge.errors import TaskFormatError
from termforge.executor.sandbox import Sandbox
from termforge.executor.task import Task


class AgentTimeout(Exception):
    """The agent ran past its timeout; `metadata` is what it did until then."""

    def __init__(self, message: str, metadata: dict[str, Any] | None = None):
        super().__init__(message)
        self.metadata = metadata or {}


class Agent(Protocol):
    name: str
    version: str

    def run(self, sandbox: Sandbox, task: Task, *, timeout: float, log_dir: Path) -> dict[str, Any]:
        """Act in the sandbox; raise AgentTimeout when the time is up.

        `log_dir` is a host directory of the trial (never inside /logs) for the agent's own logs.
        """


@dataclass
class NopAgent:
    name: str = "nop"
    version: str = "1"

    def run(self, sandbox: Sandbox, task: Task, *, timeout: float, log_dir: Path) -> dict[str, Any]:
        return {}


@dataclass
class OracleAgent:
    """Copies solution/ to /solution and runs `bash /solution/solve.sh` in the workdir."""

    name: str = "oracle"
    version: str = "1"

    def run(self, sandbox: Sandbox, task: Task, *, timeout: float, log_dir: Path) -> dict[str, Any]:
        solve = task.solution_dir / "solve.sh"
        if not solve.is_file():
            raise TaskFormatError(solve, "missing: the oracle agent needs solution/solve.sh")
        sandbox.put_dir(task.solution_dir, "/solution")
        r = sandbox.exec(["bash", "-c", "bash /solution/solve.sh > /logs/agent/oracle.txt 2>&1"],
                         timeout=timeout)
        if r.timed_out:
            raise AgentTimeout(f"solution/solve.sh ran past the agent timeout of {timeout:g} s")
        return {"exit_code": r.exit_code, "seconds": round(r.seconds, 3)}


def make_agent(name: str) -> Agent:
    agents = {"oracle": OracleAgent, "nop": NopAgent}
    if name not in agents:
        from termforge.errors import TermforgeError

        raise TermforgeError(f"unknown agent {name!r}; choose one of: {', '.join(agents)}")
    return agents[name]()
