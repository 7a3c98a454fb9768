"""Task format: TB2.0 (1.0) and Harbor (1.1) task.toml, validation errors that name file and field."""

from __future__ import annotations

import tomllib

import pytest

from termforge.errors import TaskFormatError
from termforge.executor.task import (TaskConfig, load_task, parse_size_mb, render_task_toml,
                                     tree_digest, write_task)

TB2_TOML = """version = "1.0"

[metadata]
author_name = "someone"
difficulty = "hard"
category = "software-engineering"
tags = ["git", "python"]

[verifier]
timeout_sec = 900.0

[agent]
timeout_sec = 1800.0

[environment]
build_timeout_sec = 600.0
docker_image = "alexgshaw/fix-git:20251031"
cpus = 2
memory = "4G"
storage = "10G"
"""


def _task_dir(tmp_path, toml_text=TB2_TOML, *, dockerfile=True, test=True, instruction="Do it.\n"):
    root = tmp_path / "t"
    (root / "tests").mkdir(parents=True)
    (root / "environment").mkdir()
    if instruction is not None:
        (root / "instruction.md").write_text(instruction)
    (root / "task.toml").write_text(toml_text)
    if dockerfile:
        (root / "environment" / "Dockerfile").write_text("FROM termforge/base:bookworm\n")
    if test:
        (root / "tests" / "test.sh").write_text("#!/bin/bash\n")
    return root


def test_reads_tb2_version_1_0(tmp_path):
    task = load_task(_task_dir(tmp_path))
    cfg = task.config
    assert cfg.name == "t"
    assert (cfg.memory_mb, cfg.storage_mb, cfg.cpus) == (4096, 10240, 2.0)
    assert (cfg.agent_timeout_sec, cfg.verifier_timeout_sec) == (1800.0, 900.0)
    assert cfg.difficulty == "hard" and cfg.category == "software-engineering"
    assert cfg.tags == ("git", "python")
    assert cfg.docker_image == "alexgshaw/fix-git:20251031"
    assert cfg.extra_metadata == {"author_name": "someone"}
    assert cfg.allow_internet is False


def test_reads_harbor_1_1_and_writes_1_1(tmp_path):
    text = """schema_version = "1.1"
[task]
name = "org/example"
[metadata]
difficulty = "easy"
[metadata.termforge]
skills = ["files.create"]
source = "skill"
[environment]
memory_mb = 1536
storage_mb = 2048
allow_internet = true
"""
    task = load_task(_task_dir(tmp_path, text))
    assert task.name == "org/example"
    assert task.config.memory_mb == 1536 and task.config.storage_mb == 2048
    assert task.config.allow_internet is True
    assert task.config.termforge == {"skills": ["files.create"], "source": "skill"}
    doc = tomllib.loads(render_task_toml(task.config))
    assert doc["schema_version"] == "1.1"
    assert doc["task"]["name"] == "org/example"
    assert doc["environment"]["memory_mb"] == 1536
    assert doc["metadata"]["termforge"]["skills"] == ["files.create"]


def test_write_task_round_trip(tmp_path):
    cfg = TaskConfig(name="org/rt", difficulty="medium", category="files", tags=("a",),
                     memory_mb=700, termforge={"params": {"n": 3}})
    files = {"environment/Dockerfile": "FROM termforge/base:bookworm\n",
             "solution/solve.sh": "echo hi\n", "tests/test.sh": "echo 1\n",
             "tests/test_outputs.py": "def test_x():\n    assert True\n"}
    task = write_task(tmp_path / "rt", instruction="Say hi.\n", config=cfg, files=files)
    assert task.config == cfg
    assert (tmp_path / "rt" / "solution" / "solve.sh").stat().st_mode & 0o111
    assert not (tmp_path / "rt" / "tests" / "test_outputs.py").stat().st_mode & 0o111
    with pytest.raises(TaskFormatError, match="escapes"):
        write_task(tmp_path / "rt2", instruction="x\n", config=cfg, files={"../evil": "x"})


@pytest.mark.parametrize("value,mb", [("4G", 4096), ("512M", 512), ("2048MiB", 2048), ("1.5g", 1536),
                                      (1024, 1024), ("1T", 1048576)])
def test_sizes(value, mb, tmp_path):
    assert parse_size_mb(value, path=tmp_path, field_name="f") == mb


@pytest.mark.parametrize(
    "mutate,field,file",
    [
        (lambda r: (r / "instruction.md").unlink(), None, "instruction.md"),
        (lambda r: (r / "task.toml").write_text("version = [1,\n"), None, "task.toml"),
        (lambda r: (r / "environment" / "Dockerfile").unlink()
         or (r / "task.toml").write_text('version = "1.0"\n'), None, "Dockerfile"),
        (lambda r: (r / "tests" / "test.sh").unlink(), None, "test.sh"),
        (lambda r: (r / "task.toml").write_text('version = "1.0"\n[agent]\ntimeout_sec = -5\n'),
         "agent.timeout_sec", "task.toml"),
        (lambda r: (r / "task.toml").write_text('version = "1.0"\n[environment]\nmemory = "lots"\n'),
         "environment.memory", "task.toml"),
        (lambda r: (r / "task.toml").write_text('version = "1.0"\n[metadata]\ndifficulty = "trivial"\n'),
         "metadata.difficulty", "task.toml"),
        (lambda r: (r / "task.toml").write_text('version = "7"\n'), "version", "task.toml"),
        (lambda r: (r / "task.toml").write_text('version = "1.0"\n[verifier]\ntimeout_sec = "9"\n'),
         "verifier.timeout_sec", "task.toml"),
        (lambda r: (r / "task.toml").write_text('version = "1.0"\n[environment]\nallow_internet = "yes"\n'),
         "environment.allow_internet", "task.toml"),
    ],
)
def test_bad_tasks_name_file_and_field(tmp_path, mutate, field, file):
    root = _task_dir(tmp_path)
    mutate(root)
    with pytest.raises(TaskFormatError) as info:
        load_task(root)
    msg = str(info.value)
    assert "\n" not in msg
    assert file in msg
    if field:
        assert f"[{field}]" in msg


def test_missing_solution_only_when_required(tmp_path):
    root = _task_dir(tmp_path)
    load_task(root)
    with pytest.raises(TaskFormatError, match="solve.sh"):
        load_task(root, require_solution=True)


def test_tree_digest_tracks_content_mode_and_links(tmp_path):
    (tmp_path / "a").write_text("1")
    d0 = tree_digest(tmp_path)
    (tmp_path / "a").write_text("2")
    d1 = tree_digest(tmp_path)
    (tmp_path / "a").chmod(0o755)
    d2 = tree_digest(tmp_path)
    (tmp_path / "l").symlink_to("/etc/passwd")
    d3 = tree_digest(tmp_path)
    assert len({d0, d1, d2, d3}) == 4
    assert tree_digest(tmp_path) == d3


def test_slugify_makes_docker_safe_names():
    from termforge.executor.task import slugify

    name = "test/security.redact-secrets--networking.http-static-server-0"
    for n in range(20, 70):
        s = slugify(name, n, lower=True)
        assert len(s) <= n and s[0].isalnum() and s[-1].isalnum(), s
    assert slugify("A B/c", 60) == "A-B-c" and slugify("A B/c", 60, lower=True) == "a-b-c"
    assert slugify("///", 10) == "task"
