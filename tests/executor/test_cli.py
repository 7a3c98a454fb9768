"""The CLI as a user meets it: exit codes, one clear error line, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import make_task

TERMFORGE = [sys.executable, "-m", "termforge.cli"]


def run_cli(*args, env=None, timeout=300):
    return subprocess.run([*TERMFORGE, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def assert_one_clear_line(proc, *needles):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_malformed_task(tmp_path):
    root = make_task(tmp_path, "broken-toml", solve="true", test="true")
    (root / "task.toml").write_text("[agent\n")
    assert_one_clear_line(run_cli("verify", root), "task.toml", "not valid TOML")
    assert_one_clear_line(run_cli("run", root, "--out", tmp_path / "o"), "task.toml")


def test_dead_docker_daemon(tmp_path, example_task):
    proc = run_cli("verify", example_task("hello-file"),
                   env={"DOCKER_HOST": f"unix://{tmp_path}/no-daemon.sock"})
    assert_one_clear_line(proc, "Docker daemon")


@pytest.mark.docker
def test_missing_image_names_it_and_the_map_option(tmp_path, docker_ready):
    root = make_task(tmp_path, "registry", solve="true", test="true",
                     dockerfile="FROM docker.io/library/python:3.13-slim\n")
    assert_one_clear_line(run_cli("verify", root), "python:3.13-slim", "--base-image-map")
    proc = run_cli("run", root, "--out", tmp_path / "trial", "--base-image-map",
                   "docker.io/library/python:3.13-slim=termforge/absent:none")
    assert_one_clear_line(proc, "termforge/absent:none")


def test_missing_base_image_message():
    from termforge.executor.images import _missing
    from termforge.executor.task import Task, TaskConfig

    msg = str(_missing("termforge/base:bookworm", Task(Path("/t"), "x", TaskConfig(name="t")),
                       mapped=False))
    assert "termforge base-image" in msg


@pytest.mark.docker
def test_run_and_verify_commands(tmp_path, example_task, docker_ready):
    task = example_task("hello-file")
    proc = run_cli("run", task, "--agent", "oracle", "--out", tmp_path / "trial")
    assert proc.returncode == 0, proc.stderr
    assert "reward=1.0" in proc.stdout
    result = json.loads((tmp_path / "trial" / "result.json").read_text())
    assert result["verifier_result"]["rewards"]["reward"] == 1.0
    proc = run_cli("run", task, "--agent", "nop", "--out", tmp_path / "nop")
    assert proc.returncode == 0 and "reward=0.0" in proc.stdout
    proc = run_cli("verify", task, "--jobs", "2", "--json", tmp_path / "v.json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "v.json").read_text())["verified"] == 1
    assert "verified 1/1" in proc.stdout


@pytest.mark.docker
def test_verify_exit_status_when_a_task_fails(tmp_path, docker_ready):
    trivial = make_task(tmp_path, "trivial", solve="true", test="echo 1 > /logs/verifier/reward.txt")
    proc = run_cli("verify", trivial)
    assert proc.returncode == 1 and "verified 0/1" in proc.stdout


def test_unknown_agent(tmp_path):
    root = make_task(tmp_path, "x", solve="true", test="true")
    assert_one_clear_line(run_cli("run", root, "--agent", "gpt", "--out", tmp_path / "o"), "unknown agent")


@pytest.mark.docker
def test_doctor(docker_ready):
    proc = run_cli("doctor")
    assert proc.returncode == 0, proc.stdout
    assert "docker daemon" in proc.stdout and "base image" in proc.stdout
    proc = run_cli("doctor", env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert proc.returncode == 1 and "FAIL" in proc.stdout


@pytest.mark.docker
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_interrupt_removes_every_sandbox(tmp_path, docker_ready, sig):
    import signal
    import time

    slow = make_task(tmp_path, "slow", solve="sleep 600", test="sleep 600", agent_timeout_sec=600.0)
    proc = subprocess.Popen([*TERMFORGE, "verify", str(slow), "--jobs", "2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    label = {"label": f"org.termforge.owner_pid={proc.pid}"}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(docker_ready.containers.list(filters=label)) < 2:
        time.sleep(0.2)
    assert len(docker_ready.containers.list(filters=label)) == 2
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert docker_ready.containers.list(all=True, filters=label) == []
    assert "Traceback" not in err and "interrupted" in err
