"""Task directories in the Terminal-Bench 2.0 / Harbor format (DESIGN §2).

    <task>/instruction.md            what the agent is told, verbatim
    <task>/task.toml                 config: TB2.0 `version = "1.0"` or Harbor `schema_version = "1.1"`
    <task>/environment/Dockerfile    build context is environment/
    <task>/solution/solve.sh         reference solution (oracle only)
    <task>/tests/test.sh             verifier; writes /logs/verifier/reward.txt

`load_task` reads both versions and validates every field it uses; `write_task` writes 1.1.
Any problem raises `TaskFormatError` naming the file and the field.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import tomli_w

from termforge.errors import TaskFormatError
from termforge.ui import atomic_write_text

SCHEMA_VERSION = "1.1"
DIFFICULTIES = ("easy", "medium", "hard", "unknown")
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_SIZE_UNIT_MB = {"": 1 / (1024 * 1024), "k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}


@dataclass(frozen=True)
class TaskConfig:
    """The fields of task.toml that termforge uses; everything else is kept in `extra`."""

    name: str
    difficulty: str = "unknown"
    category: str = ""
    tags: tuple[str, ...] = ()
    verifier_timeout_sec: float = 600.0
    agent_timeout_sec: float = 600.0
    build_timeout_sec: float = 600.0
    docker_image: str | None = None
    cpus: float = 1.0
    memory_mb: int = 2048
    storage_mb: int = 10240
    allow_internet: bool = False
    termforge: dict[str, Any] = field(default_factory=dict)  # [metadata.termforge]
    extra_metadata: dict[str, Any] = field(default_factory=dict)  # other [metadata] keys


@dataclass(frozen=True)
class Task:
    path: Path
    instruction: str
    config: TaskConfig

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def environment_dir(self) -> Path:
        return self.path / "environment"

    @property
    def solution_dir(self) -> Path:
        return self.path / "solution"

    @property
    def tests_dir(self) -> Path:
        return self.path / "tests"

    def checksum(self) -> str:
        """Content hash of the whole task (instruction, config, environment, solution, tests)."""
        return tree_digest(self.path, exclude=(".termforge",))


# ----------------------------------------------------------------------------- parsing helpers


def parse_size_mb(value: Any, *, path: Path, field_name: str) -> int:
    """'4G', '512M', '2048MiB', 1024 (MB) -> megabytes; anything else is an error."""
    if isinstance(value, bool):
        raise TaskFormatError(path, f"expected a size, got {value!r}", field_name)
    if isinstance(value, (int, float)):
        mb = float(value)
    elif isinstance(value, str):
        m = _SIZE_RE.match(value)
        if not m:
            raise TaskFormatError(path, f"unknown size {value!r} (use e.g. '512M' or '4G')", field_name)
        mb = float(m.group(1)) * _SIZE_UNIT_MB[m.group(2).lower()]
    else:
        raise TaskFormatError(path, f"expected a size, got {value!r}", field_name)
    if not math.isfinite(mb) or mb <= 0:
        raise TaskFormatError(path, f"size must be positive, got {value!r}", field_name)
    return max(1, int(round(mb)))


def _number(table: dict, key: str, default: float, *, path: Path, field_name: str,
            positive: bool = True) -> float:
    if key not in table:
        return default
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TaskFormatError(path, f"expected a number, got {value!r}", field_name)
    if positive and value <= 0:
        raise TaskFormatError(path, f"must be positive, got {value!r}", field_name)
    return float(value)


def _table(doc: dict, key: str, path: Path) -> dict:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise TaskFormatError(path, "expected a table", f"[{key}]")
    return value


def parse_task_toml(text: str, *, path: Path, default_name: str) -> TaskConfig:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TaskFormatError(path, f"not valid TOML: {exc}") from None

    schema = doc.get("schema_version", doc.get("version"))
    if schema is not None and str(schema) not in ("1.0", "1.1"):
        raise TaskFormatError(path, f"unsupported version {schema!r} (1.0 or 1.1)",
                              "schema_version" if "schema_version" in doc else "version")

    task_t = _table(doc, "task", path)
    meta = _table(doc, "metadata", path)
    verifier = _table(doc, "verifier", path)
    agent = _table(doc, "agent", path)
    env = _table(doc, "environment", path)

    name = task_t.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        raise TaskFormatError(path, f"task name must be a non-empty string, got {name!r}", "task.name")

    difficulty = meta.get("difficulty", "unknown")
    if difficulty not in DIFFICULTIES:
        raise TaskFormatError(path, f"difficulty must be one of {', '.join(DIFFICULTIES[:3])}, "
                              f"got {difficulty!r}", "metadata.difficulty")
    tags = meta.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise TaskFormatError(path, "tags must be a list of strings", "metadata.tags")
    tf = meta.get("termforge", {})
    if not isinstance(tf, dict):
        raise TaskFormatError(path, "expected a table", "metadata.termforge")

    if "memory_mb" in env:
        memory_mb = parse_size_mb(env["memory_mb"], path=path, field_name="environment.memory_mb")
    elif "memory" in env:
        memory_mb = parse_size_mb(env["memory"], path=path, field_name="environment.memory")
    else:
        memory_mb = 2048
    if "storage_mb" in env:
        storage_mb = parse_size_mb(env["storage_mb"], path=path, field_name="environment.storage_mb")
    elif "storage" in env:
        storage_mb = parse_size_mb(env["storage"], path=path, field_name="environment.storage")
    else:
        storage_mb = 10240

    docker_image = env.get("docker_image")
    if docker_image is not None and (not isinstance(docker_image, str) or not docker_image.strip()):
        raise TaskFormatError(path, f"expected an image name, got {docker_image!r}",
                              "environment.docker_image")
    allow_internet = env.get("allow_internet", False)
    if not isinstance(allow_internet, bool):
        raise TaskFormatError(path, f"expected true or false, got {allow_internet!r}",
                              "environment.allow_internet")

    return TaskConfig(
        name=name.strip(),
        difficulty=difficulty,
        category=str(meta.get("category", "")),
        tags=tuple(tags),
        verifier_timeout_sec=_number(verifier, "timeout_sec", 600.0, path=path,
                                     field_name="verifier.timeout_sec"),
        agent_timeout_sec=_number(agent, "timeout_sec", 600.0, path=path, field_name="agent.timeout_sec"),
        build_timeout_sec=_number(env, "build_timeout_sec", 600.0, path=path,
                                  field_name="environment.build_timeout_sec"),
        docker_image=docker_image,
        cpus=_number(env, "cpus", 1.0, path=path, field_name="environment.cpus"),
        memory_mb=memory_mb,
        storage_mb=storage_mb,
        allow_internet=allow_internet,
        termforge=dict(tf),
        extra_metadata={k: v for k, v in meta.items()
                        if k not in ("difficulty", "category", "tags", "termforge")},
    )


def render_task_toml(cfg: TaskConfig) -> str:
    """task.toml in Harbor's schema 1.1."""
    meta: dict[str, Any] = dict(cfg.extra_metadata)
    meta.update({"difficulty": cfg.difficulty, "category": cfg.category, "tags": list(cfg.tags)})
    if cfg.termforge:
        meta["termforge"] = cfg.termforge
    env: dict[str, Any] = {
        "build_timeout_sec": cfg.build_timeout_sec,
        "cpus": cfg.cpus,
        "memory_mb": cfg.memory_mb,
        "storage_mb": cfg.storage_mb,
        "allow_internet": cfg.allow_internet,
    }
    if cfg.docker_image:
        env["docker_image"] = cfg.docker_image
    doc = {
        "schema_version": SCHEMA_VERSION,
        "task": {"name": cfg.name},
        "metadata": meta,
        "verifier": {"timeout_sec": cfg.verifier_timeout_sec},
        "agent": {"timeout_sec": cfg.agent_timeout_sec},
        "environment": env,
    }
    return tomli_w.dumps(doc)


