"""Generator benchmark: verified tasks per minute at --jobs 1 and --jobs 4, and where time goes.

    .venv/bin/python benchmarks/generator.py [--n 24] [--mode skill]

Each configuration generates --n fresh tasks (different seeds, so every image is really built),
verifies them (one run each) and reports verified tasks/min, their ratio, and the share of trial
time spent building images vs running containers.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from termforge.generator.pipeline import GenOptions, generate


def run(mode: str, n: int, jobs: int, seed: int, root: Path) -> dict:
    t0 = time.perf_counter()
    records = generate(GenOptions(mode=mode, n=n, out=root / f"jobs{jobs}", seed=seed, jobs=jobs,
                                  verify_runs=1))
    wall = time.perf_counter() - t0
    verified = sum(r["status"] == "verified" for r in records)
    trial = sum((r.get("verify") or {}).get("seconds", 0.0) for r in records)
    image = sum((r.get("verify") or {}).get("image_seconds", 0.0) for r in records)
    return {"jobs": jobs, "verified": verified, "n": len(records), "wall": wall,
            "per_min": verified / wall * 60, "image_share": image / trial if trial else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--mode", default="skill")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [run(args.mode, args.n, jobs, 1000 + jobs, Path(tmp)) for jobs in (1, 4)]
    for r in rows:
        print(f"--jobs {r['jobs']}: {r['verified']}/{r['n']} verified in {r['wall']:.1f} s = "
              f"{r['per_min']:.1f} verified tasks/min; image builds {r['image_share']:.0%} of trial "
              f"time, container runs {1 - r['image_share']:.0%}")
    print(f"throughput ratio --jobs 4 / --jobs 1: {rows[1]['per_min'] / rows[0]['per_min']:.2f}x")


if __name__ == "__main__":
    main()
