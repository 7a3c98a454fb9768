"""Leak checks after every test of the security suite.

Every test runs hostile code in a sandbox and asserts containment from the host's side. The
autouse `no_leaks` fixture then checks that nothing was left behind: no container of this process
labelled `org.termforge.sandbox`, no loop mount of ours and no `termforge-logs-*` directory.
This process's sandboxes are told apart from other users of the same Docker daemon by their
`org.termforge.owner_pid` label, and their /logs mounts are made in a temp directory private to
this session, so concurrent test runs on the same host do not disturb the checks.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import docker
import docker.errors
import pytest

from termforge.executor.sandbox import SANDBOX_LABEL
from tests.security.hostile import BASE_IMAGE


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except docker.errors.DockerException as exc:  # a failure, not a skip: nothing was checked
        pytest.fail(f"the security suite needs a running Docker daemon: {exc}")
    try:
        client.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        pytest.fail(f"the security suite needs {BASE_IMAGE}; build it with `termforge base-image`")
    return client


@pytest.fixture(scope="session")
def private_tmp(tmp_path_factory) -> Path:
    """A temp dir only this session uses: LogsMount makes its termforge-logs-* dirs here."""
    path = tmp_path_factory.mktemp("sandbox-tmp")
    old = tempfile.tempdir
    tempfile.tempdir = str(path)
    yield path
    tempfile.tempdir = old


def our_containers(client: docker.DockerClient) -> list:
    return client.containers.list(all=True, filters={
        "label": [SANDBOX_LABEL, f"org.termforge.owner_pid={os.getpid()}"]})


def mounts_under(path: Path) -> list[str]:
    with open("/proc/mounts") as f:
        return [line.strip() for line in f if line.split()[1].startswith(str(path))]


@pytest.fixture(autouse=True)
def no_leaks(docker_client, private_tmp):
    assert not our_containers(docker_client), "a sandbox was left by an earlier test"
    yield
    left = [c.name for c in our_containers(docker_client)]
    for c in our_containers(docker_client):  # do not let one leak fail the following tests too
        try:
            c.remove(force=True, v=True)
        except docker.errors.APIError:
            pass
    assert not left, f"containers left behind: {left}"
    mounts = mounts_under(private_tmp)
    assert not mounts, f"mounts left behind: {mounts}"
    dirs = sorted(p.name for p in private_tmp.glob("termforge-logs-*"))
    assert not dirs, f"logs directories left behind: {dirs}"


@pytest.fixture
def timed():
    """timed(budget) as a context manager: the block must end within budget seconds."""

    class _Timed:
        def __init__(self, budget: float):
            self.budget = budget

        def __enter__(self):
            self.t0 = time.monotonic()
            return self

        def __exit__(self, *exc):
            self.seconds = time.monotonic() - self.t0
            if exc[0] is None:
                assert self.seconds < self.budget, \
                    f"took {self.seconds:.1f} s, budget {self.budget} s"

    return _Timed
