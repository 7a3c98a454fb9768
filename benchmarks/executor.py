"""Executor benchmark: sandbox start latency and verification throughput at --jobs 1 vs --jobs 4.

    .venv/bin/python benchmarks/executor.py [--starts 20] [--rounds 2]

Prints container start latency (p50/p95, hardened Sandbox incl. its /logs mount, and a bare
`docker run` baseline in the same process), tasks verified per minute over examples/tasks at
--jobs 1 and --jobs 4 (images warm), and their ratio. Targets: start p50 ≤ 0.5 s, ratio ≥ 1.8.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from termforge.executor.base_image import BASE_IMAGE
from termforge.executor.docker_env import client
from termforge.executor.limits import SandboxLimits
from termforge.executor.sandbox import Sandbox
from termforge.executor.verify import find_tasks, verify_tasks

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "tasks"


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def start_latencies(n: int) -> tuple[list[float], list[float]]:
    hardened, bare = [], []
    for _ in range(n):
        sb = Sandbox(BASE_IMAGE, SandboxLimits())
        t0 = time.perf_counter()
        sb.start()
        hardened.append(time.perf_counter() - t0)
        sb.close()
        t0 = time.perf_counter()
        c = client().containers.run(BASE_IMAGE, ["sleep", "infinity"], detach=True, network_mode="none")
        bare.append(time.perf_counter() - t0)
        c.remove(force=True)
    return hardened, bare


def throughput(paths: list[Path], jobs: int, rounds: int) -> float:
    """Tasks verified per minute (each task = 2 trials in fresh containers)."""
    n, t0 = 0, time.perf_counter()
    for _ in range(rounds):
        outcomes = verify_tasks(paths, jobs=jobs, write_files=False)
        assert all(o.verified for o in outcomes), [o.reason for o in outcomes if not o.verified]
        n += len(outcomes)
    return n / (time.perf_counter() - t0) * 60


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--starts", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for p in find_tasks([EXAMPLES]):
            shutil.copytree(p, Path(tmp) / p.name, ignore=shutil.ignore_patterns(".termforge"))
            paths.append(Path(tmp) / p.name)
        verify_tasks(paths, jobs=2, write_files=False)  # warm the image cache

        hardened, bare = start_latencies(args.starts)
        print(f"container start, hardened Sandbox (n={len(hardened)}): "
              f"p50 {percentile(hardened, .5):.3f} s  p95 {percentile(hardened, .95):.3f} s")
        print(f"container start, bare docker run  (n={len(bare)}): "
              f"p50 {percentile(bare, .5):.3f} s  p95 {percentile(bare, .95):.3f} s")
        print(f"hardening overhead: {statistics.median(hardened) / statistics.median(bare):.2f}x bare p50")

        tpm1 = throughput(paths, 1, args.rounds)
        tpm4 = throughput(paths, 4, args.rounds)
        print(f"verified tasks/min over {len(paths)} example tasks x {args.rounds} rounds: "
              f"--jobs 1 {tpm1:.1f}   --jobs 4 {tpm4:.1f}")
        print(f"throughput ratio --jobs 4 / --jobs 1: {tpm4 / tpm1:.2f}x (target >= 1.8x)")


if __name__ == "__main__":
    main()
