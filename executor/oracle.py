"""The oracle as a Terminus-2 model: turns solution/solve.sh into a realistic multi-turn episode.

The script is split into complete shell commands (heredocs and compound commands kept whole,
checked with `bash -n`, which only parses), grouped into small batches and typed into the real
terminal; every turn's analysis and plan are written from templates that refer to what the
terminal actually showed. It explores first, waits while a command is still running, checks its
outputs, and confirms completion twice — the shape of a good agent's trajectory.
"""

from __future__ import annotations

import base64
import json
import random
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from termforge.executor.task import Task

_SKIP = re.compile(r"^\s*(#.*|set\s+[-+][euxo]+.*|set\s+-o\s+\w+.*|exit(\s+0)?\s*;?)\s*$")
_HEREDOC = re.compile(r"<<(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")
_PROMPT_END = re.compile(r"[#$]\s*$")
_PATH = re.compile(r"(?<![\w.])(/(?:app|srv|opt|data|home|var|etc|tmp)(?:/[\w.\-]+)*)")
PURPOSES = {
    "ls": "list the files", "cat": "look at the file contents", "head": "look at the first lines",
    "tail": "look at the last lines", "grep": "search for the matching lines",
    "awk": "process the fields", "sed": "edit the text", "sort": "sort the lines",
    "uniq": "count or drop duplicates", "cut": "extract the columns", "tr": "translate characters",
    "find": "locate the files", "mkdir": "create the directories", "cp": "copy the files",
    "mv": "move the files", "rm": "remove what is not needed", "chmod": "set the permissions",
    "chown": "set the ownership", "tar": "handle the archive", "zip": "create the zip archive",
    "unzip": "extract the zip archive", "gzip": "compress the data", "sha256sum": "compute checksums",
    "md5sum": "compute checksums", "python3": "run a Python script", "python": "run a Python script",
    "git": "work with the git repository", "make": "build the project", "gcc": "compile the code",
    "sqlite3": "query the database", "jq": "query the JSON data", "echo": "write the output",
    "printf": "write the output", "cat>": "write the file", "cd": "change into the directory",
    "useradd": "create the user", "groupadd": "create the group", "openssl": "run the crypto step",
    "curl": "query the local service", "kill": "stop the process", "nohup": "start the service",
    "ps": "inspect the processes", "wc": "count the lines", "xargs": "run the command per item",
    "touch": "create the file", "ln": "create the link", "diff": "compare the files",
    "patch": "apply the patch", "crontab": "install the schedule", "pip": "install the package",
    "dpkg-deb": "build the package", "dpkg": "install the package",
}


def split_commands(script: str) -> list[str]:
    """Complete top-level commands of a bash script, in order (comments and `set -e` dropped)."""
    lines = script.splitlines()
    out: list[str] = []
    buf: list[str] = []
    pending_heredocs: list[tuple[str, bool]] = []
    for line in lines:
        if not buf and (not line.strip() or line.startswith("#!") or _SKIP.match(line)):
            continue
        buf.append(line)
        if pending_heredocs:
            delim, strip_tabs = pending_heredocs[0]
            if (line.lstrip("\t") if strip_tabs else line) == delim:
                pending_heredocs.pop(0)
            if pending_heredocs:
                continue
        else:
            for m in _HEREDOC.finditer(line):
                pending_heredocs.append((m.group(3), m.group(1) == "-"))
            if pending_heredocs:
                continue
        chunk = "\n".join(buf)
        if chunk.endswith("\\") or not _parses(chunk):
            continue
        out.append(chunk)
        buf = []
    if buf:
        out.append("\n".join(buf))
    return out


def _parses(chunk: str) -> bool:
    """True when bash can parse the chunk on its own (`bash -n` parses without running)."""
    r = subprocess.run(["bash", "-n"], input=chunk + "\n", capture_output=True, text=True, timeout=10)
    return r.returncode == 0


def keystrokes_for(command: str) -> str:
    """What to type for a command. Literal tabs (readline completion) and `!` (history
    expansion) would change the command in an interactive shell: such commands are sent as a
    base64 script that the shell sources, which keeps cwd and variables."""
    if "\t" in command or "!" in command:
        blob = base64.b64encode((command + "\n").encode()).decode()
        return f"echo {blob} | base64 -d > /tmp/.step.sh && source /tmp/.step.sh\n"
    return command + "\n"


def estimate_duration(command: str) -> float:
    m = re.search(r"\bsleep\s+(\d+(?:\.\d+)?)", command)
    if m:
        return min(60.0, float(m.group(1)) + 1.0)
    if re.search(r"\b(make|gcc|cc|pytest|pip3?|python3?\s+-m\s+venv|dpkg-deb|openssl\s+req|git\s+clone)\b",
                 command):
        return 3.0
    if re.search(r"\b(python3?|find|tar|zip|unzip|sqlite3|git)\b", command):
        return 1.0
    return 0.5


def _program(command: str) -> str:
    first = command.strip().split("\n", 1)[0]
    if re.match(r"^cat\s*>", first):
        return "cat>"
    try:
        words = shlex.split(first, comments=True)
    except ValueError:
        words = first.split()
    for w in words:
        if "=" in w and not w.startswith("="):
            continue  # VAR=value prefix
        return Path(w).name
    return ""


def _purpose(command: str) -> str:
    prog = _program(command)
    return PURPOSES.get(prog, f"run `{prog}`" if prog else "run the next command")


def _short(command: str, n: int = 70) -> str:
    first = command.strip().split("\n", 1)[0]
    return first if len(first) <= n else first[: n - 1] + "…"


