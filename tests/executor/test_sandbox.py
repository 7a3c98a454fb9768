"""Sandbox: hardened container settings, exec with output caps and timeouts, files, cleanup."""

from __future__ import annotations

import time

import docker.errors
import pytest

from termforge.executor.base_image import BASE_IMAGE
from termforge.executor.limits import SandboxLimits
from termforge.executor.sandbox import Sandbox, _HeadTail

pytestmark = pytest.mark.docker


def test_head_tail_keeps_both_ends():
    b = _HeadTail(10)
    for chunk in (b"abc", b"defgh", b"ijklmnop", b"qrstuvwxyz"):
        b.add(chunk)
    value, truncated = b.value()
    assert truncated and value.startswith(b"abcde") and value.endswith(b"vwxyz")
    assert b"16 bytes omitted" in value
    small = _HeadTail(10)
    small.add(b"hello")
    assert small.value() == (b"hello", False)


def test_hardened_host_config(docker_ready):
    limits = SandboxLimits(cpus=0.5, memory_mb=300, pids=64, storage_mb=100)
    with Sandbox(BASE_IMAGE, limits) as sb:
        hc = docker_ready.api.inspect_container(sb.container.id)["HostConfig"]
        assert hc["NetworkMode"] == "none"
        assert hc["CapDrop"] == ["ALL"] and "SYS_ADMIN" not in hc["CapAdd"]
        assert hc["Memory"] == 300 * 2**20 and hc["MemorySwap"] == 300 * 2**20
        assert hc["NanoCpus"] == 500_000_000 and hc["PidsLimit"] == 64
        assert "no-new-privileges:true" in hc["SecurityOpt"]
        assert hc["Privileged"] is False
        fsize = {u["Name"]: u["Hard"] for u in hc["Ulimits"]}["fsize"]
        assert fsize == 100 * 2**20
        assert sb.exec("cat /proc/self/status | grep -i ^NoNewPrivs").text.split()[-1] == "1"
        name = sb.container.name
    with pytest.raises(docker.errors.NotFound):
        docker_ready.containers.get(name)


def test_exec_output_exit_code_and_cap(docker_ready):
    with Sandbox(BASE_IMAGE, SandboxLimits()) as sb:
        r = sb.exec("echo out; echo err >&2; exit 7")
        # stdout and stderr are separate streams: both are kept, their interleaving is not fixed
        assert r.exit_code == 7 and sorted(r.text.splitlines()) == ["err", "out"] and not r.timed_out
        r = sb.exec("head -c 5000000 /dev/zero | tr '\\0' x", output_cap=1000)
        assert r.truncated and len(r.output) < 1100 and r.exit_code == 0


def test_exec_timeout_kills_the_tree_and_sandbox_stays_usable(docker_ready):
    with Sandbox(BASE_IMAGE, SandboxLimits()) as sb:
        t0 = time.monotonic()
        r = sb.exec("sleep 300 & sleep 300 & wait", timeout=1.0)
        assert r.timed_out and time.monotonic() - t0 < 10
        assert sb.exec("pgrep -c sleep || true").text.strip() == "1"  # only `sleep infinity`
        assert sb.exec("echo alive").text == "alive\n"


def test_put_dir_and_workdir(docker_ready, tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.sh").write_text("echo from-x\n")
    (tmp_path / "sub" / "x.sh").chmod(0o755)
    with Sandbox(BASE_IMAGE, SandboxLimits()) as sb:
        sb.put_dir(tmp_path, "/solution")
        assert sb.exec("/solution/sub/x.sh").text == "from-x\n"
        assert sb.exec("pwd").text == "/app\n"


def test_close_is_idempotent_and_removes_logs_mount(docker_ready):
    sb = Sandbox(BASE_IMAGE, SandboxLimits()).start()
    logs_base = sb.logs.base
    assert logs_base.exists()
    sb.close()
    sb.close()
    assert not logs_base.exists()
    with open("/proc/mounts") as f:
        assert str(logs_base) not in f.read()
