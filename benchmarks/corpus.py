"""Corpus benchmark: shard write MB/s and Grain read records/s, each against plain JSONL.

    .venv/bin/python benchmarks/corpus.py [--records 20000] [--shards 16] [--min-kb 4] [--max-kb 20]

Synthetic trajectory records of realistic size (Terminus-2 JSON turns and terminal output,
4-20 KB each) are built once in memory (not timed). Then, in the same process:

* write: `termforge.shards.write_shards` (two passes over disk, shuffle, zstd, sha256, fsync)
  vs. a plain JSONL write of the same records with the same serialiser (serialise + write +
  fsync), in MB/s of record JSON;
* verify: `open_shards(verify=True)` (sha256 + record counts), in MB/s of shard files;
* read: a Grain `MapDataset` over `ShardSet.data_source()` decoding each record's JSON
  (iterated with `ReadOptions(num_threads=0)`, and with Grain's default 16 read threads),
  in index order and shuffled (the training access pattern), vs. reading the JSONL file
  line by line and decoding each line, in records/s.

Each line ends with the ratio to its baseline. Sections run in order from SECTIONS; later
sections (e.g. oracle trajectories/min) append themselves there.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

from termforge.records import TrajectoryRecord

WORDS = ("ls cat grep sed awk find chmod chown tar git make python3 pytest curl jq sort uniq wc head tail "
         "error warning done file directory permission denied total drwxr-xr-x root app data csv json log "
         "config test passed failed line column value key user group process signal").split()


def _text(rng: random.Random, n: int) -> str:
    out, size = [], 0
    while size < n:
        w = rng.choice(WORDS)
        if rng.random() < 0.15:
            w = f"{w}{rng.randint(0, 99999)}"
        out.append(w)
        size += len(w) + 1
        if rng.random() < 0.08:
            out.append("\n")
    return " ".join(out)[:n]


def synthetic_record(i: int, rng: random.Random, min_kb: float, max_kb: float) -> TrajectoryRecord:
    target = int(rng.uniform(min_kb, max_kb) * 1024)
    turns = max(1, target // 2500)
    per_obs = max(64, (target - 600 - turns * 300) // turns)
    msgs = [{"role": "system", "content": "You are an AI assistant tasked with solving command-line tasks."},
            {"role": "user", "content": "Task: " + _text(rng, 400)}]
    for t in range(turns):
        msgs.append({"role": "assistant", "content": json.dumps({
            "analysis": _text(rng, 120), "plan": _text(rng, 80),
            "commands": [{"keystrokes": _text(rng, 40) + "\n", "duration": 1.0}], "task_complete": t == turns - 1})})
        msgs.append({"role": "user", "content": "New Terminal Output:\n" + _text(rng, per_obs)})
    return TrajectoryRecord(
        trajectory_id=f"bench-{i:07d}", task_id=f"task-{i % 997}", task_group_id=f"group-{i % 101}",
        messages=msgs, source=rng.choice(["seed", "skill", "llm"]), skills=[rng.choice(WORDS)],
        domain="bench", difficulty=rng.choice(["easy", "medium", "hard"]), model_name="bench",
        reward=rng.choice([0.0, 1.0]), n_assistant_turns=turns, n_tokens=target // 4,
        created="2026-01-01T00:00:00+00:00")


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def bench_shards(args: argparse.Namespace) -> dict:
    """Shard write MB/s and Grain read records/s vs. plain JSONL, same process, same records."""
    import grain

    from termforge.jaxtrain.data import open_shards
    from termforge.shards import record_bytes, write_shards

    rng = random.Random(0)
    t_gen, records = _timed(lambda: [synthetic_record(i, rng, args.min_kb, args.max_kb)
                                     for i in range(args.records)])
    tmp = Path(tempfile.mkdtemp(prefix="termforge-bench-", dir=args.tmp))
    try:
        jsonl = tmp / "records.jsonl"

        def write_jsonl() -> int:
            n = 0
            with open(jsonl, "wb") as f:
                for r in records:
                    n += f.write(record_bytes(r) + b"\n")
                f.flush()
                os.fsync(f.fileno())
            return n

        t_jw, _ = _timed(write_jsonl)
        jsonl_mb = jsonl.stat().st_size / 1e6
        t_sw, manifest = _timed(lambda: write_shards(iter(records), tmp / "shards", args.shards, seed=0))
        rec_mb = manifest["record_bytes"] / 1e6
        shard_mb = sum(s["bytes"] for s in manifest["shards"]) / 1e6
        n = len(records)
        del records

        t_open, ss = _timed(lambda: open_shards(tmp / "shards", verify=True))

        def read_jsonl() -> int:
            k = 0
            with open(jsonl, "rb") as f:
                for line in f:
                    json.loads(line)
                    k += 1
            return k

        def read_grain(shuffle: bool, threads: int | None) -> int:
            ds = grain.MapDataset.source(ss.data_source())
            if shuffle:
                ds = ds.shuffle(seed=0)
            opts = grain.ReadOptions() if threads is None else grain.ReadOptions(num_threads=threads,
                                                                                   prefetch_buffer_size=0)
            k = 0
            for _ in ds.map(json.loads).to_iter_dataset(opts):
                k += 1
            return k

        read_jsonl()  # warm the page cache for both sides
        read_grain(False, 0)
        t_jr, kj = _timed(read_jsonl)
        grain_rows = []
        for shuffle, threads in ((False, 0), (True, 0), (True, None)):
            t, k = _timed(lambda: read_grain(shuffle, threads))
            assert k == kj == n, (k, kj, n)
            grain_rows.append((shuffle, threads, n / t))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    row = {"records": n, "record_mb": rec_mb, "shard_mb": shard_mb, "jsonl_mb": jsonl_mb, "gen_s": t_gen,
           "shard_write_mb_s": rec_mb / t_sw, "jsonl_write_mb_s": rec_mb / t_jw,
           "verify_mb_s": shard_mb / t_open,
           "jsonl_read_rec_s": n / t_jr,
           "grain_read_rec_s": {f"{'shuffled' if sh else 'index'}_threads{16 if th is None else th}": r
                                for sh, th, r in grain_rows}}
    print(f"corpus: {n} records, {rec_mb:.0f} MB of record JSON (avg {rec_mb * 1e3 / n:.1f} KB), "
          f"{args.shards} shards = {shard_mb:.0f} MB on disk ({shard_mb / rec_mb:.0%}); built in {t_gen:.1f} s; "
          f"{os.cpu_count()} CPUs")
    print(f"shard write:  {row['shard_write_mb_s']:7.1f} MB/s   vs JSONL write {row['jsonl_write_mb_s']:7.1f} MB/s"
          f"   ratio {row['shard_write_mb_s'] / row['jsonl_write_mb_s']:.2f}x")
    print(f"open+verify:  {row['verify_mb_s']:7.1f} MB/s of shards (sha256 + counts)")
    for shuffle, threads, rate in grain_rows:
        how = f"{'shuffled' if shuffle else 'index order'}, {'default 16' if threads is None else threads} threads"
        print(f"grain read:   {rate:7.0f} rec/s  vs JSONL read {row['jsonl_read_rec_s']:7.0f} rec/s"
              f"   ratio {rate / row['jsonl_read_rec_s']:.2f}x  ({how})")
    return row


def bench_oracle(args: argparse.Namespace) -> dict:
    """Oracle trajectories per minute over the example tasks at --jobs 1 and --jobs 4 (images warm)."""
    import shutil
    import tempfile

    from termforge.executor.collect import CollectOptions, collect
    from termforge.executor.verify import find_tasks

    examples = Path(__file__).resolve().parents[1] / "examples" / "tasks"
    tasks = find_tasks([examples])
    row: dict = {}
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        collect(tasks, Path(tmp) / "warm", CollectOptions(attempts=1, jobs=2))  # build images once
        for jobs in (1, 4):
            out = Path(tmp) / f"jobs{jobs}"
            seconds, entries = _timed(lambda: collect(tasks, out, CollectOptions(attempts=args.attempts,
                                                                                  jobs=jobs)))
            ok = sum(e.get("reward") == 1.0 for e in entries)
            row[f"jobs{jobs}_per_min"] = len(entries) / seconds * 60
            print(f"oracle trajectories: --jobs {jobs}: {len(entries)} in {seconds:.1f} s = "
                  f"{row[f'jobs{jobs}_per_min']:.1f}/min ({ok} with reward 1)")
            shutil.rmtree(out, ignore_errors=True)
    row["ratio"] = row["jobs4_per_min"] / row["jobs1_per_min"]
    print(f"oracle trajectories/min ratio --jobs 4 / --jobs 1: {row['ratio']:.2f}x")
    return row


# Sections run by main(), in order: (name, function(args) -> dict). Append further sections here.
SECTIONS: list[tuple[str, Callable[[argparse.Namespace], dict]]] = [
    ("shards", bench_shards),
    ("oracle", bench_oracle),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--shards", type=int, default=16)
    ap.add_argument("--min-kb", type=float, default=4.0)
    ap.add_argument("--max-kb", type=float, default=20.0)
    ap.add_argument("--tmp", default=None, help="Scratch directory (default: the system temp dir).")
    ap.add_argument("--only", action="append", default=None,
                    help=f"Run only these sections (repeatable): {', '.join(n for n, _ in SECTIONS)}.")
    ap.add_argument("--json", default=None, help="Write the results as JSON here.")
    ap.add_argument("--attempts", type=int, default=2, help="Oracle attempts per example task.")
    args = ap.parse_args()
    results = {}
    for name, fn in SECTIONS:
        if args.only and name not in args.only:
            continue
        results[name] = fn(args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
