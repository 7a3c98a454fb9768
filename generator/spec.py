"""What a task family draws, and how a draw becomes a task directory.

A family returns a `Step`: an instruction paragraph, files baked into the image, a bash reference
solution, pytest checks of the *outcome*, and optionally the artifact it produces (path, kind and
the exact expected value), so that skill mode can feed it to a later step. One or more steps make
a `TaskSpec`, which `render_task` writes in the Harbor 1.1 layout (DESIGN §2).
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from termforge.executor.base_image import BASE_IMAGE
from termforge.executor.task import Task, TaskConfig, write_task
from termforge.generator import GENERATOR_VERSION

# Kinds of artifacts a step can hand to the next one, and the Python value that describes each:
#   "csv"   -> {"header": [str], "rows": [[str]]}    a CSV file with a header row
#   "lines" -> [str]                                  a text file, one item per line
#   "json"  -> any JSON value                         a JSON file
#   "tree"  -> {relative_path: str content}           a directory of text files
ARTIFACT_KINDS = ("csv", "lines", "json", "tree")

TEST_SH = """#!/bin/bash
# Verifier: the image's own pytest, offline; the reward is 1 only when every check passes.
mkdir -p /logs/verifier
if python3 -m pytest -q -rA -p no:cacheprovider /tests; then
  echo 1 > /logs/verifier/reward.txt
else
  echo 0 > /logs/verifier/reward.txt
fi
"""


@dataclass(frozen=True)
class Artifact:
    path: str          # absolute path in the container (a file, or a directory for "tree")
    kind: str          # one of ARTIFACT_KINDS
    value: Any         # the exact content a correct solution leaves there

    def __post_init__(self):
        if self.kind not in ARTIFACT_KINDS:
            raise ValueError(f"unknown artifact kind {self.kind!r}")
        if not self.path.startswith("/"):
            raise ValueError(f"artifact path must be absolute: {self.path!r}")


@dataclass
class Step:
    instruction: str                                   # what to do, one paragraph (markdown)
    solution: str                                      # bash, run with `set -e` semantics up to the author
    tests: str                                         # pytest source: `def test_*` functions checking outcomes
    files: dict[str, str | bytes] = field(default_factory=dict)  # absolute container path -> content
    run: list[str] = field(default_factory=list)       # extra Dockerfile RUN commands (offline)
    output: Artifact | None = None                     # what this step produces for a next step
    skills: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    executable: tuple[str, ...] = ()                   # container paths in `files` that need mode 0755


@dataclass
class TaskSpec:
    name: str
    steps: list[Step]
    category: str
    difficulty: str
    family: str
    source: str = "skill"                              # seed | skill | llm
    tags: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    seed_task: str | None = None
    agent_timeout_sec: float = 300.0
    verifier_timeout_sec: float = 120.0
    memory_mb: int = 1024
    storage_mb: int = 2048
    intro: str | None = None                           # text before a multi-step list

    @property
    def skills(self) -> list[str]:
        seen: list[str] = []
        for step in self.steps:
            for s in step.skills:
                if s not in seen:
                    seen.append(s)
        return seen

    def instruction(self) -> str:
        if len(self.steps) == 1:
            return self.steps[0].instruction.strip() + "\n"
        intro = self.intro or "Complete the following steps in order. Each step builds on the previous one."
        parts = [intro, ""]
        for i, step in enumerate(self.steps, 1):
            body = textwrap.indent(step.instruction.strip(), "   ").lstrip()
            parts.append(f"{i}. {body}")
            parts.append("")
        return "\n".join(parts).rstrip() + "\n"

    def solution(self) -> str:
        blocks = ["#!/bin/bash", "# Reference solution (oracle only)."]
        for i, step in enumerate(self.steps, 1):
            if len(self.steps) > 1:
                blocks.append(f"\n# --- step {i}")
            blocks.append(step.solution.strip())
        return "\n".join(blocks) + "\n"

    def dockerfile(self) -> str:
        lines = [f"FROM {BASE_IMAGE}", "WORKDIR /app"]
        if any(step.files for step in self.steps):
            lines.append("COPY rootfs/ /")
        for step in self.steps:
            for cmd in step.run:
                lines.append(f"RUN {cmd}")
        return "\n".join(lines) + "\n"

    def files(self) -> tuple[dict[str, str | bytes], tuple[str, ...]]:
        """Every file of the task directory, relative to it, and which are executable."""
        files: dict[str, str | bytes] = {
            "environment/Dockerfile": self.dockerfile(),
            "solution/solve.sh": self.solution(),
            "tests/test.sh": TEST_SH,
        }
        executable: list[str] = []
        for step in self.steps:
            for path, content in step.files.items():
                rel = "environment/rootfs/" + _container_rel(path)
                if rel in files and files[rel] != content:
                    raise ValueError(f"two steps write different content to {path}")
                files[rel] = content
                if path in step.executable:
                    executable.append(rel)
        if len(self.steps) == 1:
            files["tests/test_outputs.py"] = _test_module(self.steps[0].tests)
        else:
            for i, step in enumerate(self.steps, 1):
                files[f"tests/test_outputs_step{i}.py"] = _test_module(step.tests, prefix=f"step{i}_")
        return files, tuple(executable)

    def config(self, extra: dict[str, Any] | None = None) -> TaskConfig:
        tf = {
            "skills": self.skills,
            "source": self.source,
            "family": self.family,
            "params": _toml_safe(self.params),
            "generator_version": GENERATOR_VERSION,
            "steps": len(self.steps),
        }
        if self.seed_task:
            tf["seed_task"] = self.seed_task
        tf.update(extra or {})
        return TaskConfig(
            name=self.name, difficulty=self.difficulty, category=self.category,
            tags=tuple(self.tags), verifier_timeout_sec=self.verifier_timeout_sec,
            agent_timeout_sec=self.agent_timeout_sec, memory_mb=self.memory_mb,
            storage_mb=self.storage_mb, termforge=tf,
        )


def render_task(spec: TaskSpec, dest: str | Path, *, extra_meta: dict[str, Any] | None = None) -> Task:
    files, executable = spec.files()
    return write_task(dest, instruction=spec.instruction(), config=spec.config(extra_meta),
                      files=files, executable=executable)


def _container_rel(path: str) -> str:
    p = PurePosixPath(path)
    if not p.is_absolute() or ".." in p.parts:
        raise ValueError(f"step file paths must be absolute and normalised: {path!r}")
    return str(p.relative_to("/"))


def _test_module(source: str, prefix: str = "") -> str:
    body = textwrap.dedent(source).strip() + "\n"
    if prefix:
        body = re.sub(r"^def test_", f"def test_{prefix}", body, flags=re.MULTILINE)
    return "# Checks of the outcome, run by tests/test.sh with the image's pytest.\n" + body


def _toml_safe(value: Any) -> Any:
    """TOML has no null and needs string keys: make params storable in task.toml."""
    if isinstance(value, dict):
        return {str(k): _toml_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_toml_safe(v) for v in value if v is not None]
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
