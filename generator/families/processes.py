"""Process families: finding and signalling processes, traps, daemons with pid files, parallel
execution, timeouts and retries, /proc inspection.

A Docker RUN cannot leave a process running, so each family either has the solution start what
must be running at verification (a daemon started with setsid keeps running into the verifier
phase: it is the same container), or asks for a tool that the tests exercise against helper
processes they start and stop themselves. Tests wait for readiness with bounded polling, never
with fixed sleeps racing the system under test.
"""

from __future__ import annotations

import hashlib
import random

from termforge.generator.draw import (FIRST_NAMES, ident, lines_text, phrasing, pick, py,
                                      sh_quote, word, words)
from termforge.generator.registry import family
from termforge.generator.spec import Artifact, Step


def _one(cmds: list[str]) -> list[str]:
    return [" && \\\n    ".join(cmds)] if cmds else []


# --------------------------------------------------------------------------------------------
# processes.kill-matching
# --------------------------------------------------------------------------------------------

WORKER_PY = '''#!/usr/bin/env python3
"""{app} queue worker. Started as: python3 {path} --queue NAME --id N"""
import argparse
import os
import time

p = argparse.ArgumentParser()
p.add_argument("--queue", required=True)
p.add_argument("--id", type=int, required=True)
a = p.parse_args()
os.makedirs("{run}", exist_ok=True)
pidfile = f"{run}/{kind}-{{a.queue}}-{{a.id}}.pid"
with open(pidfile + ".tmp", "w") as f:
    f.write(f"{{os.getpid()}}\\n")
os.replace(pidfile + ".tmp", pidfile)
while True:
    time.sleep(3600)
'''


@family("processes.kill-matching", category="processes",
        skills=("processes.signals", "processes.inspect", "bash.script"), difficulty="medium")
def kill_matching(rng: random.Random, inp: Artifact | None) -> Step:
    app = ident(rng, 1)
    base = f"/opt/{app}"
    worker, monitor = f"{base}/worker.py", f"{base}/monitor.py"
    run_dir = f"/run/{app}"
    script = f"/app/bin/{pick(rng, ('stop-queue', 'qkill', 'signal-workers', 'drain'))}"
    q_target, q_other = words(rng, 2)
    q_sibling = q_target + pick(rng, ("-retry", ".dlq", "2", "_slow"))
    any_order = rng.random() < 0.5
    sig = pick(rng, ("HUP", "USR1", "USR2", "KILL"))
    signum = {"HUP": 1, "USR1": 10, "USR2": 12, "KILL": 9}[sig]
    n_target, n_sib, n_other = rng.randint(2, 3), rng.randint(1, 2), rng.randint(1, 2)
    order_note = (" The options may appear in either order (`--id N --queue NAME` too)."
                  if any_order else "")
    instruction = phrasing(
        rng,
        "Queue workers of `{app}` run as `python3 {worker} --queue NAME --id N`.{order} Write an "
        "executable bash script `{script}` with usage `{script} [-s SIGNAL] QUEUE` that sends "
        "SIGNAL (a name such as `HUP` or `KILL`, default `TERM`) to every worker process serving "
        "exactly queue QUEUE, and prints the PIDs it signalled, one per line in ascending numeric "
        "order. Workers of other queues — including queues whose names merely start with QUEUE — "
        "and other programs with the same options (e.g. `{monitor} --queue QUEUE`) must not be "
        "touched. If no worker serves QUEUE, print nothing and exit 1; otherwise exit 0.",
        "We need a precise way to stop workers of one queue. Workers are processes started as "
        "`python3 {worker} --queue NAME --id N`.{order} Create `{script}` (bash, executable): "
        "`{script} QUEUE` sends SIGTERM to all workers whose queue is exactly QUEUE; `-s SIG` "
        "(before QUEUE, SIG like `USR1` or `KILL`) sends that signal instead. It writes the "
        "affected PIDs to stdout, one per line, sorted numerically, and exits 0; when nothing "
        "matches it prints nothing and exits 1. Be exact: `{q}` must not match `{sib}`, and "
        "`{monitor}` processes (which take the same `--queue` option) are not workers.",
        "Write `{script}`, a bash tool that signals the `{app}` workers of a single queue. A worker "
        "is a process whose command line is `python3 {worker}` followed by `--queue NAME --id "
        "N`.{order} Usage: `{script} [-s SIGNAL] QUEUE`, SIGNAL defaults to TERM. Output: the "
        "signalled PIDs in ascending order, one per line. Exit status 1 (and no output) when no "
        "worker has exactly that queue name. Never signal anything else: not workers of queues "
        "with similar names, not the monitor `{monitor}`, and not the script itself.",
        app=app, worker=worker, monitor=monitor, script=script, order=order_note, q=q_target,
        sib=q_sibling,
    )
    solution = f"""mkdir -p /app/bin
cat > {script} <<'EOF'
#!/bin/bash
# Signal the {app} workers of exactly one queue; print their pids.
sig=TERM
while getopts 's:' opt; do
  case $opt in
    s) sig=$OPTARG ;;
    *) echo "usage: $0 [-s SIGNAL] QUEUE" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || {{ echo "usage: $0 [-s SIGNAL] QUEUE" >&2; exit 2; }}
queue=$1
pids=()
for d in /proc/[0-9]*; do
  pid=${{d##*/}}
  [ "$pid" = "$$" ] && continue
  mapfile -d '' -t args < "$d/cmdline" 2>/dev/null || continue
  [ "${{#args[@]}}" -ge 2 ] && [ "${{args[1]}}" = {worker} ] || continue
  for ((i = 2; i < ${{#args[@]}} - 1; i++)); do
    if [ "${{args[i]}}" = --queue ] && [ "${{args[i+1]}}" = "$queue" ]; then
      pids+=("$pid"); break
    fi
  done
done
[ ${{#pids[@]}} -gt 0 ] || exit 1
printf '%s\\n' "${{pids[@]}}" | sort -n
kill -s "$sig" "${{pids[@]}}"
EOF
chmod +x {script}
"""
    tests = f"""
import os
import signal
import subprocess
import time

import pytest

SCRIPT = {script!r}
WORKER, MONITOR, RUN = {worker!r}, {monitor!r}, {run_dir!r}
ANY_ORDER = {any_order!r}


def start(prog, queue, i, kind):
    args = ["--queue", queue, "--id", str(i)]
    if ANY_ORDER and i % 2 == 1:
        args = ["--id", str(i), "--queue", queue]
    p = subprocess.Popen(["python3", prog] + args, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pidfile = f"{{RUN}}/{{kind}}-{{queue}}-{{i}}.pid"
    for _ in range(200):
        if os.path.exists(pidfile) and open(pidfile).read().strip() == str(p.pid):
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"helper {{prog}} did not start")
    return p


@pytest.fixture
def fleet():
    procs = {{}}
    counter = iter(range(1, 100))
    for queue, n in (({q_target!r}, {n_target}), ({q_sibling!r}, {n_sib}), ({q_other!r}, {n_other})):
        procs[queue] = [start(WORKER, queue, next(counter), "worker") for _ in range(n)]
    procs["monitor"] = [start(MONITOR, {q_target!r}, next(counter), "monitor"),
                        start(MONITOR, {q_other!r}, next(counter), "monitor")]
    yield procs
    for group in procs.values():
        for p in group:
            if p.poll() is None:
                p.kill()
            p.wait()


def run(*args):
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=30)


def alive(procs):
    return all(p.poll() is None for p in procs)


def test_default_signal_term(fleet):
    r = run({q_target!r})
    assert r.returncode == 0, r.stderr
    target = fleet[{q_target!r}]
    assert r.stdout.split() == [str(p.pid) for p in sorted(target, key=lambda p: p.pid)]
    for p in target:
        assert p.wait(timeout=10) == -signal.SIGTERM
    assert alive(fleet[{q_sibling!r}]) and alive(fleet[{q_other!r}]) and alive(fleet["monitor"])


def test_named_signal(fleet):
    r = run("-s", {sig!r}, {q_other!r})
    assert r.returncode == 0, r.stderr
    target = fleet[{q_other!r}]
    assert r.stdout.split() == [str(p.pid) for p in sorted(target, key=lambda p: p.pid)]
    for p in target:
        assert p.wait(timeout=10) == -{signum}
    assert alive(fleet[{q_target!r}]) and alive(fleet[{q_sibling!r}]) and alive(fleet["monitor"])


def test_no_match(fleet):
    r = run("no-such-queue-{app}")
    assert r.returncode == 1
    assert r.stdout.strip() == ""
    assert all(alive(g) for g in fleet.values())
"""
    files = {worker: WORKER_PY.format(app=app, path=worker, run=run_dir, kind="worker"),
             monitor: WORKER_PY.format(app=app, path=monitor, run=run_dir, kind="monitor")
             .replace("queue worker", "queue monitor")}
    return Step(instruction, solution, tests, files=files,
                params={"app": app, "script": script, "target": q_target, "sibling": q_sibling,
                        "any_order": any_order, "signal": sig})


