"""Helpers for the corpus tests: synthetic trajectory records and a CLI runner."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from termforge.records import TrajectoryRecord

SKILLS = ["text.grep", "text.sed", "fs.permissions", "proc.signals", "net.curl", "git.branch"]

# Runs the real entry point; registers the corpus commands when termforge.cli does not yet.
CLI_CODE = (
    "import sys, termforge.cli as c\n"
    "if 'termforge.corpus_commands' not in c._COMMAND_MODULES:\n"
    "    import termforge.corpus_commands as cc; cc.register(c.app)\n"
    "c.main(sys.argv[1:])\n"
)


def make_record(i: int, rng: random.Random, *, size: int = 600) -> TrajectoryRecord:
    turns = rng.randint(1, 5)
    msgs = [{"role": "system", "content": "You are a terminal agent."},
            {"role": "user", "content": f"Task {i}: " + "fix the thing. " * rng.randint(1, 20)}]
    for t in range(turns):
        msgs.append({"role": "assistant", "content": json.dumps(
            {"analysis": f"step {t}", "plan": "look around",
             "commands": [{"keystrokes": "ls -la /app\n", "duration": 0.5}], "task_complete": t == turns - 1})})
        msgs.append({"role": "user", "content": "New Terminal Output:\n" + "x" * rng.randint(size // 4, size)
                     + " ünïcødé ✓"})
    return TrajectoryRecord(
        trajectory_id=f"traj-{i:06d}", task_id=f"task-{i % 37}", task_group_id=f"group-{i % 11}",
        messages=msgs, source=rng.choice(["seed", "skill", "llm"]),
        skills=rng.sample(SKILLS, rng.randint(1, 2)), domain=rng.choice(["text", "fs", "net"]),
        difficulty=rng.choice(["easy", "medium", "hard"]), model_name="teacher-x",
        reward=rng.choice([0.0, 1.0, 1.0]), n_assistant_turns=turns, n_tokens=rng.choice([None, rng.randint(100, 4000)]),
        created="2025-06-01T00:00:00+00:00")


def make_records(n: int, seed: int = 0, *, size: int = 600) -> list[TrajectoryRecord]:
    rng = random.Random(seed)
    return [make_record(i, rng, size=size) for i in range(n)]


def write_jsonl(path: Path, records) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(r.to_json() + "\n")
    return path


def run_cli(*args, cwd=None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CLI_CODE, *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def records():
    return make_records(400, seed=1)
