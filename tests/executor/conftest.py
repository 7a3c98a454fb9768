"""Fixtures for executor tests: a reachable Docker daemon and the base image are required."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "tasks"


@pytest.fixture(scope="session")
def docker_ready():
    from termforge.executor.base_image import BASE_IMAGE
    from termforge.executor.docker_env import client
    from termforge.executor.images import image_exists

    client()  # raises a clear error when the daemon is down: a failure, not a skip
    assert image_exists(BASE_IMAGE), f"{BASE_IMAGE} missing: run `termforge base-image`"
    return client()


@pytest.fixture
def example_task(tmp_path):
    """A private copy of an example task (tests may write .termforge/ into it)."""

    def copy(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(EXAMPLES / name, dest, ignore=shutil.ignore_patterns(".termforge"))
        return dest

    return copy


def make_task(root: Path, name: str, *, solve: str, test: str, dockerfile: str | None = None,
              **config) -> Path:
    """Write a small task whose tests/test.sh is a bash snippet that writes the reward."""
    from termforge.executor.task import TaskConfig, write_task

    files = {
        "environment/Dockerfile": dockerfile or "FROM termforge/base:bookworm\nWORKDIR /app\n",
        "solution/solve.sh": "#!/bin/bash\n" + solve + "\n",
        "tests/test.sh": "#!/bin/bash\nmkdir -p /logs/verifier\n" + test + "\n",
    }
    cfg = TaskConfig(name=name, **{"agent_timeout_sec": 30.0, "verifier_timeout_sec": 30.0,
                                   "memory_mb": 512, **config})
    write_task(root / name, instruction=f"Task {name}.\n", config=cfg, files=files)
    return root / name
