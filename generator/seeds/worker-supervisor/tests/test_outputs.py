import os
import subprocess
import time
from pathlib import Path

import pytest

CTL = "/usr/local/bin/workerctl"
RUN = Path("/run/jobs")
IDS = (1, 2, 3)


def ctl(cmd):
    return subprocess.run([CTL, cmd], capture_output=True, text=True, timeout=30)


def pid(i):
    return int((RUN / f"worker-{i}.pid").read_text().strip())


def alive(p):
    try:
        state = [ln for ln in Path(f"/proc/{p}/status").read_text().splitlines()
                 if ln.startswith("State:")][0]
    except (FileNotFoundError, IndexError):
        return False
    return "Z" not in state.split()[1]


def info(p):
    """(argv, session id) of a live process, else None."""
    if not alive(p):
        return None
    argv = Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")
    fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
    return argv, int(fields[3])


@pytest.fixture(scope="module")
def lifecycle():
    s = {}
    s["start1"] = ctl("start")
    time.sleep(0.5)
    s["pids1"] = {i: pid(i) for i in IDS}
    s["info1"] = {i: info(p) for i, p in s["pids1"].items()}
    s["start2"] = ctl("start")
    s["pids2"] = {i: pid(i) for i in IDS}
    s["status_all"] = ctl("status")
    os.kill(s["pids1"][1], 9)
    for _ in range(50):
        if not alive(s["pids1"][1]):
            break
        time.sleep(0.1)
    s["status_one_down"] = ctl("status")
    s["start3"] = ctl("start")
    time.sleep(0.5)
    s["pids3"] = {i: pid(i) for i in IDS}
    t0 = time.time()
    s["stop"] = ctl("stop")
    s["stop_seconds"] = time.time() - t0
    s["after_stop"] = {i: alive(p) for i, p in s["pids3"].items()}
    s["pidfiles_left"] = sorted(p.name for p in RUN.glob("worker-*.pid"))
    s["status_after"] = ctl("status")
    return s


def test_start_launches_detached_workers(lifecycle):
    assert lifecycle["start1"].returncode == 0
    for i, p in lifecycle["pids1"].items():
        got = lifecycle["info1"][i]
        assert got is not None, f"worker {i} is not running after start"
        argv, sid = got
        assert any(b"worker.sh" in a for a in argv) and str(i).encode() in argv, (i, argv)
        assert sid == p, "worker must lead its own session (setsid)"

def test_start_is_idempotent(lifecycle):
    assert lifecycle["start2"].returncode == 0
    assert lifecycle["pids2"] == lifecycle["pids1"]


def test_status(lifecycle):
    s = lifecycle["status_all"]
    assert s.returncode == 0
    assert s.stdout.splitlines() == [f"worker-{i} running {lifecycle['pids1'][i]}" for i in IDS]
    d = lifecycle["status_one_down"]
    assert d.returncode == 3
    assert d.stdout.splitlines()[0] == "worker-1 stopped"


def test_start_restarts_only_dead_worker(lifecycle):
    p1, p3 = lifecycle["pids1"], lifecycle["pids3"]
    assert p3[1] != p1[1]
    assert p3[2] == p1[2] and p3[3] == p1[3]


def test_stop(lifecycle):
    assert lifecycle["stop"].returncode == 0
    assert not any(lifecycle["after_stop"].values())
    assert lifecycle["pidfiles_left"] == []
    assert lifecycle["status_after"].returncode == 3
    log = Path("/var/lib/jobs/worker-2.log").read_text()
    assert "worker 2 stopping" in log, "workers that honour SIGTERM must get it first"