# --------------------------------------------------------------------------------------------
# processes.daemon-reload
# --------------------------------------------------------------------------------------------

DAEMON_PY = '''#!/usr/bin/env python3
"""{name}: a small daemon. Configuration: {conf} (key = value lines, # comments).

It writes its state to {status} and reloads the configuration on SIG{sig}.
SIGTERM stops it. It does not detach or write a pid file by itself.
"""
import json
import os
import signal
import sys

CONF, STATUS = "{conf}", "{status}"
reloads = 0


def load():
    conf = {{}}
    with open(CONF) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if "=" in line:
                k, v = line.split("=", 1)
                conf[k.strip()] = v.strip()
    return conf


def write_status(conf):
    os.makedirs(os.path.dirname(STATUS), exist_ok=True)
    with open(STATUS + ".tmp", "w") as f:
        json.dump({{"pid": os.getpid(), "reloads": reloads, "config": conf}}, f)
    os.replace(STATUS + ".tmp", STATUS)


def on_reload(signum, frame):
    global reloads
    reloads += 1
    conf = load()
    write_status(conf)
    print(f"reloaded configuration ({{len(conf)}} keys)", flush=True)


def on_term(signum, frame):
    print("stopping", flush=True)
    sys.exit(0)


signal.signal(signal.SIG{sig}, on_reload)
signal.signal(signal.SIGTERM, on_term)
print(f"started pid={{os.getpid()}}", flush=True)
write_status(load())
while True:
    signal.pause()
'''


@family("processes.daemon-reload", category="processes",
        skills=("processes.background", "processes.signals"), difficulty="hard")
