"""Scale-out benchmark: verified tasks per minute of `gen` on the local backend and on a Ray cluster
of 1 and 2 worker nodes on this machine, and the Ray overhead ratio.

    .venv/bin/python benchmarks/scale_out.py [--n 12] [--slots 2] [--verify-runs 1]

Every configuration has the same number of trial slots (`--slots`): local runs `--jobs SLOTS`
threads; Ray runs a head without CPUs plus one worker node of SLOTS CPUs, or SLOTS worker nodes
of one CPU each (all on this machine, sharing its dockerd). Each configuration generates the same
tasks (same seed) after their images are removed, so each does the same work: drawing, image
builds, 2 trials per task and verification run. Cluster start-up is reported apart from the
throughput. overhead = local tasks/min / Ray tasks/min (1.00: Ray costs nothing; 1.10: 10 % slower).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from termforge.executor.backend import LocalBackend, RayBackend
from termforge.executor.docker_env import client
from termforge.generator.pipeline import GenOptions, generate


def remove_task_images(seed: int) -> int:
    """Remove the images of this benchmark's tasks, so that every configuration builds them."""
    prefix = f"termforge-gen/skill-s{seed}-"
    removed = 0
    for image in client().images.list(filters={"label": "org.termforge.task"}):
        if image.labels.get("org.termforge.task", "").startswith(prefix):
            client().images.remove(image.id, force=True)
            removed += 1
    return removed


def start_ray(workers: int, cpus_each: int):
    import ray
    from ray.cluster_utils import Cluster

    t0 = time.perf_counter()
    cluster = Cluster(initialize_head=True, connect=False,
                      head_node_args={"num_cpus": 0, "include_dashboard": False})
    for _ in range(workers):
        cluster.add_node(num_cpus=cpus_each)
    ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
    cluster.wait_for_nodes()
    return cluster, time.perf_counter() - t0


def measure(name: str, backend, args, root: Path, startup: float = 0.0) -> dict:
    remove_task_images(args.seed)
    t0 = time.perf_counter()
    records = generate(GenOptions(mode="skill", n=args.n, out=root / name, seed=args.seed,
                                  verify_runs=args.verify_runs), backend=backend)
    wall = time.perf_counter() - t0
    verified = sum(r["status"] == "verified" for r in records)
    return {"name": name, "verified": verified, "n": len(records), "wall": wall,
            "per_min": verified / wall * 60, "startup": startup}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=12, help="tasks per configuration")
    ap.add_argument("--slots", type=int, default=2, help="trials at once in every configuration")
    ap.add_argument("--verify-runs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=4242)
    args = ap.parse_args()
    import ray

    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start; "
          f"{args.n} skill tasks per configuration, {args.slots} trial slots, verify runs {args.verify_runs}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="termforge-scale-") as tmp:
        root = Path(tmp)
        rows.append(measure("local", LocalBackend(args.slots), args, root))
        for workers, cpus_each in ((1, args.slots), (args.slots, 1)):
            cluster, startup = start_ray(workers, cpus_each)
            try:
                with RayBackend() as backend:
                    rows.append(measure(f"ray-{workers}w", backend, args, root, startup))
            finally:
                ray.shutdown()
                cluster.shutdown()
        remove_task_images(args.seed)
    base = rows[0]["per_min"]
    for r in rows:
        nodes = 1 if r["name"] == "local" else int(r["name"].split("-")[1][:-1])
        extra = "" if r["name"] == "local" else (
            f"; {r['per_min'] / nodes:.1f}/min per worker node; cluster start {r['startup']:.1f} s (not counted); "
            f"overhead ratio {base / r['per_min']:.2f}")
        print(f"{r['name']:>8}: {r['verified']}/{r['n']} verified in {r['wall']:.1f} s = "
              f"{r['per_min']:.1f} verified tasks/min{extra}")
    load = os.getloadavg()
    print(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
