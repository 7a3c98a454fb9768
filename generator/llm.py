"""LLM mode: an OpenAI-compatible chat endpoint writes tasks, which are then verified like any other.

The model is shown the task format and either a skill combination drawn from the taxonomy or a seed
task to vary, and must answer one JSON object. The answer is parsed strictly; a bad answer is a
rejected draw counted by its cause (unparsable, invalid field, unsafe Dockerfile), never a crash.
An unreachable endpoint stops the run with one clear line (what was generated stays).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

from termforge.executor.base_image import BASE_IMAGE
from termforge.executor.task import Task
from termforge.generator.spec import Step, TaskSpec, render_task
from termforge.generator.taxonomy import load_taxonomy
from termforge.llm_client import ChatClient, DrawRejected, LLMOptions  # noqa: F401 (re-exported)


SYSTEM_PROMPT = f"""You write tasks that train AI agents to work in a Linux terminal.
A task runs in a Docker container built FROM {BASE_IMAGE} (Debian bookworm with bash, coreutils,
python3 and its standard library, pytest, git, sqlite3, jq, gcc, make, tar/zip/xz, openssl, tmux,
procps, iproute2, netcat). There is NO network at build or run time: never download anything.
The agent works as root in /app. After the agent finishes, the tests run with pytest.
The tests must FAIL on the untouched environment and PASS after the reference solution.
Tests check outcomes (files, contents, state), not the commands used, and are deterministic.

Answer with ONE JSON object and nothing else:
{{"name": "short-kebab-case-name",
  "instruction": "what the agent is told (markdown, precise about paths and formats)",
  "difficulty": "easy|medium|hard",
  "category": "one taxonomy category id",
  "skills": ["taxonomy sub-skill ids"],
  "files": {{"/absolute/path/in/container": "file content baked into the image"}},
  "setup": ["optional shell commands run at image build time, offline"],
  "solution": "bash script that solves the task",
  "tests": "pytest source code with test_* functions"}}"""


def skill_prompt(rng: random.Random) -> tuple[str, dict[str, Any]]:
    tax = load_taxonomy()
    cats = rng.sample(sorted(tax.categories), rng.randint(1, 2))
    skills = [rng.choice(tax.categories[c].skills) for c in cats]
    difficulty = rng.choice(("easy", "medium", "hard"))
    lines = [f"- {s.id}: {s.description}" for s in skills]
    text = ("Write a new, realistic, self-contained terminal task of difficulty "
            f"'{difficulty}' that needs these skills:\n" + "\n".join(lines) +
            "\nIf there are several skills, make a multi-step task where a later step uses an "
            "earlier step's output.")
    return text, {"skills": [s.id for s in skills], "difficulty": difficulty}


def seed_prompt(rng: random.Random, seed_dir: Path) -> tuple[str, dict[str, Any]]:
    instruction = (seed_dir / "instruction.md").read_text()
    solve = (seed_dir / "solution" / "solve.sh").read_text()
    text = ("Here is an existing task and its reference solution. Write a NEW task of the same kind "
            "and difficulty with different names, paths, data and wording (not a copy).\n\n"
            f"Instruction:\n{instruction}\n\nSolution:\n{solve}")
    return text, {"seed_task": seed_dir.name}


_JSON_FENCE = re.compile(r"```(?:json)?\s*(\{.*\})\s*```", re.DOTALL)


def parse_answer(text: str) -> dict[str, Any]:
    """The single JSON object of a model answer (fenced or bare); DrawRejected otherwise."""
    m = _JSON_FENCE.search(text)
    candidate = m.group(1) if m else text[text.find("{"): text.rfind("}") + 1]
    try:
        obj = json.loads(candidate)
    except json.JSONDecodeError as exc:
        raise DrawRejected("llm-unparsable", f"answer is not one JSON object: {exc}") from None
    if not isinstance(obj, dict):
        raise DrawRejected("llm-unparsable", "answer is JSON but not an object")
    return obj


def spec_from_answer(obj: dict[str, Any], name: str, draw: dict[str, Any]) -> TaskSpec:
    def field(key: str, kind: type, required: bool = True):
        value = obj.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, kind) or (kind is str and not value.strip()):
            raise DrawRejected("llm-invalid", f"field {key!r} must be a non-empty {kind.__name__}")
        return value

    instruction = field("instruction", str)
    solution = field("solution", str)
    tests = field("tests", str)
    if "def test_" not in tests:
        raise DrawRejected("llm-invalid", "field 'tests' has no pytest test_* function")
    files = field("files", dict, required=False) or {}
    for path, content in files.items():
        if not isinstance(path, str) or not path.startswith("/") or ".." in path.split("/"):
            raise DrawRejected("llm-invalid", f"file path {path!r} must be absolute and normalised")
        if not isinstance(content, str):
            raise DrawRejected("llm-invalid", f"content of {path!r} must be a string")
        if path.startswith(("/tests", "/solution", "/logs")):
            raise DrawRejected("llm-invalid", f"{path!r} is reserved for the harness")
    setup = field("setup", list, required=False) or []
    if not all(isinstance(c, str) for c in setup):
        raise DrawRejected("llm-invalid", "field 'setup' must be a list of shell commands")
    tax = load_taxonomy()
    skills = [s for s in (obj.get("skills") or draw.get("skills") or []) if s in tax.skills]
    category = obj.get("category") if obj.get("category") in tax.categories else (
        tax.skills[skills[0]].category if skills else "bash")
    difficulty = obj.get("difficulty") if obj.get("difficulty") in ("easy", "medium", "hard") \
        else draw.get("difficulty", "medium")
    step = Step(instruction=instruction, solution=solution, tests=tests, files=dict(files),
                run=list(setup), skills=tuple(skills), params=draw)
    return TaskSpec(name=name, steps=[step], category=category, difficulty=difficulty,
                    family="llm", source="llm", params={"draw": draw, "title": str(obj.get("name", ""))[:80]},
                    seed_task=draw.get("seed_task"))


def make_llm_drawer(opts):
    client = ChatClient(opts.llm)
    seeds_dir = Path(opts.seeds_dir) if opts.seeds_dir else None
    seed_dirs = sorted(p for p in seeds_dir.iterdir() if (p / "instruction.md").is_file()) \
        if seeds_dir and seeds_dir.is_dir() else []

    def draw(i: int, rng: random.Random, dest: Path, name: str) -> Task:
        if seed_dirs and rng.random() < 0.5:
            prompt, meta = seed_prompt(rng, seed_dirs[i % len(seed_dirs)])
        else:
            prompt, meta = skill_prompt(rng)
        answer = client.complete([{"role": "system", "content": SYSTEM_PROMPT},
                                  {"role": "user", "content": prompt}], seed=rng.randrange(2**31))
        spec = spec_from_answer(parse_answer(answer), name, meta)
        return render_task(spec, dest, extra_meta={"llm_model": opts.llm.model})

    return draw
