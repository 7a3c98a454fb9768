"""Shards with assorted behaviours for the batch runner, and the result table they lead to."""
import json

PROCESS = r'''#!/usr/bin/env python3
"""process-shard NAME: process one shard of the nightly batch (do not modify)."""
import fcntl
import json
import os
import signal
import sys
import time

STATE = "/var/lib/etl"
RUNNING = f"{STATE}/running"
BEHAVIOUR = __BEHAVIOUR__


def update(fn):
    """Read-modify-write of the shared state, atomically and with SIGTERM held off."""
    os.makedirs(RUNNING, exist_ok=True)
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        with open(f"{STATE}/state.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            path = f"{STATE}/state.json"
            try:
                with open(path) as f:
                    st = json.load(f)
            except (FileNotFoundError, ValueError):
                st = {"max_parallel": 0, "attempts": {}}
            out = fn(st)
            tmp = f"{path}.{os.getpid()}"
            with open(tmp, "w") as f:
                json.dump(st, f)
            os.replace(tmp, path)
            return out
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def alive(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return not any(ln.startswith("State:") and "Z" in ln.split()[1] for ln in f)
    except OSError:
        return False


def enter(st):
    open(f"{RUNNING}/{os.getpid()}", "w").close()
    st["max_parallel"] = max(st["max_parallel"], sum(alive(p) for p in os.listdir(RUNNING)))
    st["attempts"][NAME] = st["attempts"].get(NAME, 0) + 1
    return st["attempts"][NAME]


def leave():
    try:
        os.unlink(f"{RUNNING}/{os.getpid()}")
    except FileNotFoundError:
        pass


def on_term(signum, frame):
    leave()
    sys.exit(143)


if len(sys.argv) != 2 or sys.argv[1] not in BEHAVIOUR:
    print("usage: process-shard NAME (a shard listed in /opt/etl/shards.txt)", file=sys.stderr)
    sys.exit(64)
NAME = sys.argv[1]
signal.signal(signal.SIGTERM, on_term)
attempt = update(enter)
kind, arg = BEHAVIOUR[NAME]
try:
    if kind == "hang":
        print(f"{NAME}: waiting for upstream lock ...", flush=True)
        time.sleep(3600)
    if kind == "fail":
        time.sleep(0.2)
        print(f"{NAME}: corrupt input, giving up", file=sys.stderr)
        sys.exit(2)
    if kind == "flaky" and attempt <= arg:
        time.sleep(0.3)
        print(f"{NAME}: upstream busy (attempt {attempt})", file=sys.stderr)
        sys.exit(75)
    time.sleep(1)
    os.makedirs(f"{STATE}/out", exist_ok=True)
    with open(f"{STATE}/out/{NAME}.done", "w") as f:
        f.write(f"{NAME} ok after {attempt} attempt(s)\n")
    print(f"{NAME}: done")
finally:
    leave()
'''


def generate(rng):
    month = rng.choice(["2024-01", "2024-02", "2023-11", "2024-06"])
    names = [f"{month}-part{i:02d}" for i in sorted(rng.sample(range(1, 40), rng.randint(7, 10)))]
    kinds = ["hang", "fail", ("flaky", 1), ("flaky", 2), ("flaky", 3)] + ["ok"] * (len(names) - 5)
    rng.shuffle(kinds)
    behaviour, results = {}, []
    for n, k in zip(names, kinds):
        if k == "hang":
            behaviour[n] = ("hang", 0)
            results.append((n, "timeout", 3))
        elif k == "fail":
            behaviour[n] = ("fail", 0)
            results.append((n, "failed", 3))
        elif k == "ok":
            behaviour[n] = ("ok", 0)
            results.append((n, "ok", 1))
        else:
            behaviour[n] = k
            results.append((n, "ok", k[1] + 1) if k[1] < 3 else (n, "failed", 3))
    src = PROCESS.replace("__BEHAVIOUR__", json.dumps({k: list(v) for k, v in behaviour.items()}))
    listed = list(names)
    rng.shuffle(listed)
    return {
        "environment/rootfs/opt/etl/bin/process-shard": src,
        "environment/rootfs/opt/etl/shards.txt": "# shards of the nightly batch\n" + "".join(f"{n}\n" for n in listed) + "\n",
        "tests/expected_results.tsv": "".join(f"{n}\t{s}\t{a}\n" for n, s, a in sorted(results)),
    }
