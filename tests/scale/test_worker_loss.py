"""A Ray worker node killed while it runs a trial loses nothing: Ray re-runs the trial elsewhere and
the run ends with every attempt recorded exactly once."""

from __future__ import annotations

import json
import threading
import time

import docker.errors as docker_errors
import psutil
import pytest

from termforge.executor.backend import RayBackend
from termforge.executor.collect import CollectOptions, collect
from termforge.executor.sandbox import SANDBOX_LABEL, remove_stale_sandboxes

from .conftest import EXAMPLES, start_cluster, stop_cluster


def _worker_pids(node) -> set[int]:
    """Pids of the processes a Ray node runs (its raylet and the workers it started)."""
    pids = set()
    for kind, proc in node.live_processes():
        if kind == "raylet":
            pids.add(proc.pid)
            pids.update(p.pid for p in psutil.Process(proc.pid).children(recursive=True))
    return pids


def _busy_owner(node, docker) -> int | None:
    """The pid of one of `node`'s workers that runs a sandbox now (None: none does)."""
    try:
        pids = _worker_pids(node)
        for c in docker.containers.list(filters={"label": SANDBOX_LABEL}):
            owner = c.labels.get("org.termforge.owner_pid", "")
            if owner.isdigit() and int(owner) in pids:
                return int(owner)
    except (psutil.Error, docker_errors.DockerException):  # a process or container just went away
        pass
    return None


def _kill_when_busy(cluster, node, docker, killed: list, stop: threading.Event) -> None:
    """Kill `node` (no grace) as soon as one of its workers runs a sandbox, i.e. mid-trial."""
    while not stop.is_set():
        owner = _busy_owner(node, docker)
        if owner is not None:
            cluster.remove_node(node, allow_graceful=False)
            killed.append(owner)
            return
        time.sleep(0.2)


def _wait_gone(pid: int, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while psutil.pid_exists(pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    return not psutil.pid_exists(pid)


@pytest.mark.docker
def test_killed_worker_node_loses_no_attempt(docker_ready, tmp_path, example_copies):
    names = sorted(p.name for p in EXAMPLES.iterdir() if (p / "task.toml").is_file())
    tasks = example_copies(*names)
    cluster, nodes = start_cluster(2)
    killed: list = []
    stop = threading.Event()
    watcher = threading.Thread(target=_kill_when_busy, args=(cluster, nodes[0], docker_ready, killed, stop),
                               daemon=True)
    try:
        watcher.start()
        with RayBackend() as backend:
            entries = collect(tasks, tmp_path / "run", CollectOptions(attempts=1), backend=backend)
    finally:
        stop.set()
        watcher.join(timeout=30)
        stop_cluster(cluster)
    assert killed, "the worker node was never seen running a trial"
    owner = killed[0]
    assert _wait_gone(owner), f"worker {owner} of the killed node still runs"
    remove_stale_sandboxes()  # the killed worker's sandbox (its owner is gone)
    lines = [json.loads(line) for line in (tmp_path / "run" / "index.jsonl").read_text().splitlines()]
    ids = [e["id"] for e in lines]
    assert len(ids) == len(set(ids)) == len(names) == len(entries)  # every attempt once, none twice
    assert all(e["reward"] == 1.0 and e["exception"] is None for e in entries)
    for e in entries:
        assert (tmp_path / "run" / "trials" / e["id"] / "result.json").is_file()
        assert (tmp_path / "run" / e["trajectory"]).is_file()
    leftovers = docker_ready.containers.list(all=True, filters={"label": f"org.termforge.owner_pid={owner}"})
    assert leftovers == []


def test_a_dead_workers_temp_dirs_are_removed(tmp_path, monkeypatch):
    import subprocess
    import tempfile

    from termforge.executor import jobs

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.Popen(["true"])
    dead.wait()
    gone = tmp_path / f"{jobs.WORK_PREFIX}{dead.pid}-abc"
    kept = tmp_path / f"{jobs.WORK_PREFIX}{psutil.Process().pid}-def"
    for d in (gone, kept):
        (d / "task").mkdir(parents=True)
    monkeypatch.setattr(jobs, "_last_stale_check", float("-inf"))
    jobs._remove_stale_sandboxes()
    assert not gone.exists() and kept.exists()
