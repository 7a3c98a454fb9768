"""The Terminus-2 agent loop on the sandbox's tmux session (DESIGN §3), model-agnostic.

A model backend is any callable `messages -> text`. Each assistant turn must be one JSON object

    {"analysis": str, "plan": str,
     "commands": [{"keystrokes": str, "duration": float}], "task_complete": bool}

Keystrokes go verbatim to tmux; durations default to 1 s and are capped at 60 s. A response that
cannot be parsed is answered with "Previous response had parsing errors: ..." and counts as a
turn. `task_complete` must be given twice in a row. The loop stops at completion, the turn limit,
the time limit or a backend error, and logs every turn (prompt, response, observation).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from termforge.executor.agents import AgentTimeout
from termforge.executor.sandbox import Sandbox
from termforge.executor.task import Task
from termforge.executor.terminal import (DEFAULT_DURATION_SEC, MAX_DURATION_SEC, Keystroke,
                                         TmuxSession)
from termforge.ui import atomic_write_json

Messages = list[dict[str, str]]


class ModelBackend(Protocol):
    def __call__(self, messages: Messages) -> str: ...


SYSTEM_PROMPT = """You are an AI assistant that solves tasks in a Linux terminal. You are given a task \
and the current state of a terminal (a bash shell in tmux, 160x40). You act by sending keystrokes.

Answer every time with exactly one JSON object of this form, and nothing else:
{
  "analysis": "what the current terminal output shows and what is still missing",
  "plan": "what you will do next and why",
  "commands": [
    {"keystrokes": "ls -la\\n", "duration": 0.5}
  ],
  "task_complete": false
}

- "keystrokes" are typed verbatim; end a command with "\\n" to run it. A lone key name such as \
"C-c" (interrupt) or "C-d" is sent as that key.
- "duration" is how many seconds to wait after the keystrokes before looking at the output \
(default 1, at most 60). Use short waits for quick commands and longer ones for builds.
- Commands run one after another in the same shell; state (cwd, variables) persists.
- Set "task_complete": true only when the task is fully done; you will be asked to confirm."""

USER_TEMPLATE = """Task:
{instruction}

Current terminal state:
{screen}"""

CONFIRM_TEMPLATE = """{observation}

Are you sure you want to mark the task as complete? Your solution will then be graded and you \
cannot make further changes. If so, answer again with "task_complete": true."""

PARSE_ERROR_TEMPLATE = """Previous response had parsing errors:
{errors}

Please answer with exactly one valid JSON object as described."""

WARNING_TEMPLATE = """Previous response had warnings:
{warnings}

