"""Interruptions and hung commands: whatever stops a trial, the sandbox goes with it.

conftest's `no_leaks` checks after each test that no container, loop mount or logs directory
is left; these tests also check the record (result.json) and that no process started in the
sandbox is still visible on the host.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid

import docker.errors
import pytest

from termforge.errors import TermforgeError
from termforge.executor.limits import SandboxLimits
from termforge.executor.sandbox import Sandbox, close_all
from termforge.executor.trial import run_trial
from tests.security.hostile import BASE_IMAGE, host_processes_with, make_task

pytestmark = pytest.mark.docker

LIMITS = SandboxLimits(memory_mb=256, storage_mb=64, cpus=0.5, pids=64)


class Capture:
    """on_sandbox callback that remembers the container and then raises `exc`."""

    def __init__(self, exc: BaseException | None = None):
        self.exc = exc
        self.container = None

    def __call__(self, sandbox) -> None:
        self.container = sandbox.container
        if self.exc is not None:
            raise self.exc


def assert_removed(container) -> None:
    with pytest.raises(docker.errors.NotFound):
        container.reload()


class DaemonThenInterrupt:
    """An agent that leaves a daemon in the sandbox and is then interrupted (Ctrl-C)."""

    name, version = "daemon-then-interrupt", "1"

    def __init__(self, token: str):
        self.token = token

    def run(self, sandbox, task, *, timeout: float, log_dir=None):
        r = sandbox.exec(["bash", "-c", f"setsid bash -c 'while :; do sleep 1; done' {self.token} "
                                        ">/dev/null 2>&1 < /dev/null & echo started"])
        assert r.text.strip() == "started"
        time.sleep(0.3)
        assert host_processes_with(self.token), "the daemon should be running now"
        raise KeyboardInterrupt


@pytest.mark.timeout(40)
def test_an_exception_in_on_sandbox_still_removes_the_sandbox(tmp_path):
    task = make_task(tmp_path, "on-sandbox-error", "true\n")
    cap = Capture(RuntimeError("boom from the caller"))
    result = run_trial(task, DaemonThenInterrupt("unused"), tmp_path / "trial", on_sandbox=cap)
    assert result["exception_info"]["exception_type"] == "RuntimeError"
    assert "boom from the caller" in result["exception_info"]["exception_traceback"]
    assert result["agent_execution"] is None  # the agent never ran
    assert json.loads((tmp_path / "trial" / "result.json").read_text())["id"] == result["id"]
    assert_removed(cap.container)


@pytest.mark.timeout(40)
def test_ctrl_c_in_on_sandbox_is_recorded_reraised_and_cleaned_up(tmp_path):
    task = make_task(tmp_path, "on-sandbox-interrupt", "true\n")
    cap = Capture(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        run_trial(task, DaemonThenInterrupt("unused"), tmp_path / "trial", on_sandbox=cap)
    result = json.loads((tmp_path / "trial" / "result.json").read_text())
    assert result["exception_info"]["exception_type"] == "KeyboardInterrupt"
    assert_removed(cap.container)


@pytest.mark.timeout(40)
def test_ctrl_c_during_the_agent_removes_the_sandbox_and_its_daemons(tmp_path):
    token = f"tf-interrupted-{uuid.uuid4().hex[:12]}"
    task = make_task(tmp_path, "agent-interrupt", "true\n")
    cap = Capture()
    with pytest.raises(KeyboardInterrupt):
        run_trial(task, DaemonThenInterrupt(token), tmp_path / "trial", on_sandbox=cap)
    result = json.loads((tmp_path / "trial" / "result.json").read_text())
    assert result["exception_info"]["exception_message"] == "interrupted"
    assert_removed(cap.container)
    assert host_processes_with(token) == []


@pytest.mark.timeout(40)
def test_a_hung_exec_is_killed_with_its_process_tree_and_the_sandbox_stays_usable(timed):
    with Sandbox(BASE_IMAGE, LIMITS, name="security-hung-exec") as sb:
        with timed(8):
            r = sb.exec(["bash", "-c", "trap '' TERM INT HUP; sleep 1001 & sleep 1002 & "
                                       "yes > /dev/null & wait"], timeout=1.5)
        assert r.timed_out and r.exit_code in (None, 137)  # SIGKILLed
        left = sb.exec("pgrep -a -f 'sleep 100[12]|^yes'")
        assert left.exit_code == 1, left.text  # the whole tree is gone
        assert sb.is_running()
        assert sb.exec("echo usable-$((6*7))").text == "usable-42\n"


@pytest.mark.timeout(40)
def test_close_all_ends_a_running_exec_and_removes_the_sandbox(timed):
    # What the SIGINT/SIGTERM handlers and atexit do while a command is still running.
    token = f"tf-close-all-{uuid.uuid4().hex[:12]}"
    sb = Sandbox(BASE_IMAGE, LIMITS, name="security-close-all").start()
    results = []
    worker = threading.Thread(target=lambda: results.append(
        sb.exec(["bash", "-c", f"exec -a {token} sleep 1000"])), daemon=True)
    worker.start()
    deadline = time.monotonic() + 10
    while not host_processes_with(token):
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.1)
    container = sb.container
    with timed(15):
        close_all()
        worker.join(15)
    assert not worker.is_alive() and results and not results[0].timed_out
    assert_removed(container)
    assert host_processes_with(token) == []


@pytest.mark.timeout(40)
def test_a_sandbox_that_fails_to_start_leaves_no_container(tmp_path):
    # The task's image names a user that does not exist: Docker creates the container, then
    # fails to start it. The created container must not be left behind.
    dockerfile = f"FROM {BASE_IMAGE}\nUSER tf-no-such-user\n"
    task = make_task(tmp_path, "start-failure", "true\n", dockerfile=dockerfile)
    with pytest.raises(TermforgeError, match="cannot start a sandbox"):
        run_trial(task, DaemonThenInterrupt("unused"), tmp_path / "trial")
    result = json.loads((tmp_path / "trial" / "result.json").read_text())
    assert result["exception_info"]["exception_type"] == "TermforgeError"


@pytest.mark.timeout(40)
def test_a_timed_out_exec_never_kills_a_host_process_that_reused_its_pid(timed, monkeypatch):
    # The exec's main process exits at once while a background child keeps its output open,
    # so the exec times out with its recorded pid already free. pid_max is often 32768: by
    # the timeout a host process may hold that pid. Simulate that reuse with a host decoy.
    decoy = subprocess.Popen(["sleep", "300"])
    try:
        with Sandbox(BASE_IMAGE, LIMITS, name="security-stale-pid") as sb:
            api = sb.container.client.api
            real_inspect = api.exec_inspect

            def inspect_with_reused_pid(exec_id):
                info = real_inspect(exec_id)
                return {**info, "Pid": decoy.pid}

            monkeypatch.setattr(api, "exec_inspect", inspect_with_reused_pid)
            with timed(10):
                r = sb.exec(["bash", "-c", "sleep 1000 & echo main-exits"], timeout=1.5)
            monkeypatch.undo()
            assert r.timed_out and r.text == "main-exits\n"
        assert decoy.poll() is None, "a host process was killed for a sandbox's timed-out exec"
    finally:
        decoy.kill()
        decoy.wait()