# ----------------------------------------------------------------------------- load / write


def load_task(path: str | os.PathLike, *, require_solution: bool = False) -> Task:
    """Load and validate one task directory."""
    root = Path(path)
    if not root.is_dir():
        raise TaskFormatError(root, "not a task directory (missing or not a directory)")
    instruction_path = root / "instruction.md"
    if not instruction_path.is_file():
        raise TaskFormatError(instruction_path, "missing: every task needs instruction.md")
    try:
        instruction = instruction_path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise TaskFormatError(instruction_path, "not UTF-8 text") from None
    if not instruction.strip():
        raise TaskFormatError(instruction_path, "empty instruction")

    toml_path = root / "task.toml"
    if not toml_path.is_file():
        raise TaskFormatError(toml_path, "missing: every task needs task.toml")
    try:
        toml_text = toml_path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise TaskFormatError(toml_path, "not UTF-8 text") from None
    cfg = parse_task_toml(toml_text, path=toml_path, default_name=root.resolve().name)

    dockerfile = root / "environment" / "Dockerfile"
    if not dockerfile.is_file() and not cfg.docker_image:
        raise TaskFormatError(dockerfile, "missing: environment/Dockerfile (or environment.docker_image)")
    test_sh = root / "tests" / "test.sh"
    if not test_sh.is_file():
        raise TaskFormatError(test_sh, "missing: every task needs tests/test.sh")
    solve = root / "solution" / "solve.sh"
    if require_solution and not solve.is_file():
        raise TaskFormatError(solve, "missing: the oracle and verification need solution/solve.sh")
    return Task(path=root, instruction=instruction, config=cfg)