def _tail_summary(observation: str) -> str:
    body = observation.split("\n", 1)[1] if "\n" in observation else ""
    lines = [ln for ln in body.splitlines() if ln.strip()]
    if lines and _PROMPT_END.search(lines[-1]):
        lines = lines[:-1]
    lines = [ln for ln in lines if not ln.lstrip().startswith(("root@", "> "))]
    if not lines:
        return "The last command finished without printing anything, so it succeeded silently."
    errors = [ln for ln in lines if re.search(r"(error|No such file|not found|denied|failed)", ln, re.I)]
    if errors:
        return f"The output reports a problem: `{errors[-1].strip()[:120]}`. I will keep going with the plan and check it."
    return f"The command printed {len(lines)} line(s); the last one is `{lines[-1].strip()[:120]}`."


STYLES = ("full", "terse")

# style "terse": fixed one-line analysis/plan per kind of turn, so that every token a model must
# learn to produce beyond the format is a command (small models trained for minutes spend their
# capacity on the commands instead of on restating the task and the terminal output).
_TERSE = {
    "explore": ("New task, nothing done yet.", "Inspect the paths the task names."),
    "wait": ("The previous command is still running.", "Wait for the prompt."),
    "step": ("The previous commands finished.", "Run the next step of the solution."),
    "check": ("All solution steps ran.", "Check that the outputs exist."),
    "complete": ("The outputs are in place.", "Mark the task as complete."),
    "confirm": ("The task is done and checked.", "Confirm completion."),
}


@dataclass
class OracleBackend:
    """`messages -> text` for the Terminus-2 loop, replaying the task's reference solution."""

    task: Task
    seed: int = 0
    max_waits: int = 30
    style: str = "full"  # narration of analysis/plan: "full" (describes outputs and steps) | "terse"
    _batches: list[list[str]] = field(default_factory=list)
    _next: int = 0
    _explored: bool = False
    _waits: int = 0
    _done: bool = False
    _checked: bool = False

    def __post_init__(self):
        if self.style not in STYLES:
            raise ValueError(f"oracle style must be one of {', '.join(STYLES)}, not {self.style!r}")
        script = (self.task.solution_dir / "solve.sh").read_text(encoding="utf-8", errors="replace")
        commands = split_commands(script)
        rng = random.Random(f"{self.task.name}:{self.seed}")
        i = 0
        while i < len(commands):
            k = rng.choice((1, 1, 2, 2, 3))
            self._batches.append(commands[i:i + k])
            i += k

    def __call__(self, messages: list[dict[str, str]]) -> str:
        last = messages[-1]["content"] if messages else ""
        if "Are you sure you want to mark the task as complete" in last:
            return self._say("confirm", "All steps of the task are done and their results were checked.",
                             "Confirm that the task is complete.", [], True)
        if not self._explored:
            self._explored = True
            return self._explore()
        if not _PROMPT_END.search(last.rstrip()) and "parsing errors" not in last \
                and self._waits < self.max_waits:
            self._waits += 1
            return self._say("wait", "The previous command is still running: the shell prompt has not come back yet.",
                             "Wait for it to finish before sending anything else.",
                             [{"keystrokes": "", "duration": 5.0}], False)
        self._waits = 0
        summary = _tail_summary(last)
        if self._next < len(self._batches):
            batch = self._batches[self._next]
            self._next += 1
            steps = "; then ".join(f"{_purpose(c)} (`{_short(c, 50)}`)" for c in batch)
            n_left = len(self._batches) - self._next
            plan = f"Next I will {steps}." + (f" {n_left} more step(s) remain after this." if n_left else
                                             " This should be the last step.")
            cmds = [{"keystrokes": keystrokes_for(c), "duration": estimate_duration(c)} for c in batch]
            return self._say("step", summary, plan, cmds, False)
        if not self._checked:
            self._checked = True
            paths = self._mentioned_paths()
            if paths:
                cmd = "ls -la " + " ".join(shlex.quote(p) for p in paths[:3])
                return self._say("check", summary + " All planned commands have run.",
                                 "Check that the expected outputs exist before finishing.",
                                 [{"keystrokes": cmd + "\n", "duration": 0.5}], False)
        return self._say("complete", summary + " The outputs the task asks for are in place.",
                         "Mark the task as complete.", [], True)

    def _explore(self) -> str:
        dirs: list[str] = []
        for p in self._mentioned_paths():
            d = p if not Path(p).suffix else str(Path(p).parent)
            if d not in dirs and d != "/":
                dirs.append(d)
        cmds = [{"keystrokes": "pwd && ls -la\n", "duration": 0.5}]
        if dirs:
            cmds.append({"keystrokes": "ls -la " + " ".join(shlex.quote(d) for d in dirs[:2]) + "\n",
                         "duration": 0.5})
        text = " ".join(self.task.instruction.split())
        first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0][:200]
        return self._say("explore", f"A fresh shell in the task environment. The task: {first}",
                         "Look at the working directory and the paths the task mentions before "
                         "changing anything.", cmds, False)

    def _mentioned_paths(self) -> list[str]:
        seen: list[str] = []
        for p in _PATH.findall(self.task.instruction):
            p = p.rstrip(".")
            if p not in seen:
                seen.append(p)
        return seen

    def _say(self, kind: str, analysis: str, plan: str, commands: list[dict], complete: bool) -> str:
        if self.style == "terse":
            analysis, plan = _TERSE[kind]
        return self._turn(analysis, plan, commands, complete)

    @staticmethod
    def _turn(analysis: str, plan: str, commands: list[dict], complete: bool) -> str:
        return json.dumps({"analysis": analysis, "plan": plan, "commands": commands,
                           "task_complete": complete}, ensure_ascii=False, indent=2)