def daemon_reload(rng: random.Random, inp: Artifact | None) -> Step:
    name = f"{word(rng)}d"
    prog = f"/opt/{name}/{name}.py"
    conf = f"/etc/{name}/{name}.conf"
    status = f"/var/lib/{name}/status.json"
    log = f"/var/log/{name}.log"
    pidfile = f"/run/{name}.pid"
    sig = pick(rng, ("HUP", "USR1", "USR2"))
    pool = {"port": lambda: str(rng.randint(2000, 9999)), "log_level": lambda: pick(rng, ("debug", "info", "warning", "error")),
            "workers": lambda: str(rng.randint(1, 16)), "flush_interval": lambda: f"{rng.randint(1, 60)}s",
            "cache_dir": lambda: f"/var/cache/{name}/{word(rng)}", "upstream": lambda: f"{word(rng)}.internal:{rng.randint(1000, 9000)}"}
    keys = rng.sample(sorted(pool), 4)
    values = {k: pool[k]() for k in keys}
    key = pick(rng, keys)
    new = pool[key]()
    while new == values[key]:
        new = pool[key]()
    conf_text = f"# {name} configuration\n" + "".join(f"{k} = {v}\n" for k, v in values.items())
    final = dict(values, **{key: new})
    doc = f"/opt/{name}/README"
    readme = (f"{name}\n\nRun: python3 {prog}\nIt runs in the foreground and logs to stdout/stderr.\n"
              f"Send SIG{sig} to make it re-read {conf}. SIGTERM stops it.\n"
              f"It keeps its state in {status}.\n")
    instruction = phrasing(
        rng,
        "`{prog}` is a daemon that runs in the foreground (see `{doc}`). Start it in the "
        "background so that it keeps running after your shell exits: it must run in its own "
        "session (use `setsid`), with stdin from `/dev/null` and stdout and stderr appended to "
        "`{log}`. Write its PID — the PID of the python process itself — to `{pidfile}` (a "
        "stale file from an earlier crash is there). Then change `{key}` to `{new}` in `{conf}` "
        "and make the running daemon reload it without restarting it (it re-reads its "
        "configuration on SIG{sig}). Leave it running.",
        "Bring up the `{name}` service: run `python3 {prog}` as a detached daemon — in a new "
        "session via `setsid`, not attached to your terminal, stdin `/dev/null`, all output "
        "appended to `{log}` — and record the daemon's own PID in `{pidfile}` (overwrite the stale "
        "one). Afterwards set `{key} = {new}` in `{conf}` and apply it to the running process "
        "with SIG{sig} (a restart is not acceptable: the PID must stay the same and it must be "
        "started only once). It must still be running when you are done.",
        "Deploy step for `{name}`: (1) start `{prog}` detached in its own session (setsid), "
        "stdin from /dev/null, stdout+stderr appended to `{log}`; (2) put the PID of that python "
        "process in `{pidfile}`, replacing the stale content; (3) edit `{conf}` so that `{key}` "
        "is `{new}`; (4) signal the daemon (SIG{sig}, see `{doc}`) so it reloads its config in "
        "place — do not restart it. Keep the daemon running.",
        prog=prog, doc=doc, log=log, pidfile=pidfile, key=key, new=new, conf=conf, sig=sig,
        name=name,
    )
    solution = f"""setsid bash -c 'echo $$ > {pidfile}; exec python3 {prog}' < /dev/null >> {log} 2>&1 &
for _ in $(seq 100); do [ -s {status} ] && break; sleep 0.1; done
sed -i -E 's|^({key}[[:space:]]*=[[:space:]]*).*|\\1{new}|' {conf}
kill -{sig} "$(cat {pidfile})"
for _ in $(seq 100); do grep -q '"reloads": 1' {status} && break; sleep 0.1; done
"""
    tests = f"""
import json
import os
import time

PIDFILE, STATUS, LOG, PROG = {pidfile!r}, {status!r}, {log!r}, {prog!r}
FINAL = {py(final)}


def daemon_pid():
    return int(open(PIDFILE).read().strip())


def test_daemon_running_from_pidfile():
    pid = daemon_pid()
    os.kill(pid, 0)
    cmdline = open(f"/proc/{{pid}}/cmdline", "rb").read().split(b"\\0")
    assert PROG.encode() in cmdline
    assert "python" in open(f"/proc/{{pid}}/comm").read()


def test_own_session():
    pid = daemon_pid()
    assert os.getsid(pid) == pid


def test_stdin_devnull():
    pid = daemon_pid()
    assert os.path.realpath(f"/proc/{{pid}}/fd/0") == "/dev/null"


def test_reloaded_in_place():
    pid = daemon_pid()
    for _ in range(100):
        st = json.load(open(STATUS))
        if st["reloads"] >= 1 and st["config"] == FINAL:
            break
        time.sleep(0.1)
    assert st["pid"] == pid
    assert st["reloads"] >= 1
    assert st["config"] == FINAL


def test_log_started_once():
    text = open(LOG).read()
    assert text.count("started pid=") == 1
    assert f"started pid={{daemon_pid()}}" in text
    assert "reloaded configuration" in text
"""
    files = {prog: DAEMON_PY.format(name=name, conf=conf, status=status, sig=sig),
             conf: conf_text, doc: readme, pidfile: f"{rng.randint(30000, 60000)}\n"}
    return Step(instruction, solution, tests, files=files,
                params={"name": name, "signal": sig, "key": key, "new": new})


# --------------------------------------------------------------------------------------------
# processes.parallel-xargs
# --------------------------------------------------------------------------------------------

TOOL_PY = '''#!/usr/bin/env python3
"""{tool} ITEM: score one item (slow: about {delay} s). Prints "ITEM<TAB>SCORE" on success;
exits {code} with a message on stderr when the item is rejected."""
import fcntl
import hashlib
import json
import os
import sys
import time

STATE = "{state}"


def update(delta):
    os.makedirs(os.path.dirname(STATE), exist_ok=True)
    with open(STATE + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            st = json.load(open(STATE))
        except (OSError, ValueError):
            st = {{"running": 0, "max_running": 0, "calls": 0}}
        st["running"] += delta
        st["max_running"] = max(st["max_running"], st["running"])
        st["calls"] += delta > 0
        with open(STATE + ".tmp", "w") as f:
            json.dump(st, f)
        os.replace(STATE + ".tmp", STATE)


if len(sys.argv) != 2:
    sys.exit("usage: {tool} ITEM")
item = sys.argv[1]
update(+1)
try:
    time.sleep({delay})
finally:
    update(-1)
score = int(hashlib.sha256(item.encode()).hexdigest(), 16) % {mod}
if score % {reject} == 0:
    print(f"{tool}: rejected {{item!r}}", file=sys.stderr)
    sys.exit({code})
print(f"{{item}}\\t{{score}}")
'''


def _score(item: str, mod: int) -> int:
    return int(hashlib.sha256(item.encode()).hexdigest(), 16) % mod