{observation}"""


@dataclass
class Command:
    keystrokes: str
    duration: float = DEFAULT_DURATION_SEC


@dataclass
class ParsedTurn:
    analysis: str
    plan: str
    commands: list[Command]
    task_complete: bool


def _json_object_span(text: str) -> tuple[int, int] | None:
    """Start and end of the first balanced {...} in text, string-aware."""
    start = text.find("{")
    while start != -1:
        depth, in_str, esc = 0, False, False
        for i in range(start, len(text)):
            c = text[i]
            if in_str:
                if esc:
                    esc = False
                elif c == "\\":
                    esc = True
                elif c == '"':
                    in_str = False
            elif c == '"':
                in_str = True
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    return start, i + 1
        start = text.find("{", start + 1)
    return None


def parse_response(text: str) -> tuple[ParsedTurn | None, list[str], list[str]]:
    """(turn, errors, warnings): a turn only when there are no errors."""
    errors: list[str] = []
    warnings: list[str] = []
    span = _json_object_span(text)
    if span is None:
        return None, ["No valid JSON object found in the response"], warnings
    if text[: span[0]].strip() or text[span[1]:].strip():
        warnings.append("Extra text found before or after the JSON object")
    try:
        obj = json.loads(text[span[0]: span[1]])
    except json.JSONDecodeError as exc:
        return None, [f"Invalid JSON: {exc}"], warnings
    for key in ("analysis", "plan", "commands"):
        if key not in obj:
            errors.append(f"Missing required field: {key}")
    if errors:
        return None, errors, warnings
    if not isinstance(obj["analysis"], str) or not isinstance(obj["plan"], str):
        errors.append("Fields 'analysis' and 'plan' must be strings")
    if not isinstance(obj["commands"], list):
        errors.append("Field 'commands' must be a list")
        return None, errors, warnings
    commands: list[Command] = []
    for i, cmd in enumerate(obj["commands"]):
        if not isinstance(cmd, dict) or not isinstance(cmd.get("keystrokes"), str):
            errors.append(f"Command {i + 1} must be an object with a string 'keystrokes'")
            continue
        duration = cmd.get("duration", DEFAULT_DURATION_SEC)
        if isinstance(duration, bool) or not isinstance(duration, (int, float)):
            warnings.append(f"Command {i + 1}: duration {duration!r} is not a number; using "
                            f"{DEFAULT_DURATION_SEC:g}")
            duration = DEFAULT_DURATION_SEC
        if duration > MAX_DURATION_SEC:
            warnings.append(f"Command {i + 1}: duration {duration:g} capped at {MAX_DURATION_SEC:g}")
        commands.append(Command(cmd["keystrokes"], float(min(max(duration, 0.0), MAX_DURATION_SEC))))
    complete = obj.get("task_complete", False)
    if not isinstance(complete, bool):
        if isinstance(complete, str) and complete.lower() in ("true", "false"):
            complete = complete.lower() == "true"
            warnings.append("Field 'task_complete' should be a boolean, not a string")
        else:
            errors.append("Field 'task_complete' must be true or false")
    if errors:
        return None, errors, warnings
    return ParsedTurn(obj["analysis"], obj["plan"], commands, bool(complete)), errors, warnings


@dataclass
class LoopConfig:
    max_turns: int = 50
    max_seconds: float | None = None         # defaults to the task's agent timeout
    observation_bytes: int = 10_000


@dataclass
class TurnLog:
    turn: int
    response: str
    errors: list[str]
    warnings: list[str]
    commands: list[dict[str, Any]]
    task_complete: bool
    observation: str
    seconds: float


@dataclass
class Episode:
    messages: Messages
    turns: list[TurnLog] = field(default_factory=list)
    stop_reason: str = "running"   # completed | max_turns | timeout | model_error
    completed: bool = False
    parse_errors: int = 0
    seconds: float = 0.0
    error: str | None = None

    @property
    def n_assistant_turns(self) -> int:
        return sum(m["role"] == "assistant" for m in self.messages)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["n_assistant_turns"] = self.n_assistant_turns
        return d


def initial_messages(task: Task, screen: str) -> Messages:
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": USER_TEMPLATE.format(instruction=task.instruction.strip(),
                                                             screen=screen)}]


def run_episode(sandbox: Sandbox, task: Task, backend: ModelBackend, *, config: LoopConfig = LoopConfig(),
                log_dir: Path | None = None, terminal: TmuxSession | None = None,
                clock: Callable[[], float] = time.monotonic) -> Episode:
    """Drive the model through the terminal until it completes twice in a row or a limit is hit."""
    term = terminal or sandbox.terminal(observation_bytes=config.observation_bytes)
    budget = config.max_seconds if config.max_seconds is not None else task.config.agent_timeout_sec
    t0 = clock()
    episode = Episode(messages=initial_messages(task, term.read_new().split("\n", 1)[-1]))
    pending_complete = False

    def save() -> None:
        if log_dir is not None:
            episode.seconds = round(clock() - t0, 3)
            atomic_write_json(Path(log_dir) / "episode.json", episode.to_json())

    for turn in range(1, config.max_turns + 1):
        if clock() - t0 >= budget:
            episode.stop_reason = "timeout"
            break
        started = clock()
        try:
            response = backend(episode.messages)
        except Exception as exc:  # noqa: BLE001 - a backend failure ends the episode, recorded
            episode.stop_reason, episode.error = "model_error", f"{type(exc).__name__}: {exc}"
            break
        if not isinstance(response, str):
            response = str(response)
        episode.messages.append({"role": "assistant", "content": response})
        parsed, errors, warnings = parse_response(response)
        if parsed is None:
            episode.parse_errors += 1
            pending_complete = False
            observation = PARSE_ERROR_TEMPLATE.format(errors="\n".join(f"ERROR: {e}" for e in errors))
            episode.messages.append({"role": "user", "content": observation})
            episode.turns.append(TurnLog(turn, response, errors, warnings, [], False, observation,
                                         round(clock() - started, 3)))
            save()
            continue
        remaining = budget - (clock() - t0)
        keystrokes = _fit_to_budget(parsed.commands, remaining)
        screen = term.execute(keystrokes) if keystrokes else term.read_new()
        if parsed.task_complete and pending_complete:
            episode.turns.append(TurnLog(turn, response, [], warnings, [asdict(c) for c in parsed.commands],
                                         True, "", round(clock() - started, 3)))
            episode.stop_reason, episode.completed = "completed", True
            save()
            break
        if parsed.task_complete:
            pending_complete = True
            observation = CONFIRM_TEMPLATE.format(observation=screen)
        else:
            pending_complete = False
            observation = screen
        if warnings:
            observation = WARNING_TEMPLATE.format(warnings="\n".join(f"- {w}" for w in warnings),
                                                  observation=observation)
        episode.messages.append({"role": "user", "content": observation})
        episode.turns.append(TurnLog(turn, response, [], warnings, [asdict(c) for c in parsed.commands],
                                     parsed.task_complete, observation, round(clock() - started, 3)))
        save()
    else:
        episode.stop_reason = "max_turns"
    if episode.stop_reason == "running":
        episode.stop_reason = "timeout"
    save()
    return episode


def _fit_to_budget(commands: list[Command], remaining: float) -> list[Keystroke]:
    """Keystrokes with their waits, the waits shortened so the batch ends within the time left."""
    out: list[Keystroke] = []
    left = max(0.0, remaining)
    for c in commands:
        wait = min(c.duration, left)
        left -= wait
        out.append(Keystroke(c.keystrokes, wait))
    return out


@dataclass
class TerminusAgent:
    """An executor agent (see agents.Agent) that runs the Terminus-2 loop with a model backend."""

    backend: ModelBackend
    name: str = "terminus-2"
    version: str = "1"
    model_name: str = ""
    config: LoopConfig = field(default_factory=LoopConfig)
    last_episode: Episode | None = None

    def run(self, sandbox: Sandbox, task: Task, *, timeout: float, log_dir: Path) -> dict[str, Any]:
        cfg = LoopConfig(max_turns=self.config.max_turns, max_seconds=timeout,
                         observation_bytes=self.config.observation_bytes)
        episode = run_episode(sandbox, task, self.backend, config=cfg, log_dir=log_dir)
        self.last_episode = episode
        meta = {"stop_reason": episode.stop_reason, "n_assistant_turns": episode.n_assistant_turns,
                "parse_errors": episode.parse_errors, "completed": episode.completed,
                "model_name": self.model_name, "error": episode.error}
        if episode.stop_reason == "timeout":
            raise AgentTimeout(f"the agent ran past its {timeout:g} s budget", meta)
        return meta