def write_task(dest: str | os.PathLike, *, instruction: str, config: TaskConfig,
               files: dict[str, str | bytes], executable: tuple[str, ...] = ()) -> Task:
    """Write a complete task directory (schema 1.1) and return it loaded back.

    `files` maps relative paths (environment/Dockerfile, solution/solve.sh, tests/test.sh, …)
    to contents. Shell scripts (*.sh) and paths in `executable` get mode 0755.
    """
    root = Path(dest)
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(root / "instruction.md", instruction)
    atomic_write_text(root / "task.toml", render_task_toml(config))
    for rel, content in files.items():
        target = (root / rel).resolve()
        if root.resolve() not in target.parents:
            raise TaskFormatError(root, f"file path escapes the task directory: {rel!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(data)
        if rel.endswith(".sh") or rel in executable:
            tmp.chmod(0o755)
        os.replace(tmp, target)
    return load_task(root)


def with_config(task: Task, **changes: Any) -> Task:
    return replace(task, config=replace(task.config, **changes))


def slugify(text: str, max_len: int = 60, *, lower: bool = False) -> str:
    """A name Docker accepts in image repositories and container names: [a-z0-9] at both ends,
    only [A-Za-z0-9_.-] inside, at most max_len characters."""
    s = re.sub(r"[^A-Za-z0-9_.-]+", "-", text.lower() if lower else text)
    s = s[:max_len].strip("-._")
    return s or "task"


def tree_digest(root: Path, exclude: tuple[str, ...] = ()) -> str:
    """sha256 over relative paths, modes and contents of every regular file under `root`.

    Symlinks are hashed by their target string and never followed.
    """
    h = hashlib.sha256()
    root = Path(root)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in exclude)
        rel_dir = Path(dirpath).relative_to(root)
        for name in sorted(filenames):
            if name in exclude:
                continue
            p = Path(dirpath) / name
            rel = (rel_dir / name).as_posix()
            st = p.lstat()
            h.update(rel.encode() + b"\0")
            if p.is_symlink():
                h.update(b"L" + os.readlink(p).encode() + b"\0")
                continue
            h.update(b"X" if st.st_mode & 0o111 else b"F")
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            h.update(b"\0")
    return h.hexdigest()