@family("processes.parallel-xargs", category="processes",
        skills=("processes.scheduling", "bash.pipeline"), difficulty="medium",
        consumes="lines", produces="lines")
def parallel_xargs(rng: random.Random, inp: Artifact | None) -> Step:
    tool = pick(rng, ("score-item", "rank-host", "check-entry", "grade"))
    tool_path = f"/usr/local/bin/{tool}"
    state = f"/var/lib/{tool}/state.json"
    mod, reject, code = pick(rng, (997, 1000, 4096)), pick(rng, (5, 6, 7)), pick(rng, (2, 3, 4))
    delay = pick(rng, (0.4, 0.5, 0.6))
    jobs = rng.randint(3, 6)
    files = {}
    if inp is None:
        src = f"/app/{pick(rng, ('items', 'queue', 'hosts', 'targets'))}.txt"
        items = []
        while len(items) < jobs * 3 or not any(_score(i, mod) % reject == 0 for i in items):
            it = f"{word(rng)}-{rng.randint(1, 999)}"
            if rng.random() < 0.15:
                it = f"{word(rng)} {word(rng)}"
            if rng.random() < 0.05:
                it = f"{pick(rng, ('café', 'naïve', 'über'))}-{rng.randint(1, 99)}"
            items.append(it)
        if rng.random() < 0.5:
            items.append(items[0])  # a duplicate: processed twice, listed twice
        lines = items[:]
        if rng.random() < 0.5:
            lines.insert(rng.randrange(len(lines)), "")
        files[src] = lines_text(lines)
    else:
        src = inp.path
        items = [str(x) for x in inp.value]
    items = [i for i in items if i != ""]
    ok = sorted((f"{i}\t{_score(i, mod)}" for i in items if _score(i, mod) % reject != 0),
                key=lambda s: s.encode())
    bad = sorted((i for i in items if _score(i, mod) % reject == 0), key=lambda s: s.encode())
    out = f"/app/{pick(rng, ('results', 'scores', 'ranked'))}.tsv"
    failed = f"/app/{pick(rng, ('failed', 'rejected', 'errors'))}.txt"
    instruction = phrasing(
        rng,
        "Run `{tool} ITEM` once for every non-empty line of `{src}` (each whole line is one item; "
        "items may contain spaces). Each call takes a while, so run them in parallel with at most "
        "{jobs} calls at the same time (more would overload the backend). Save the standard output "
        "of the successful calls to `{out}` sorted in byte order (`LC_ALL=C sort`), and the items "
        "for which `{tool}` exited with a non-zero status to `{failed}`, one per line, also "
        "sorted. Duplicate lines are separate items.",
        "`{src}` holds one item per line (skip empty lines; keep spaces inside items). Process "
        "every item with `{tool}` — it prints `ITEM<TAB>SCORE` on success and exits non-zero when "
        "it rejects an item — using up to {jobs} parallel processes, never more, and each item "
        "exactly once. Write all success lines to `{out}` (LC_ALL=C sorted) and the rejected "
        "items to `{failed}` (one per line, LC_ALL=C sorted).",
        "Score the items in `{src}` with `{tool}` (one call per non-empty line, the line is the "
        "argument) in parallel, {jobs} concurrent calls at most — e.g. with `xargs -P`. Results: "
        "`{out}` gets the tool's output lines for all accepted items, sorted with `LC_ALL=C "
        "sort`; `{failed}` gets the items whose call failed, sorted the same way. An item that "
        "appears twice is processed twice.",
        tool=tool, src=src, jobs=jobs, out=out, failed=failed,
    )
    solution = f""": > {failed}.unsorted
grep -v '^$' {sh_quote(src)} | xargs -d '\\n' -n 1 -P {jobs} sh -c '
  {tool} "$1" || printf "%s\\n" "$1" >> {failed}.unsorted' _ | LC_ALL=C sort > {out}
LC_ALL=C sort {failed}.unsorted > {failed}
rm -f {failed}.unsorted
"""
    tests = f"""
import json

OK = {py(ok)}
BAD = {py(bad)}
N_ITEMS = {len(items)}
JOBS = {jobs}


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [ln.rstrip("\\n") for ln in f if ln.strip()]


def test_results():
    assert read_lines({out!r}) == OK


def test_failed_items():
    assert read_lines({failed!r}) == BAD


def test_each_item_once_and_parallel():
    st = json.load(open({state!r}))
    assert st["calls"] == N_ITEMS
    assert st["running"] == 0
    assert st["max_running"] <= JOBS, "more concurrent calls than allowed"
    assert st["max_running"] >= min(2, N_ITEMS), "the calls did not run in parallel"
"""
    files[tool_path] = TOOL_PY.format(tool=tool, delay=delay, state=state, mod=mod, reject=reject,
                                      code=code)
    return Step(instruction, solution, tests, files=files, executable=(tool_path,),
                output=Artifact(out, "lines", ok),
                params={"tool": tool, "jobs": jobs, "n_items": len(items), "n_failed": len(bad)})


# --------------------------------------------------------------------------------------------
# processes.retry-timeout
# --------------------------------------------------------------------------------------------

FLAKY_PY = '''#!/usr/bin/env python3
"""Test double for an unreliable command. Each call takes the next step of the plan file
{plan} (one per line: "ok", "fail:CODE" or "hang") and appends it to {calls}."""
import sys
import time

with open("{plan}") as f:
    steps = [s.strip() for s in f if s.strip()]
with open("{calls}", "a+") as f:
    f.seek(0)
    n = len(f.read().splitlines())
    step = steps[min(n, len(steps) - 1)]
    f.write(step + "\\n")
if step == "hang":
    time.sleep(300)
elif step.startswith("fail:"):
    print("transient failure", file=sys.stderr)
    sys.exit(int(step[5:]))
print("synced " + " ".join(sys.argv[1:]))
'''


@family("processes.retry-timeout", category="processes",
        skills=("processes.scheduling", "bash.script"), difficulty="medium")
