"""Fixtures of the scale-out tests: Docker (shared with the executor tests) and a local Ray cluster
of a head without CPUs and worker nodes with one CPU each, all on this machine (one dockerd)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.executor.conftest import docker_ready  # noqa: F401  (shared fixture)

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "tasks"
TERMFORGE = [sys.executable, "-m", "termforge.cli"]
# Node death is noticed within a few seconds instead of ~15 s (Ray's defaults are for real networks).
FAST_FAILURE_DETECTION = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 1000,
                          "health_check_failure_threshold": 3}


def start_cluster(workers: int):
    """A head node (0 CPUs: the driver's) plus `workers` nodes of 1 CPU; this process is connected."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, connect=False,
                      head_node_args={"num_cpus": 0, "include_dashboard": False,
                                      "_system_config": FAST_FAILURE_DETECTION})
    nodes = [cluster.add_node(num_cpus=1) for _ in range(workers)]
    ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
    cluster.wait_for_nodes()
    return cluster, nodes


def stop_cluster(cluster) -> None:
    import ray

    ray.shutdown()
    cluster.shutdown()


@pytest.fixture(scope="module")
def ray_cluster():
    """Head + 2 one-CPU workers for the tests of a module."""
    cluster, _ = start_cluster(2)
    yield cluster
    stop_cluster(cluster)


@pytest.fixture
def example_copies(tmp_path):
    """Private copies of example tasks (verify writes .termforge/ into a task)."""

    def copy(*names: str) -> list[Path]:
        out = []
        for name in names:
            dest = tmp_path / "examples" / name
            shutil.copytree(EXAMPLES / name, dest, ignore=shutil.ignore_patterns(".termforge"))
            out.append(dest)
        return out

    return copy


def run_cli(*args, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*TERMFORGE, *map(str, args)], capture_output=True, text=True, timeout=timeout)