def retry_timeout(rng: random.Random, inp: Artifact | None) -> Step:
    script = f"/app/bin/{pick(rng, ('retry', 'with-retry', 'persist', 'try-hard'))}"
    default_n = rng.randint(3, 5)
    default_t = pick(rng, (5, 10, 20, 30))
    log_word = pick(rng, ("attempt", "try", "run"))
    flaky = f"/opt/{ident(rng, 1)}/flaky"
    plan, calls = "/tmp/flaky.plan", "/tmp/flaky.calls"
    fail_code = rng.randint(3, 9)
    instruction = phrasing(
        rng,
        "Write an executable bash script `{script}` with usage `{script} [-n ATTEMPTS] "
        "[-t SECONDS] -- COMMAND [ARGS...]`. It runs COMMAND; if COMMAND exits non-zero or runs "
        "longer than SECONDS (then it must be killed), it tries again, up to ATTEMPTS attempts in "
        "total (defaults: {n} attempts, {t} seconds). COMMAND's stdout passes through unchanged. "
        "For each failed attempt print `{w} I/N failed: exit CODE` or `{w} I/N failed: timeout` to "
        "stderr. Exit 0 as soon as an attempt succeeds; after the last failed attempt exit with "
        "that attempt's exit code, or 124 if it timed out. With no COMMAND, print a usage "
        "message to stderr and exit 2. (`{flaky}` is an unreliable command you can test with.)",
        "Our sync job is flaky: sometimes it fails, sometimes it hangs. Create `{script}` (bash, "
        "executable): `{script} [-n ATTEMPTS] [-t SECONDS] -- COMMAND [ARGS...]` runs the command "
        "with a time limit of SECONDS per attempt (default {t}; a command that overruns is "
        "killed and counts as failed with status 124) and retries failures until ATTEMPTS "
        "attempts have been made (default {n}). Success ends it with status 0; otherwise the "
        "status is that of the last attempt. Log each failed attempt to stderr as `{w} I/N "
        "failed: exit CODE` (or `...: timeout`). The command's own stdout must appear on the "
        "script's stdout. Missing command: usage on stderr, status 2. Try it with `{flaky}`.",
        "Implement a retry wrapper `{script}`: options `-n ATTEMPTS` (default {n}) and "
        "`-t SECONDS` (default {t}), then `--` and the command to run. Each attempt is limited to "
        "SECONDS seconds (kill it when it overruns; that attempt's status is 124). Stop at the "
        "first success (exit 0). If every attempt fails, exit with the last attempt's status. "
        "Report failures on stderr, one line per failed attempt: `{w} I/N failed: exit CODE` or "
        "`{w} I/N failed: timeout`, where I is the attempt number and N the maximum. Pass the "
        "command's stdout through. No command given: usage to stderr, exit 2. `{flaky}` is "
        "provided for testing.",
        script=script, n=default_n, t=default_t, w=log_word, flaky=flaky,
    )
    solution = f"""mkdir -p /app/bin
cat > {script} <<'EOF'
#!/bin/bash
attempts={default_n}
limit={default_t}
usage() {{ echo "usage: $0 [-n ATTEMPTS] [-t SECONDS] -- COMMAND [ARGS...]" >&2; exit 2; }}
while getopts 'n:t:' opt; do
  case $opt in
    n) attempts=$OPTARG ;;
    t) limit=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || usage
status=1
for ((i = 1; i <= attempts; i++)); do
  timeout -s KILL "$limit" "$@"
  status=$?
  [ $status -eq 0 ] && exit 0
  if [ $status -eq 137 ] || [ $status -eq 124 ]; then
    status=124
    echo "{log_word} $i/$attempts failed: timeout" >&2
  else
    echo "{log_word} $i/$attempts failed: exit $status" >&2
  fi
done
exit $status
EOF
chmod +x {script}
"""
    tests = f"""
import os
import subprocess
import time

import pytest

SCRIPT, FLAKY, PLAN, CALLS = {script!r}, {flaky!r}, {plan!r}, {calls!r}
W, N, CODE = {log_word!r}, {default_n}, {fail_code}


def run(plan, *opts, timeout=60):
    with open(PLAN, "w") as f:
        f.write("\\n".join(plan) + "\\n")
    if os.path.exists(CALLS):
        os.remove(CALLS)
    t0 = time.monotonic()
    r = subprocess.run([SCRIPT, *opts, "--", FLAKY, "db", "eu-1"], capture_output=True,
                       text=True, timeout=timeout)
    calls = open(CALLS).read().split() if os.path.exists(CALLS) else []
    return r, calls, time.monotonic() - t0


def failures(r):
    return [ln for ln in r.stderr.splitlines() if ln.startswith(W + " ")]


def no_flaky_left():
    out = subprocess.run(["pgrep", "-f", FLAKY], capture_output=True, text=True).stdout.split()
    return not out


def test_first_try_success():
    r, calls, _ = run(["ok"])
    assert r.returncode == 0
    assert calls == ["ok"]
    assert r.stdout.strip() == "synced db eu-1"
    assert failures(r) == []


def test_retries_until_success():
    r, calls, _ = run([f"fail:{{CODE}}", "fail:1", "ok"], "-n", "3")
    assert r.returncode == 0
    assert len(calls) == 3
    assert failures(r) == [f"{{W}} 1/3 failed: exit {{CODE}}", f"{{W}} 2/3 failed: exit 1"]
    assert "synced db eu-1" in r.stdout


def test_gives_up_with_last_status():
    r, calls, _ = run([f"fail:{{CODE}}"])
    assert r.returncode == CODE
    assert len(calls) == N
    assert failures(r) == [f"{{W}} {{i}}/{{N}} failed: exit {{CODE}}" for i in range(1, N + 1)]


def test_hang_is_killed_and_retried():
    r, calls, took = run(["hang", "ok"], "-t", "1", "-n", "2")
    assert r.returncode == 0
    assert calls == ["hang", "ok"]
    assert failures(r) == [f"{{W}} 1/2 failed: timeout"]
    assert took < 20
    for _ in range(50):
        if no_flaky_left():
            break
        time.sleep(0.1)
    assert no_flaky_left(), "the hung attempt was left running"


def test_all_attempts_time_out():
    r, calls, took = run(["hang"], "-t", "1", "-n", "2")
    assert r.returncode == 124
    assert len(calls) == 2
    assert failures(r) == [f"{{W}} 1/2 failed: timeout", f"{{W}} 2/2 failed: timeout"]
    assert took < 20


def test_usage():
    r = subprocess.run([SCRIPT], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    assert r.stderr.strip()
"""
    files = {flaky: FLAKY_PY.format(plan=plan, calls=calls), plan: "ok\n"}
    return Step(instruction, solution, tests, files=files, executable=(flaky,),
                params={"script": script, "default_n": default_n, "default_t": default_t,
                        "log_word": log_word})


# --------------------------------------------------------------------------------------------
# processes.trap-cleanup
# --------------------------------------------------------------------------------------------

@family("processes.trap-cleanup", category="processes",
        skills=("processes.signals", "bash.script"), difficulty="medium")
def trap_cleanup(rng: random.Random, inp: Artifact | None) -> Step:
    job = pick(rng, ("nightly-export", "reindex", "batch-mailer", "thumbnailer", "ledger-sync"))
    script = f"/app/bin/{job}"
    env = f"{job.upper().replace('-', '_')}_DELAY"
    lock = f"/tmp/{job}.lock"
    status = f"/app/{job}.status"
    out = f"/app/{job}.out"
    transform = pick(rng, ("upper", "number", "length"))
    desc = {"upper": "the line converted to upper case",
            "number": "`<N>: <line>` where N is the 1-based line number",
            "length": "`<line> <length>` where length is the number of characters of the line"}[transform]
    extra_hup = rng.random() < 0.4
    sigs = "SIGTERM, SIGINT or SIGHUP" if extra_hup else "SIGTERM or SIGINT"
    codes = "143, 130 or 129 respectively" if extra_hup else "143 or 130 respectively"
    instruction = phrasing(
        rng,
        "Write an executable bash script `{script}` that takes one argument, an input file, and "
        "processes it line by line: for each line it appends {desc} to a results file in its "
        "scratch directory `/tmp/{job}.<PID>` (PID = the script's own PID, `$$`), then waits "
        "`${env}` seconds (default 1) before the next line. Requirements:\n\n"
        "- On start it creates the lock file `{lock}` containing its PID. If the lock exists and "
        "names a running process, print an error to stderr and exit 75 without touching "
        "anything; a lock left by a dead process is taken over.\n"
        "- On success it moves the results to `{out}`, writes `completed N` (N = lines processed) "
        "to `{status}` and exits 0.\n"
        "- On {sigs} — even in the middle of a long wait, it must react within 2 seconds — it "
        "moves the partial results to `{out}.partial`, writes `interrupted K/N` (K lines done of "
        "N) to `{status}` and exits with {codes}.\n"
        "- In every case (except when another instance holds the lock) it removes the lock file "
        "and its scratch directory before exiting.\n"
        "- With no argument or an unreadable file: message on stderr, exit 2.",
        "Create `{script}` (bash), a well-behaved batch job. `{script} FILE` reads FILE and, for "
        "each line, appends {desc} to `/tmp/{job}.$$/results` (its private scratch directory), "
        "sleeping `${env}` seconds (default 1) after each line. It must:\n\n"
        "1. hold the lock `{lock}` (file content: its PID) while running; if the lock belongs to "
        "a live process, exit 75 with an error on stderr and change nothing; a stale lock (dead "
        "PID) is replaced;\n"
        "2. when done, move the results to `{out}`, write `completed N` to `{status}` and exit "
        "0;\n"
        "3. trap {sigs}: within 2 seconds of the signal (also during a long sleep) save the "
        "partial results as `{out}.partial`, write `interrupted K/N` to `{status}`, clean up "
        "and exit with {codes};\n"
        "4. always remove the lock and the scratch directory on exit;\n"
        "5. exit 2 with a usage message when FILE is missing or unreadable.",
        script=script, desc=desc, job=job, env=env, lock=lock, out=out, status=status,
        sigs=sigs, codes=codes,
    )
    expr = {"upper": '"${line^^}"', "number": '"$count: $line"', "length": '"$line ${#line}"'}[transform]
    hup = "\ntrap 'finish_interrupted 129' HUP" if extra_hup else ""
    solution = f"""mkdir -p /app/bin
cat > {script} <<'EOF'
#!/bin/bash
input=$1
if [ -z "$input" ] || [ ! -r "$input" ]; then
  echo "usage: $0 FILE (readable)" >&2
  exit 2
fi
lock={lock}
if [ -e "$lock" ]; then
  other=$(cat "$lock" 2>/dev/null)
  if [ -n "$other" ] && kill -0 "$other" 2>/dev/null; then
    echo "$0: already running as pid $other" >&2
    exit 75
  fi
fi
echo $$ > "$lock"
scratch=/tmp/{job}.$$
mkdir -p "$scratch"
: > "$scratch/results"
total=$(grep -c '' "$input")
count=0
sleeper=
cleanup() {{ [ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null; rm -rf "$scratch"; rm -f "$lock"; }}
finish_interrupted() {{
  mv "$scratch/results" {out}.partial
  echo "interrupted $count/$total" > {status}
  cleanup
  exit "$1"
}}
trap 'finish_interrupted 143' TERM
trap 'finish_interrupted 130' INT{hup}
while IFS= read -r line || [ -n "$line" ]; do
  count=$((count + 1))
  printf '%s\\n' {expr} >> "$scratch/results"
  sleep "${{{env}:-1}}" &
  sleeper=$!
  wait "$sleeper"
  sleeper=
done < "$input"
mv "$scratch/results" {out}
echo "completed $count" > {status}
cleanup
exit 0
EOF
chmod +x {script}
"""
    items = words(rng, rng.randint(4, 7))
    if transform == "upper":
        expected = [w.upper() for w in items]
    elif transform == "number":
        expected = [f"{i}: {w}" for i, w in enumerate(items, 1)]
    else:
        expected = [f"{w} {len(w)}" for w in items]
    tests = f"""
import glob
import os
import signal
import subprocess
import time

import pytest

SCRIPT, LOCK, STATUS, OUT, ENV = {script!r}, {lock!r}, {status!r}, {out!r}, {env!r}
ITEMS = {py(items)}
EXPECTED = {py(expected)}


@pytest.fixture(autouse=True)
def clean(tmp_path):
    for p in (LOCK, STATUS, OUT, OUT + ".partial"):
        if os.path.exists(p):
            os.remove(p)
    src = tmp_path / "input.txt"
    src.write_text("\\n".join(ITEMS) + "\\n")
    yield str(src)


def start(src, delay):
    env = dict(os.environ, **{{ENV: str(delay)}})
    return subprocess.Popen([SCRIPT, src], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def test_runs_to_completion(clean):
    p = start(clean, 0)
    assert p.wait(timeout=30) == 0
    assert open(OUT).read().splitlines() == EXPECTED
    assert open(STATUS).read().strip() == f"completed {{len(ITEMS)}}"
    assert not os.path.exists(LOCK)
    assert not os.path.exists(f"/tmp/{job}.{{p.pid}}")


def interrupt(src, sig):
    p = start(src, 60)
    results = f"/tmp/{job}.{{p.pid}}/results"
    for _ in range(200):
        if os.path.exists(results) and open(results).read().count("\\n") >= 1:
            break
        time.sleep(0.05)
    else:
        p.kill()
        raise AssertionError("the script did not produce its first result")
    assert open(LOCK).read().strip() == str(p.pid)
    time.sleep(0.5)
    p.send_signal(sig)
    try:
        code = p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        raise AssertionError("the script did not react to the signal within 5 seconds")
    assert open(OUT + ".partial").read().splitlines() == EXPECTED[:1]
    assert open(STATUS).read().strip() == f"interrupted 1/{{len(ITEMS)}}"
    assert not os.path.exists(LOCK)
    assert not os.path.exists(f"/tmp/{job}.{{p.pid}}")
    assert not os.path.exists(OUT)
    return code


def test_sigterm(clean):
    assert interrupt(clean, signal.SIGTERM) == 143


def test_sigint(clean):
    assert interrupt(clean, signal.SIGINT) == 130
{'''

def test_sighup(clean):
    assert interrupt(clean, signal.SIGHUP) == 129
''' if extra_hup else ''}

def test_lock_held_by_live_process(clean):
    holder = subprocess.Popen(["sleep", "60"])
    try:
        with open(LOCK, "w") as f:
            f.write(f"{{holder.pid}}\\n")
        p = subprocess.run([SCRIPT, clean], capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, **{{ENV: "0"}}))
        assert p.returncode == 75
        assert p.stderr.strip()
        assert open(LOCK).read().strip() == str(holder.pid)
        assert not os.path.exists(OUT)
    finally:
        holder.kill()
        holder.wait()
        os.remove(LOCK)


def test_stale_lock_is_taken_over(clean):
    dead = subprocess.Popen(["true"])
    dead.wait()
    with open(LOCK, "w") as f:
        f.write(f"{{dead.pid}}\\n")
    p = start(clean, 0)
    assert p.wait(timeout=30) == 0
    assert open(OUT).read().splitlines() == EXPECTED
    assert not os.path.exists(LOCK)


def test_usage():
    r = subprocess.run([SCRIPT], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    r = subprocess.run([SCRIPT, "/nonexistent/input"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
"""
    return Step(instruction, solution, tests,
                params={"job": job, "transform": transform, "hup": extra_hup, "n": len(items)})


# --------------------------------------------------------------------------------------------
# processes.proc-inspect
# --------------------------------------------------------------------------------------------

TARGET_PY = r'''
import os, subprocess, sys, threading, time
name, nthreads, nchildren, ready = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
with open("/proc/self/comm", "w") as f:
    f.write(name)
for _ in range(nthreads - 1):
    threading.Thread(target=time.sleep, args=(600,), daemon=True).start()
kids = [subprocess.Popen(["sleep", "600"]) for _ in range(nchildren)]
with open(ready, "w") as f:
    f.write("ready")
time.sleep(600)
'''

FIELD_DOC = {
    "name": "the process name (as in `/proc/PID/comm`)",
    "ppid": "the parent PID",
    "user": "the user name owning the process (real UID)",
    "cwd": "its current working directory (absolute path)",
    "threads": "its number of threads",
    "children": "its number of direct child processes",
    "env": "the value of the environment variable `{var}` in the process's environment (empty "
           "if unset)",
}


@family("processes.proc-inspect", category="processes", skills=("processes.inspect",),
        difficulty="medium")
def proc_inspect(rng: random.Random, inp: Artifact | None) -> Step:
    script = f"/app/bin/{pick(rng, ('pinfo', 'procinfo', 'pstat', 'whatis-pid'))}"
    var = pick(rng, ("DEPLOY_ENV", "APP_ROLE", "SHARD_ID", "TENANT", "REGION"))
    # /proc/PID/environ and cwd of another user's process need CAP_SYS_PTRACE, which the
    # sandbox drops: draws that ask for the owner run the helpers as other users and leave those
    # two fields out; the others run them as root.
    with_user = rng.random() < 0.4
    pool = (["name", "ppid", "user", "threads", "children"] if with_user
            else ["name", "ppid", "cwd", "threads", "children", "env"])
    fields = rng.sample(pool, rng.randint(4, len(pool)))
    key_of = {f: (var if f == "env" else f) for f in fields}
    fmt = pick(rng, ("kv", "json"))
    users = rng.sample(FIRST_NAMES, 2)
    dirs = [f"/srv/{word(rng)}-{i}" for i in range(2)]
    docs = "\n".join(f"- `{key_of[f]}`: {FIELD_DOC[f].format(var=var)}" for f in fields)
    if fmt == "kv":
        out_desc = ("one `KEY=VALUE` line per field, in exactly this order, with these keys:")
    else:
        out_desc = ("a single JSON object with exactly these keys (numbers as JSON integers, the "
                    "rest as strings):")
    instruction = phrasing(
        rng,
        "Write an executable script `{script}` that takes a PID and prints facts about that "
        "process read from `/proc`, as {out}\n\n{docs}\n\nIf no process has that PID, print an "
        "error to stderr, nothing to stdout, and exit 1.",
        "We want a quick process inspector. Create `{script} PID` (any language available here; "
        "make it executable). For the given PID it prints {out}\n\n{docs}\n\nFor a PID that does "
        "not exist: exit status 1, no output on stdout, a message on stderr.",
        "Implement `{script}`: given a PID as its only argument, it reports on that process using "
        "the information in `/proc/PID/` and prints {out}\n\n{docs}\n\nExit 1 with an error "
        "message on stderr (and nothing on stdout) when the process does not exist.",
        script=script, out=out_desc, docs=docs,
    )
    py_fields = {
        "name": "open(f'{d}/comm').read().strip()",
        "ppid": "int(status['PPid'])",
        "user": "pwd.getpwuid(int(status['Uid'].split()[0])).pw_name",
        "cwd": "os.readlink(f'{d}/cwd')",
        "threads": "int(status['Threads'])",
        "children": "sum(1 for p in os.listdir('/proc') if p.isdigit() and ppid_of(p) == pid)",
        "env": f"environ.get({var!r}, '')",
    }
    body = "\n".join(f"out[{key_of[f]!r}] = {py_fields[f]}" for f in fields)
    environ = ("    environ = dict(e.split('=', 1) for e in open(f'{d}/environ', 'rb').read()"
               ".decode(errors='replace').split('\\0') if '=' in e)\n" if "env" in fields else "")
    printer = ("print(json.dumps(out))" if fmt == "json"
               else "for k, v in out.items():\n    print(f'{k}={v}')")
    solution = f"""mkdir -p /app/bin
cat > {script} <<'EOF'
#!/usr/bin/env python3
import json, os, pwd, sys

def ppid_of(p):
    try:
        with open(f'/proc/{{p}}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[1]
    except OSError:
        return None

if len(sys.argv) != 2 or not sys.argv[1].isdigit():
    sys.exit('usage: {script} PID')
pid = sys.argv[1]
d = f'/proc/{{pid}}'
try:
    status = dict(line.split(':', 1) for line in open(f'{{d}}/status').read().splitlines())
    status = {{k: v.strip() for k, v in status.items()}}
{environ}    out = {{}}
{chr(10).join('    ' + ln for ln in body.splitlines())}
except (FileNotFoundError, ProcessLookupError):
    print(f'no such process: {{pid}}', file=sys.stderr)
    sys.exit(1)
{printer}
EOF
chmod +x {script}
"""
    cases = []
    for i in range(2):
        cases.append({
            "name": f"{pick(rng, ('ingest', 'render', 'billing', 'crawler', 'janitor'))}-{i}{rng.randint(1, 9)}",
            "threads": rng.randint(1, 5),
            "children": rng.randint(0, 3),
            "user": users[i] if with_user else "root",
            "cwd": dirs[i],
            "env": f"{word(rng)}-{rng.randint(1, 99)}",
        })
    run = [f"useradd -M {u}" for u in users] + [f"mkdir -p {' '.join(dirs)}"]
    tests = f"""
import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

SCRIPT, VAR, FMT = {script!r}, {var!r}, {fmt!r}
FIELDS = {py([key_of[f] for f in fields])}
KIND = {py(key_of)}
CASES = {py(cases)}
TARGET = {TARGET_PY!r}


@pytest.fixture(params=[0, 1])
def target(request):
    case = CASES[request.param]
    work = Path(tempfile.mkdtemp(dir="/tmp"))
    os.chmod(work, 0o777)
    prog = work / "target.py"
    prog.write_text(TARGET)
    ready = work / "ready"
    env = {{"PATH": "/usr/bin:/bin", VAR: case["env"]}}
    p = subprocess.Popen(["python3", str(prog), case["name"], str(case["threads"]),
                          str(case["children"]), str(ready)], cwd=case["cwd"], env=env,
                         user=case["user"], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if ready.exists():
            break
        time.sleep(0.05)
    else:
        p.kill()
        raise AssertionError("helper process did not start")
    yield p, case
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()


def expected(p, case):
    values = {{"name": case["name"], "ppid": os.getpid(), "user": case["user"], "cwd": case["cwd"],
               "threads": case["threads"], "children": case["children"], "env": case["env"]}}
    return {{key: values[kind] for kind, key in KIND.items()}}


def parse(stdout):
    if FMT == "json":
        return json.loads(stdout)
    pairs = [ln.split("=", 1) for ln in stdout.splitlines() if ln.strip()]
    assert [k for k, _ in pairs] == FIELDS, "keys missing or out of order"
    return dict(pairs)


def test_reports_process(target):
    p, case = target
    r = subprocess.run([SCRIPT, str(p.pid)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    got = parse(r.stdout)
    want = expected(p, case)
    if FMT == "kv":
        want = {{k: str(v) for k, v in want.items()}}
    assert got == want


def test_missing_pid():
    dead = subprocess.Popen(["true"])
    dead.wait()
    r = subprocess.run([SCRIPT, str(dead.pid)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.strip()
"""
    return Step(instruction, solution, tests, run=_one(run),
                params={"script": script, "fields": fields, "format": fmt, "var": var,
                        "with_user": with_user})
