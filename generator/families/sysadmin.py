"""Sysadmin families: log summaries (nginx, syslog, JSON lines), config edits, cron, cleanup, rotation.

Log contents are drawn here with timestamps from a fixed drawn date (never the clock), so every
expected summary is computed in Python at generation time. Where file ages matter, they are set
at build time to absolute dates and the instruction names an absolute cutoff, so an image built
long before the test still gives the same answer.
"""

from __future__ import annotations

import configparser
import gzip
import io
import json
import math
import random
from collections import Counter, defaultdict
from datetime import datetime, timedelta

from termforge.generator.draw import (FIRST_NAMES, UNICODE_WORDS, csv_text, ident, json_text, lines_text,
                                      phrasing, pick, py, sh_quote, word, words)
from termforge.generator.registry import family
from termforge.generator.spec import Artifact, Step

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _base_time(rng: random.Random) -> datetime:
    return datetime(rng.choice((2023, 2024, 2025)), rng.randint(1, 12), rng.randint(1, 27),
                    rng.randint(0, 20), rng.randint(0, 59), rng.randint(0, 59))


def _ip(rng: random.Random, pool: list[str] | None = None) -> str:
    if pool and rng.random() < 0.7:
        return pick(rng, pool)
    return f"{pick(rng, ('10.0', '192.168', '172.16', '203.0'))}.{rng.randint(0, 254)}.{rng.randint(1, 254)}"


def _gz(text: str) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as f:
        f.write(text.encode())
    return buf.getvalue()


def _one_run(cmds: list[str]) -> list[str]:
    return [" && \\\n    ".join(cmds)] if cmds else []


# --------------------------------------------------------------------------------------------
# sysadmin.nginx-report
# --------------------------------------------------------------------------------------------

_PATHS = ("/", "/index.html", "/login", "/logout", "/api/v1/users", "/api/v1/orders", "/api/v1/items",
          "/static/app.js", "/static/site.css", "/favicon.ico", "/search", "/health", "/admin",
          "/images/logo.png", "/docs/guide", "/cart", "/checkout")
_UAS = ('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
        'curl/8.4.0', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) Gecko/20100101 Firefox/121.0',
        'python-requests/2.31.0', 'Go-http-client/1.1', 'Wget/1.21.4', 'kube-probe/1.28')


def _nginx_entries(rng: random.Random, start: datetime, n: int, ips: list[str]) -> list[dict]:
    t = start
    out = []
    paths = rng.sample(_PATHS, rng.randint(6, 10))
    for _ in range(n):
        t += timedelta(seconds=rng.randint(1, 90))
        path = pick(rng, paths)
        if path == "/search" or rng.random() < 0.08:
            path += f"?q={word(rng)}&page={rng.randint(1, 5)}"
        status = rng.choices((200, 201, 204, 301, 304, 400, 401, 403, 404, 500, 502, 503),
                             (40, 4, 3, 3, 6, 2, 3, 2, 8, 3, 1, 1))[0]
        method = "POST" if path.startswith(("/login", "/api/v1/orders", "/checkout")) and rng.random() < 0.6 else "GET"
        size = 0 if status in (204, 304) else rng.randint(120, 60000)
        e = {"ip": _ip(rng, ips), "user": pick(rng, FIRST_NAMES) if rng.random() < 0.1 else "-", "t": t,
             "method": method, "target": path, "status": status, "bytes": size, "ua": pick(rng, _UAS),
             "ref": "-" if rng.random() < 0.7 else f"https://{word(rng)}.example/{word(rng)}"}
        if rng.random() < 0.03:   # a garbage request line nginx logs as "-"
            e.update(method=None, target=None, status=400, bytes=0)
        if rng.random() < 0.04:
            e["bytes_field"] = "-"
        out.append(e)
    return out


def _nginx_line(e: dict) -> str:
    t = e["t"]
    ts = f"{t.day:02d}/{MONTHS[t.month - 1]}/{t.year}:{t.hour:02d}:{t.minute:02d}:{t.second:02d} +0000"
    req = "-" if e["method"] is None else f"{e['method']} {e['target']} HTTP/1.1"
    size = e.get("bytes_field", str(e["bytes"]))
    return f'{e["ip"]} - {e["user"]} [{ts}] "{req}" {e["status"]} {size} "{e["ref"]}" "{e["ua"]}"'


_NGINX_PARSER = r'''import csv, gzip, re, sys
from datetime import datetime
LINE = re.compile(r'^(\S+) \S+ \S+ \[([^\]]+)\] "([^"]*)" (\d{3}) (\S+)')


def entries(paths):
    for p in paths:
        opener = gzip.open if p.endswith(".gz") else open
        with opener(p, "rt") as f:
            for line in f:
                m = LINE.match(line)
                if not m:
                    continue
                ip, ts, req, status, size = m.groups()
                t = datetime.strptime(ts.split()[0], "%d/%b/%Y:%H:%M:%S")
                parts = req.split()
                target = parts[1] if len(parts) == 3 else None
                yield ip, t, target, int(status), 0 if size == "-" else int(size)
'''


@family("sysadmin.nginx-report", category="sysadmin", skills=("sysadmin.logs", "data.csv"),
        difficulty="medium", produces="csv")
def nginx_report(rng: random.Random, inp) -> Step:
    logdir = pick(rng, ("/var/log/nginx", f"/var/log/{ident(rng, 1)}-proxy", "/srv/logs/nginx"))
    ips = [_ip(rng) for _ in range(rng.randint(4, 8))]
    start = _base_time(rng)
    rotated = rng.random() < 0.5
    chunks = [_nginx_entries(rng, start, rng.randint(120, 260), ips)]
    if rotated:
        chunks.insert(0, _nginx_entries(rng, start - timedelta(hours=rng.randint(8, 12)), rng.randint(60, 150), ips))
        chunks.insert(0, _nginx_entries(rng, start - timedelta(hours=rng.randint(20, 30)), rng.randint(60, 150), ips))
    names = ["access.log"] if not rotated else ["access.log.2.gz", "access.log.1", "access.log"]
    files: dict[str, str | bytes] = {}
    for name, chunk in zip(names, chunks):
        text = lines_text(_nginx_line(e) for e in chunk)
        files[f"{logdir}/{name}"] = _gz(text) if name.endswith(".gz") else text
    files[f"{logdir}/error.log"] = lines_text(
        f"{start:%Y/%m/%d %H:%M:%S} [error] {rng.randint(10, 99)}#0: *{rng.randint(1, 999)} connect() failed"
        for _ in range(rng.randint(1, 4)))
    entries = [e for c in chunks for e in c]
    scope = (f"all access logs in `{logdir}` (`access.log` and its rotated files `access.log.1` and "
             f"`access.log.2.gz`)" if rotated else f"`{logdir}/access.log`")
    out = pick(rng, ("/app/report.csv", f"/app/{ident(rng, 1)}-summary.csv", "/root/nginx-report.csv"))
    variant = pick(rng, ("status", "paths", "errors"))
    note = ("Lines have the nginx `combined` format; a request line of `\"-\"` means the request could not be "
            "parsed, and a size of `-` counts as 0 bytes.")
    if variant == "status":
        lo = pick(rng, entries[len(entries) // 5: len(entries) // 2])["t"].replace(second=0)
        hi = lo + timedelta(minutes=rng.choice((30, 45, 60, 90, 120)))
        sel = [e for e in entries if lo <= e["t"] < hi]
        counts = Counter(e["status"] for e in sel)
        header = ["status", "count"]
        rows = [[str(s), str(counts[s])] for s in sorted(counts)]
        task = (f"count the requests per HTTP status code whose timestamp lies in the window from "
                f"{lo:%Y-%m-%d %H:%M:%S} (inclusive) to {hi:%Y-%m-%d %H:%M:%S} (exclusive), UTC. Write `{out}` "
                f"with the header `status,count` and one row per status code that occurs in the window, sorted "
                f"by status code")
        code = (f"lo, hi = datetime({lo.year}, {lo.month}, {lo.day}, {lo.hour}, {lo.minute}), "
                f"datetime({hi.year}, {hi.month}, {hi.day}, {hi.hour}, {hi.minute})\n"
                "from collections import Counter\n"
                "c = Counter(s for ip, t, target, s, b in entries(FILES) if lo <= t < hi)\n"
                "rows = [[s, c[s]] for s in sorted(c)]\n")
    elif variant == "paths":
        k = rng.randint(3, 6)
        agg: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for e in entries:
            if e["target"] and 200 <= e["status"] < 300:
                p = e["target"].split("?")[0]
                agg[p][0] += 1
                agg[p][1] += e["bytes"] if "bytes_field" not in e else 0
        ranked = sorted(agg.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))[:k]
        header = ["path", "requests", "bytes"]
        rows = [[p, str(r), str(b)] for p, (r, b) in ranked]
        task = (f"consider only successful responses (status 200–299) and group them by path (the request "
                f"target without any `?query` part). Write the top {k} paths to `{out}` with the header "
                f"`path,requests,bytes` (number of requests, sum of response sizes), sorted by requests "
                f"descending, then bytes descending, then path ascending")
        code = ("agg = {}\n"
                "for ip, t, target, s, b in entries(FILES):\n"
                "    if target and 200 <= s < 300:\n"
                "        a = agg.setdefault(target.split('?')[0], [0, 0]); a[0] += 1; a[1] += b\n"
                f"rows = [[p, r, b] for p, (r, b) in sorted(agg.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))[:{k}]]\n")
    else:
        k = rng.randint(3, 5)
        agg2: dict[str, list] = {}
        for e in entries:
            if e["status"] >= 400:
                a = agg2.setdefault(e["ip"], [0, e["t"]])
                a[0] += 1
                a[1] = max(a[1], e["t"])
        ranked2 = sorted(agg2.items(), key=lambda kv: (-kv[1][0], kv[0]))[:k]
        header = ["ip", "errors", "last_error"]
        rows = [[ip, str(n), f"{t:%Y-%m-%dT%H:%M:%SZ}"] for ip, (n, t) in ranked2]
        task = (f"find the client IPs that caused the most error responses (status 400 or above). Write the top {k} "
                f"to `{out}` with the header `ip,errors,last_error`: the IP, its number of error responses, and the "
                f"time of its latest error as `YYYY-MM-DDTHH:MM:SSZ`; sort by errors descending, then IP ascending "
                f"(as text)")
        code = ("agg = {}\n"
                "for ip, t, target, s, b in entries(FILES):\n"
                "    if s >= 400:\n"
                "        a = agg.setdefault(ip, [0, t]); a[0] += 1; a[1] = max(a[1], t)\n"
                f"rows = [[ip, n, t.strftime('%Y-%m-%dT%H:%M:%SZ')] for ip, (n, t) in sorted(agg.items(), key=lambda kv: (-kv[1][0], kv[0]))[:{k}]]\n")
    instruction = phrasing(
        rng,
        "Summarise the web server's access log. Using {scope}, {task}. {note}",
        "From {scope}, {task}. {note} Use a plain comma-separated file without quoting unless a field needs it.",
        "Our proxy writes nginx access logs to `{logdir}`. Using {scope}, {task}. {note}",
        scope=scope, task=task, note=note, logdir=logdir,
    )
    file_list = [f"{logdir}/{n}" for n in names]
    solution = ("python3 - <<'PYEOF'\n" + _NGINX_PARSER + f"FILES = {file_list!r}\n" + code
                + f"with open({out!r}, 'w', newline='') as f:\n"
                  f"    w = csv.writer(f, lineterminator='\\n')\n    w.writerow({header!r})\n    w.writerows(rows)\n"
                + "PYEOF\n" + f"cat {sh_quote(out)}\n")
    tests = f"""
import csv
from pathlib import Path

OUT = {out!r}
HEADER = {py(header)}
ROWS = {py(rows)}


def test_report_exists():
    assert Path(OUT).is_file()


def test_header():
    rows = list(csv.reader(open(OUT, newline="")))
    assert [c.strip() for c in rows[0]] == HEADER


def test_rows():
    rows = [[c.strip() for c in r] for r in csv.reader(open(OUT, newline="")) if r]
    assert rows[1:] == ROWS
"""
    return Step(instruction, solution, tests, files=files,
                output=Artifact(out, "csv", {"header": header, "rows": rows}),
                params={"variant": variant, "logdir": logdir, "rotated": rotated, "out": out})


# --------------------------------------------------------------------------------------------
# sysadmin.latency-percentiles
# --------------------------------------------------------------------------------------------

def _nearest_rank(sorted_vals: list[int], p: int) -> int:
    return sorted_vals[max(1, math.ceil(p / 100 * len(sorted_vals))) - 1]


@family("sysadmin.latency-percentiles", category="sysadmin", skills=("sysadmin.logs", "data.json"),
        difficulty="hard", produces="json")
def latency_percentiles(rng: random.Random, inp) -> Step:
    app = ident(rng, 1)
    logdir = f"/var/log/{app}"
    routes = rng.sample(["/api/login", "/api/orders", "/api/orders/{id}", "/api/search", "/api/users/{id}",
                         "/api/cart", "/api/health", "/api/report", "/api/upload"], rng.randint(3, 5))
    base = {r: rng.randint(5, 120) for r in routes}
    t = _base_time(rng)
    lines = []
    recs = []
    n_files = rng.randint(1, 2)
    for _ in range(rng.randint(150, 300)):
        t += timedelta(seconds=rng.randint(1, 40), milliseconds=rng.randint(0, 999))
        r = pick(rng, routes)
        lat = int(rng.expovariate(1 / base[r])) + rng.randint(1, 5)
        if rng.random() < 0.04:
            lat += rng.randint(800, 3000)
        status = rng.choices((200, 201, 400, 404, 500, 503), (80, 5, 4, 5, 3, 2))[0]
        rec = {"ts": f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond // 1000:03d}Z", "level": "error" if status >= 500 else "info",
               "method": pick(rng, ("GET", "POST")), "route": r, "status": status, "latency_ms": lat,
               "request_id": f"{rng.getrandbits(48):012x}"}
        recs.append(rec)
        order = list(rec)
        rng.shuffle(order)      # key order varies, as it does in real structured logs
        lines.append(json.dumps({k: rec[k] for k in order}))
        if rng.random() < 0.03:
            lines.append(json.dumps({k: rec[k] for k in order})[: rng.randint(10, 40)])  # truncated write
            recs.append(None)
        if rng.random() < 0.02:
            lines.append("")
    n_split = len(lines) // 2
    files = {}
    if n_files == 1:
        files[f"{logdir}/requests.jsonl"] = lines_text(lines)
        src_desc = f"`{logdir}/requests.jsonl`"
    else:
        files[f"{logdir}/requests.jsonl.1"] = lines_text(lines[:n_split])
        files[f"{logdir}/requests.jsonl"] = lines_text(lines[n_split:])
        src_desc = f"`{logdir}/requests.jsonl` and the older `{logdir}/requests.jsonl.1`"
    pcts = sorted(rng.sample([50, 75, 90, 95, 99], rng.randint(2, 3)))
    exclude_5xx = rng.random() < 0.5
    good = [r for r in recs if r is not None and (not exclude_5xx or r["status"] < 500)]
    by_route: dict[str, list[int]] = defaultdict(list)
    for r in good:
        by_route[r["route"]].append(r["latency_ms"])
    result = {}
    for route, vals in sorted(by_route.items()):
        vals.sort()
        entry = {"count": len(vals)}
        for p in pcts:
            entry[f"p{p}"] = _nearest_rank(vals, p)
        entry["max"] = vals[-1]
        result[route] = entry
    out = pick(rng, (f"/app/{app}-latency.json", "/app/latency.json", f"/root/{app}-percentiles.json"))
    keys = ", ".join(f'`"p{p}"`' for p in pcts)
    filt = "Ignore requests that failed with a 5xx status. " if exclude_5xx else "Include every request, whatever its status. "
    instruction = phrasing(
        rng,
        "The service `{app}` logs one JSON object per request in {src}. Some lines are blank or truncated and must be "
        "skipped. {filt}For each `route`, compute the number of requests and the latency percentiles {keys} of "
        "`latency_ms` using the nearest-rank method (the p-th percentile of n sorted values is the value at 1-based "
        "position ceil(p/100·n)), plus the maximum. Write `{out}`: a JSON object mapping each route to "
        "`{{\"count\": …, {keys2}, \"max\": …}}` with integer values.",
        "Compute per-route latency statistics from the JSON-lines request logs {src} (skip lines that are not valid "
        "JSON). {filt}Save them to `{out}` as one JSON object keyed by route; each value is an object with "
        "`count`, {keys} and `max` (integers). Percentiles use the nearest-rank definition: sort the route's "
        "`latency_ms` values ascending and take the element at position ceil(p × n / 100), counting from 1.",
        "Produce a latency report for `{app}`: read {src}, ignore malformed lines, {filt_l}and for every route "
        "compute the request count, the nearest-rank percentiles {keys} (value at 1-based rank ceil(p/100 × n) "
        "of the sorted `latency_ms` values) and the maximum latency. Store the result in `{out}` as a JSON object: "
        "route → {{count, {keys3}, max}}, all integers.",
        app=app, src=src_desc, filt=filt, filt_l=filt[0].lower() + filt[1:], keys=keys, out=out,
        keys2=", ".join(f'\"p{p}\": …' for p in pcts), keys3=", ".join(f"p{p}" for p in pcts),
    )
    paths = sorted(p for p in files)
    solution = f"""python3 - <<'PYEOF'
import json, math
vals = {{}}
for path in {paths!r}:
    for line in open(path, encoding="utf-8"):
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if not isinstance(rec, dict) or {exclude_5xx!r} and rec["status"] >= 500:
            continue
        vals.setdefault(rec["route"], []).append(rec["latency_ms"])
out = {{}}
for route, v in vals.items():
    v.sort()
    e = {{"count": len(v)}}
    for p in {pcts!r}:
        e[f"p{{p}}"] = v[max(1, math.ceil(p / 100 * len(v))) - 1]
    e["max"] = v[-1]
    out[route] = e
json.dump(out, open({out!r}, "w"), indent=2)
PYEOF
"""
    tests = f"""
import json
from pathlib import Path

OUT = {out!r}
EXPECTED = {py(result)}


def test_output_is_json_object():
    assert isinstance(json.loads(Path(OUT).read_text()), dict)


def test_routes():
    assert sorted(json.loads(Path(OUT).read_text())) == sorted(EXPECTED)


def test_statistics():
    got = json.loads(Path(OUT).read_text())
    for route, want in EXPECTED.items():
        assert got[route] == want, route
"""
    return Step(instruction, solution, tests, files=files, output=Artifact(out, "json", result),
                params={"app": app, "percentiles": pcts, "exclude_5xx": exclude_5xx, "files": n_files})


# --------------------------------------------------------------------------------------------
# sysadmin.syslog-window
# --------------------------------------------------------------------------------------------

_SYSLOG_MSGS = {
    "sshd": ("Accepted publickey for {user} from {ip} port {port} ssh2",
             "Failed password for {user} from {ip} port {port} ssh2",
             "Failed password for invalid user {bad} from {ip} port {port} ssh2",
             "Connection closed by {ip} port {port} [preauth]",
             "pam_unix(sshd:session): session opened for user {user}"),
    "CRON": ("({user}) CMD (/usr/local/bin/{job}.sh)", "pam_unix(cron:session): session closed for user {user}"),
    "kernel": ("[{up}] eth0: link up", "[{up}] Out of memory: Killed process {port} ({job})",
               "[{up}] EXT4-fs (sda1): re-mounted. Opts: errors=remount-ro"),
    "systemd": ("Started {job}.service.", "Stopping {job}.service...", "{job}.service: Failed with result 'exit-code'."),
    "nginx": ("worker process {port} exited on signal 9", "reloading configuration"),
    "postfix/smtpd": ("connect from unknown[{ip}]", "disconnect from unknown[{ip}]"),
}


def _syslog_ts(t: datetime) -> str:
    return f"{MONTHS[t.month - 1]} {t.day:>2} {t:%H:%M:%S}"


@family("sysadmin.syslog-window", category="sysadmin", skills=("sysadmin.logs", "text.awk"),
        difficulty="medium", produces="lines")
def syslog_window(rng: random.Random, inp) -> Step:
    host = f"{pick(rng, ('web', 'db', 'app', 'edge', 'build'))}{rng.randint(1, 20):02d}"
    progs = ["sshd", "CRON"] + rng.sample(["kernel", "systemd", "nginx", "postfix/smtpd"], rng.randint(2, 4))
    users = rng.sample(FIRST_NAMES, 3)
    ips = [_ip(rng) for _ in range(rng.randint(3, 6))]
    jobs = words(rng, 3)
    # start late in the evening so that some windows cross midnight (string comparison then fails)
    t = datetime(2024, rng.randint(1, 12), rng.randint(1, 27), rng.choice((21, 22, 23)), rng.randint(0, 59), 0)
    events = []
    pids = {p: rng.randint(300, 30000) for p in progs}
    for _ in range(rng.randint(150, 300)):
        t += timedelta(seconds=rng.randint(5, 70))
        prog = rng.choices(progs, [5 if p == "sshd" else 2 for p in progs])[0]
        msg = pick(rng, _SYSLOG_MSGS[prog]).format(
            user=pick(rng, users), ip=pick(rng, ips), port=rng.randint(1024, 65000), job=pick(rng, jobs),
            bad=pick(rng, ("admin", "oracle", "test", "ubuntu", "pi")), up=f"{rng.uniform(100, 99999):.6f}")
        if prog == "kernel":
            tag = "kernel"
        elif prog == "systemd":
            tag = "systemd[1]"
        else:
            tag = f"{prog}[{pids[prog] + (rng.randint(0, 50) if prog in ('sshd', 'CRON') else 0)}]"
        events.append((t, prog, msg, f"{_syslog_ts(t)} {host} {tag}: {msg}"))
    logfile = pick(rng, ("/var/log/syslog", "/var/log/messages", f"/var/log/{host}/syslog.log"))
    i = rng.randint(len(events) // 6, len(events) // 2)
    lo = events[i][0].replace(second=0)
    hi = lo + timedelta(minutes=rng.choice((30, 60, 90, 120, 150)))
    sel = [e for e in events if lo <= e[0] <= hi]
    variant = pick(rng, ("programs", "ssh"))
    if not any(e[1] == "sshd" and e[2].startswith("Failed password") for e in sel):
        variant = "programs"
    out = pick(rng, ("/app/window.txt", f"/app/{host}-summary.txt", "/root/syslog-report.txt"))
    span = f"from `{_syslog_ts(lo)}` to `{_syslog_ts(hi)}` (both inclusive; the log has no year, all of it is {lo.year})"
    if variant == "programs":
        c = Counter(e[1] for e in sel)
        expected = [f"{p} {n}" for p, n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))]
        task = (f"count the messages per program (the syslog tag without the `[pid]` part, e.g. `sshd` or "
                f"`postfix/smtpd`) logged {span}. Write `{out}` with one line `<program> <count>` per program that "
                f"logged anything in that window, most messages first, ties by program name")
        code = ("from collections import Counter\nc = Counter(prog for t, prog, msg in rows if LO <= t <= HI)\n"
                "lines = [f'{p} {n}' for p, n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))]\n")
    else:
        import re as _re

        c = Counter()
        for e in sel:
            m = _re.match(r"Failed password for (?:invalid user )?\S+ from (\S+) ", e[2])
            if e[1] == "sshd" and m:
                c[m.group(1)] += 1
        expected = [f"{ip} {n}" for ip, n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))]
        task = (f"count the failed SSH password attempts (sshd `Failed password for ...` messages, including those "
                f"for invalid users) per source IP {span}. Write `{out}` with one line `<ip> <count>` per IP, highest "
                f"count first, ties by IP as text")
        code = ("import re\nfrom collections import Counter\nc = Counter()\n"
                "for t, prog, msg in rows:\n"
                "    m = re.match(r'Failed password for (?:invalid user )?\\S+ from (\\S+) ', msg)\n"
                "    if prog == 'sshd' and m and LO <= t <= HI:\n        c[m.group(1)] += 1\n"
                "lines = [f'{ip} {n}' for ip, n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))]\n")
    instruction = phrasing(
        rng,
        "`{logfile}` is a classic syslog file of host `{host}`. {Task}.",
        "Using the syslog in `{logfile}`, {task}. If the window passes midnight, remember that the date changes.",
        "Incident review on `{host}`: from `{logfile}`, {task}.",
        logfile=logfile, host=host, task=task, Task=task[0].upper() + task[1:],
    )
    solution = f"""python3 - <<'PYEOF'
import re
from datetime import datetime
LO = datetime({lo.year}, {lo.month}, {lo.day}, {lo.hour}, {lo.minute}, {lo.second})
HI = datetime({hi.year}, {hi.month}, {hi.day}, {hi.hour}, {hi.minute}, {hi.second})
rows = []
for line in open({logfile!r}):
    m = re.match(r'^(\\w{{3}}) +(\\d+) (\\d\\d:\\d\\d:\\d\\d) \\S+ ([^:\\[]+)(?:\\[\\d+\\])?: (.*)$', line)
    if m:
        t = datetime.strptime(f"{lo.year} {{m[1]}} {{m[2]}} {{m[3]}}", "%Y %b %d %H:%M:%S")
        rows.append((t, m[4], m[5]))
{code}open({out!r}, "w").write("".join(l + "\\n" for l in lines))
PYEOF
cat {sh_quote(out)}
"""
    tests = f"""
from pathlib import Path

OUT = {out!r}
EXPECTED = {py(expected)}


def test_summary():
    got = [" ".join(ln.split()) for ln in Path(OUT).read_text().splitlines() if ln.strip()]
    assert got == EXPECTED
"""
    return Step(instruction, solution, tests, files={logfile: lines_text(e[3] for e in events)},
                output=Artifact(out, "lines", expected),
                params={"variant": variant, "logfile": logfile, "window": [str(lo), str(hi)]})


# --------------------------------------------------------------------------------------------
# sysadmin.ini-config-edit
# --------------------------------------------------------------------------------------------

_INI_SECTIONS = {
    "server": [("host", lambda r: pick(r, ("0.0.0.0", "127.0.0.1", "::"))), ("port", lambda r: str(r.randint(1025, 9999))),
               ("workers", lambda r: str(r.randint(1, 16))), ("request_timeout_seconds", lambda r: str(r.randint(5, 120))),
               ("tls_enabled", lambda r: pick(r, ("true", "false")))],
    "database": [("url", lambda r: f"postgresql://{word(r)}@db.internal:5432/{word(r)}"),
                 ("pool_size", lambda r: str(r.randint(2, 40))), ("connect_timeout_seconds", lambda r: str(r.randint(1, 30))),
                 ("replica_port", lambda r: str(r.randint(5433, 5499)))],
    "cache": [("backend", lambda r: pick(r, ("redis", "memcached", "memory"))), ("ttl_seconds", lambda r: str(r.randint(30, 86400))),
              ("compression_enabled", lambda r: pick(r, ("true", "false")))],
    "logging": [("level", lambda r: pick(r, ("debug", "info", "warning", "error"))),
                ("file", lambda r: f"/var/log/{word(r)}/app.log"), ("json_enabled", lambda r: pick(r, ("true", "false")))],
    "features": [("beta_ui_enabled", lambda r: pick(r, ("true", "false"))), ("max_upload_mb", lambda r: str(r.randint(1, 500)))],
}
_NEW_KEYS = {"server": ("admin_port", "keepalive_seconds"), "database": ("ssl_enabled", "statement_timeout_seconds"),
             "cache": ("max_entries",), "logging": ("syslog_enabled",), "features": ("dark_mode_enabled", "export_enabled")}
_NEW_SECTIONS = {"metrics": [("port", "9100"), ("interval_seconds", "15"), ("enabled", "true")],
                 "smtp": [("host", "mail.internal"), ("port", "587"), ("starttls_enabled", "true")]}


def _ini_valid(key: str, value: str) -> bool:
    if key == "port" or key.endswith("_port"):
        return value.isdigit() and 1 <= int(value) <= 65535
    if key == "enabled" or key.endswith("_enabled"):
        return value in ("true", "false")
    if key.endswith("_seconds") or key in ("workers", "pool_size", "max_entries", "max_upload_mb"):
        return value.isdigit() and int(value) > 0
    if key == "level":
        return value in ("debug", "info", "warning", "error")
    return True


def _ini_bad_value(rng: random.Random, key: str) -> str:
    if key == "port" or key.endswith("_port"):
        return pick(rng, ("70000", "0", "http", "-1"))
    if key == "enabled" or key.endswith("_enabled"):
        return pick(rng, ("yes", "1", "TRUE", "on"))
    if key.endswith("_seconds") or key in ("workers", "pool_size", "max_entries", "max_upload_mb"):
        return pick(rng, ("-5", "0", "ten", "1.5"))
    if key == "level":
        return pick(rng, ("verbose", "trace", "INFO"))
    raise ValueError(key)


def _ini_good_value(rng: random.Random, key: str) -> str:
    if key == "port" or key.endswith("_port"):
        return str(rng.randint(1025, 65000))
    if key == "enabled" or key.endswith("_enabled"):
        return pick(rng, ("true", "false"))
    if key.endswith("_seconds") or key in ("workers", "pool_size", "max_entries", "max_upload_mb"):
        return str(rng.randint(1, 3600))
    if key == "level":
        return pick(rng, ("debug", "info", "warning", "error"))
    if key == "host":
        return pick(rng, ("10.0.0.5", "localhost", "0.0.0.0"))
    return f"{word(rng)}-{rng.randint(1, 99)}"


def _validated(key: str) -> bool:
    return (key in ("port", "enabled", "level", "workers", "pool_size", "max_entries", "max_upload_mb")
            or key.endswith(("_port", "_enabled", "_seconds")))


@family("sysadmin.ini-config-edit", category="sysadmin", skills=("sysadmin.config",), difficulty="medium")
def ini_config_edit(rng: random.Random, inp) -> Step:
    app = ident(rng, 1)
    secs = ["server"] + rng.sample(["database", "cache", "logging", "features"], rng.randint(2, 3))
    conf: dict[str, dict[str, str]] = {}
    text = [f"# {app} configuration", f"; managed by ops — edit with care ({pick(rng, UNICODE_WORDS)})", ""]
    comments = [text[0], text[1]]
    for s in secs:
        conf[s] = {}
        text.append(f"[{s}]")
        for k, gen in _INI_SECTIONS[s]:
            if rng.random() < 0.8 or k in ("port", "level"):
                if rng.random() < 0.25:
                    c = pick(rng, (f"# {k} is read at startup", f"; see docs/{s}.md", f"# TODO: tune {k}"))
                    text.append(c)
                    comments.append(c)
                conf[s][k] = gen(rng)
                text.append(f"{k} = {conf[s][k]}")
        text.append("")
    changes = []
    expected = {s: dict(v) for s, v in conf.items()}
    rejected = []
    # modify existing keys (some with invalid values)
    existing = [(s, k) for s in conf for k in conf[s]]
    touched = rng.sample(existing, min(len(existing), rng.randint(3, 4)))
    for s, k in touched:
        if _validated(k) and rng.random() < 0.4:
            line = f"set {s}.{k}={_ini_bad_value(rng, k)}"
            rejected.append(line)
        else:
            v = _ini_good_value(rng, k)
            line = f"set {s}.{k}={v}"
            expected[s][k] = v
        changes.append(line)
    # new key in an existing section
    s = pick(rng, secs)
    nk = pick(rng, _NEW_KEYS[s])
    v = _ini_good_value(rng, nk)
    changes.append(f"set {s}.{nk}={v}")
    expected[s][nk] = v
    # a new section
    ns = pick(rng, sorted(_NEW_SECTIONS))
    expected[ns] = {}
    for k, v in _NEW_SECTIONS[ns]:
        if rng.random() < 0.3 and _validated(k):
            line = f"set {ns}.{k}={_ini_bad_value(rng, k)}"
            rejected.append(line)
        else:
            line = f"set {ns}.{k}={v}"
            expected[ns][k] = v
        changes.append(line)
    if not expected[ns]:
        k, v = _NEW_SECTIONS[ns][0]
        changes.append(f"set {ns}.{k}={v}")
        expected[ns][k] = v
    # deletions: one real, sometimes one of a missing key
    deletable = [(s, k) for s in conf for k in conf[s] if (s, k) not in touched and k not in ("port", "level")]
    ds, dk = pick(rng, deletable)
    changes.append(f"del {ds}.{dk}")
    del expected[ds][dk]
    if rng.random() < 0.5:
        line = f"del {pick(rng, secs)}.{pick(rng, ('legacy_mode', 'old_path', 'debug_port'))}"
        changes.append(line)
        rejected.append(line)
    rng.shuffle(changes)
    # keep the relative order of rejected lines as in the change file
    rejected = [c for c in changes if c in rejected]
    ini = f"/etc/{app}/{app}.ini"
    chg = pick(rng, ("/app/changes.txt", f"/app/{app}-changes.txt", "/root/config-changes.txt"))
    rej = pick(rng, ("/app/rejected.txt", f"/app/{app}-rejected.txt"))
    rules = ("- keys named `port` or ending in `_port`: an integer from 1 to 65535\n"
             "- keys named `enabled` or ending in `_enabled`: exactly `true` or `false`\n"
             "- keys ending in `_seconds`, and `workers`, `pool_size`, `max_entries`, `max_upload_mb`: a positive integer\n"
             "- `level`: one of `debug`, `info`, `warning`, `error`\n"
             "- any other key: any value")
    instruction = phrasing(
        rng,
        "Apply the change requests in `{chg}` to the INI file `{ini}`. Each line is either `set <section>.<key>=<value>` "
        "(change the key, or add it — creating the section at the end of the file if needed — written as "
        "`<key> = <value>`) or `del <section>.<key>` (remove the key). A `set` whose value breaks these rules must "
        "not be applied:\n\n{rules}\n\nA `del` of a key that does not exist is also invalid. Write every invalid "
        "request line, verbatim and in file order, to `{rej}`. Edit the file in place: keep its comments, blank "
        "lines and all keys that are not changed.",
        "`{ini}` needs the edits listed in `{chg}` (`set section.key=value` adds or updates a key — a missing section "
        "is appended to the file; `del section.key` deletes one). Validate each `set` first:\n\n{rules}\n\n"
        "Skip invalid requests (including `del` of a key that isn't there) and list them, exactly as written and in "
        "their original order, in `{rej}`. Comments and untouched settings in the INI file must survive; new keys are "
        "written as `key = value`.",
        "Update the configuration of `{app}`: go through `{chg}` and apply each valid request to `{ini}`. "
        "`set <section>.<key>=<value>` sets a value (adding the key, and the `[section]` at the end of the file, "
        "when missing; use the form `key = value`), `del <section>.<key>` removes a key. Value rules:\n\n{rules}\n\n"
        "Requests that violate a rule, or delete a non-existent key, are rejected: copy those lines unchanged, in "
        "order, into `{rej}`. Preserve all comments and everything you were not asked to change.",
        chg=chg, ini=ini, rej=rej, rules=rules, app=app,
    )
    solution = f"""python3 - <<'PYEOF'
import re
INI, CHG, REJ = {ini!r}, {chg!r}, {rej!r}


def valid(key, value):
    if key == "port" or key.endswith("_port"):
        return value.isdigit() and 1 <= int(value) <= 65535
    if key == "enabled" or key.endswith("_enabled"):
        return value in ("true", "false")
    if key.endswith("_seconds") or key in ("workers", "pool_size", "max_entries", "max_upload_mb"):
        return value.isdigit() and int(value) > 0
    if key == "level":
        return value in ("debug", "info", "warning", "error")
    return True


lines = open(INI, encoding="utf-8").read().splitlines()


def find(section, key):
    \"\"\"(index of the section header, index of the key line or None, index after the section's last key).\"\"\"
    start = key_at = None
    end = len(lines)
    for i, ln in enumerate(lines):
        m = re.match(r"^\\s*\\[(.+)\\]\\s*$", ln)
        if m:
            if start is not None:
                end = i
                break
            if m.group(1) == section:
                start = i
        elif start is not None and re.match(rf"^\\s*{{re.escape(key)}}\\s*[=:]", ln):
            key_at = i
    if start is None:
        return None, None, None
    last = start
    for i in range(start + 1, end):
        if re.match(r"^\\s*[^#;\\s]", lines[i]):
            last = i
    return start, key_at, last + 1


rejected = []
for req in open(CHG).read().splitlines():
    if not req.strip():
        continue
    op, _, rest = req.partition(" ")
    if op == "set":
        target, _, value = rest.partition("=")
        section, _, key = target.partition(".")
        if not valid(key, value):
            rejected.append(req)
            continue
        start, at, after = find(section, key)
        if start is None:
            if lines and lines[-1].strip():
                lines.append("")
            lines += [f"[{{section}}]", f"{{key}} = {{value}}"]
        elif at is not None:
            lines[at] = f"{{key}} = {{value}}"
        else:
            lines.insert(after, f"{{key}} = {{value}}")
    elif op == "del":
        section, _, key = rest.partition(".")
        start, at, after = find(section, key)
        if at is None:
            rejected.append(req)
        else:
            del lines[at]
    else:
        rejected.append(req)
open(INI, "w", encoding="utf-8").write("\\n".join(lines) + "\\n")
open(REJ, "w").write("".join(r + "\\n" for r in rejected))
PYEOF
cat {sh_quote(ini)} {sh_quote(rej)}
"""
    tests = f"""
import configparser
from pathlib import Path

INI = {ini!r}
REJ = {rej!r}
EXPECTED = {py(expected)}
COMMENTS = {py(comments)}
REJECTED = {py(rejected)}


def parsed():
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str
    cp.read(INI, encoding="utf-8")
    return {{s: dict(cp[s]) for s in cp.sections()}}


def test_sections_and_values():
    assert parsed() == EXPECTED


def test_comments_preserved_in_order():
    lines = [ln.strip() for ln in Path(INI).read_text(encoding="utf-8").splitlines()]
    idx = [lines.index(c) for c in COMMENTS]
    assert idx == sorted(idx)


def test_rejected_requests():
    got = [ln.rstrip() for ln in Path(REJ).read_text().splitlines() if ln.strip()]
    assert got == REJECTED
"""
    return Step(instruction, solution, tests, files={ini: lines_text(text), chg: lines_text(changes)},
                params={"ini": ini, "changes": len(changes), "rejected": len(rejected)})


# --------------------------------------------------------------------------------------------
# sysadmin.cron-schedule
# --------------------------------------------------------------------------------------------

_DOW = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def _cron_job(rng: random.Random, kind: str) -> tuple[str, list[str]]:
    """(English description, the five cron fields)."""
    hh, mm = rng.randint(0, 23), rng.choice((0, 5, 10, 15, 17, 20, 30, 45, 50))
    at = f"{hh:02d}:{mm:02d}"
    if kind == "every-n-min":
        n = pick(rng, (5, 10, 15, 20, 30))
        return f"every {n} minutes", [f"*/{n}", "*", "*", "*", "*"]
    if kind == "daily":
        return f"every day at {at}", [str(mm), str(hh), "*", "*", "*"]
    if kind == "weekdays":
        return f"Monday to Friday at {at}", [str(mm), str(hh), "*", "*", "1-5"]
    if kind == "weekly":
        d = rng.randint(0, 6)
        return f"every {_DOW[d]} at {at}", [str(mm), str(hh), "*", "*", str(d)]
    if kind == "monthly":
        d = rng.randint(1, 28)
        return f"on day {d} of every month at {at}", [str(mm), str(hh), str(d), "*", "*"]
    if kind == "every-n-hours":
        n = pick(rng, (2, 3, 4, 6, 8, 12))
        return f"every {n} hours (at hours divisible by {n}), at minute {mm}", [str(mm), f"*/{n}", "*", "*", "*"]
    if kind == "business-hours":
        a, b = rng.randint(6, 10), rng.randint(16, 20)
        return (f"at minute {mm} of every hour from {a}:00 through {b}:00 (inclusive), Monday to Friday",
                [str(mm), f"{a}-{b}", "*", "*", "1-5"])
    if kind == "quarterly":
        return (f"at {at} on the 1st of January, April, July and October", [str(mm), str(hh), "1", "1,4,7,10", "*"])
    if kind == "twice-daily":
        h2 = (hh + rng.randint(6, 12)) % 24
        a, b = sorted((hh, h2))
        return f"twice a day, at {a:02d}:{mm:02d} and {b:02d}:{mm:02d}", [str(mm), f"{a},{b}", "*", "*", "*"]
    if kind == "weekend":
        return f"on Saturdays and Sundays at {at}", [str(mm), str(hh), "*", "*", "0,6"]
    raise ValueError(kind)


_CRON_KINDS = ("every-n-min", "daily", "weekdays", "weekly", "monthly", "every-n-hours", "business-hours",
               "quarterly", "twice-daily", "weekend")

_CRON_EXPAND = r'''
RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
NAMES = [{}, {}, {}, {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())},
         {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}]
SPECIAL = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0",
           "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *"}


def expand(field, i):
    lo, hi = RANGES[i]
    out = set()
    for part in field.lower().split(","):
        step = 1
        if "/" in part:
            part, s = part.split("/")
            step = int(s)
        if part == "*":
            a, b = lo, hi
        elif "-" in part:
            a, b = (int(NAMES[i].get(x, x)) for x in part.split("-"))
        else:
            a = int(NAMES[i].get(part, part))
            b = hi if step > 1 else a
        out.update(range(a, b + 1, step))
    if i == 4:
        out = {0 if d == 7 else d for d in out}
    return out


def parse(text):
    env, jobs = {}, []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        first = line.split()[0]
        if "=" in first and not first[0].isdigit() and first[0] not in "*@":
            k, _, v = line.partition("=")
            env[k.strip()] = v.strip()
            continue
        if first in SPECIAL:
            line = SPECIAL[first] + line[len(first):]
        f = line.split(None, 6)
        jobs.append(([expand(x, i) for i, x in enumerate(f[:5])], f[5], f[6]))
    return env, jobs
'''


@family("sysadmin.cron-schedule", category="sysadmin", skills=("sysadmin.cron", "permissions.chmod"),
        difficulty="medium")
def cron_schedule(rng: random.Random, inp) -> Step:
    app = ident(rng, 1)
    user = pick(rng, (app, "root", f"{app}svc"))
    kinds = rng.sample(_CRON_KINDS, rng.randint(3, 5))
    job_names = rng.sample(["backup", "cleanup", "report", "sync", "rotate", "healthcheck", "reindex", "digest",
                            "vacuum", "export"], len(kinds))
    bindir = f"/opt/{app}/bin"
    logdir = f"/var/log/{app}"
    jobs = []
    pct_job = rng.randrange(len(kinds)) if rng.random() < 0.7 else None
    files = {}
    for i, (kind, jn) in enumerate(zip(kinds, job_names)):
        desc, fields = _cron_job(rng, kind)
        cmd = f"{bindir}/{jn}.sh"
        if i == pct_job:
            cmd += f" --tag {jn}-$(date +%Y%m%d)"
        cmd += f" >> {logdir}/{jn}.log 2>&1"
        jobs.append({"name": jn, "desc": desc, "fields": fields, "cmd": cmd})
        files[f"{bindir}/{jn}.sh"] = f"#!/bin/bash\n# {jn} job for {app}\necho \"$(date -Is) {jn} ran $*\"\n"
    cronfile = f"/etc/cron.d/{app}-jobs" if rng.random() < 0.5 else f"/etc/cron.d/{app}"
    mailto = pick(rng, ('""', f"ops@{app}.example", "root"))
    table = "\n".join(f"- `{j['name']}`: {j['desc']} — command: `{j['cmd']}`" for j in jobs)
    run = []
    if user != "root":
        run.append(f"useradd --system --no-create-home {user}")
    instruction = phrasing(
        rng,
        "Schedule the maintenance jobs of `{app}` with cron. Create the system crontab `{cronfile}` (the /etc/cron.d "
        "format, with a user field) that runs every job below as user `{user}`, and sets `SHELL=/bin/bash` and "
        "`MAILTO={mailto}` at the top. Remember that cron treats an unescaped `%` in a command specially. The job "
        "scripts in `{bindir}` must be executable, and the crontab must be owned by root and not writable by group "
        "or others.\n\n{table}",
        "Write `{cronfile}` so cron runs these `{app}` jobs as `{user}` (system crontab format: five time fields, the "
        "user, then the command — commands exactly as given, with whatever escaping cron needs). Start the file with "
        "`SHELL=/bin/bash` and `MAILTO={mailto}`. Also make sure the scripts in `{bindir}` can be executed, and give "
        "the crontab file root ownership and mode 0644.\n\n{table}",
        "Set up cron for `{app}`: one line per job in `{cronfile}` (cron.d style, user `{user}`), preceded by the "
        "environment lines `SHELL=/bin/bash` and `MAILTO={mailto}`. Schedules and commands:\n\n{table}\n\n"
        "The command must reach the shell exactly as written (mind `%`). Make the job scripts executable; the "
        "crontab file must be root-owned with mode 0644.",
        app=app, cronfile=cronfile, user=user, mailto=mailto, bindir=bindir, table=table,
    )
    body = ["SHELL=/bin/bash", f"MAILTO={mailto}", ""]
    for j in jobs:
        body.append(f"# {j['name']}: {j['desc']}")
        body.append(f"{' '.join(j['fields'])} {user} {j['cmd'].replace('%', chr(92) + '%')}")
    solution = (f"mkdir -p {logdir}\nchmod 0755 {bindir}/*.sh\n"
                f"cat > {sh_quote(cronfile)} <<'EOF'\n" + "\n".join(body) + "\nEOF\n"
                f"chown root:root {sh_quote(cronfile)}\nchmod 0644 {sh_quote(cronfile)}\n")
    expected = [{"name": j["name"], "fields": j["fields"], "cmd": j["cmd"]} for j in jobs]
    tests = _CRON_EXPAND + f"""
import os
import re
import stat
from pathlib import Path

CRONFILE = {cronfile!r}
USER = {user!r}
MAILTO = {mailto!r}
JOBS = {py(expected)}
SCRIPTS = {py([f"{bindir}/{j['name']}.sh" for j in jobs])}


def test_file_owner_and_mode():
    st = os.stat(CRONFILE)
    assert st.st_uid == 0
    assert not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def test_environment_lines():
    env, _ = parse(Path(CRONFILE).read_text())
    assert env.get("SHELL") == "/bin/bash"
    assert env.get("MAILTO") == MAILTO


def test_jobs():
    _, jobs = parse(Path(CRONFILE).read_text())
    assert len(jobs) == len(JOBS)
    by_cmd = {{}}
    for fields, user, cmd in jobs:
        assert not re.search(r"(?<!\\\\)%", cmd), "unescaped % in: " + cmd
        by_cmd[cmd.replace("\\\\%", "%").strip()] = (fields, user)
    for job in JOBS:
        assert job["cmd"] in by_cmd, job["name"]
        fields, user = by_cmd[job["cmd"]]
        assert user == USER
        want = [expand(x, i) for i, x in enumerate(job["fields"])]
        assert fields == want, job["name"]


def test_scripts_executable():
    for s in SCRIPTS:
        assert os.access(s, os.X_OK), s
"""
    return Step(instruction, solution, tests, files=files, run=_one_run(run),
                params={"app": app, "kinds": kinds, "cronfile": cronfile, "percent": pct_job is not None})


# --------------------------------------------------------------------------------------------
# sysadmin.disk-cleanup
# --------------------------------------------------------------------------------------------

@family("sysadmin.disk-cleanup", category="sysadmin", skills=("sysadmin.disk", "files.find"),
        difficulty="medium", produces="lines")
def disk_cleanup(rng: random.Random, inp) -> Step:
    app = ident(rng, 1)
    root = pick(rng, (f"/srv/{app}", f"/var/lib/{app}", f"/data/{app}"))
    protected = pick(rng, ("keep", "pinned", "retain"))
    cutoff = datetime(2024, rng.randint(2, 11), rng.randint(1, 28))
    tmp_kib = pick(rng, (64, 100, 128, 256))
    rules = rng.sample(["oldlogs", "bigtmp", "cores", "oldcache"], rng.randint(2, 3))
    entries = []   # (relpath, size, mtime datetime)

    def old():
        return cutoff - timedelta(days=rng.randint(2, 400), hours=rng.randint(0, 23))

    def new():
        return cutoff + timedelta(days=rng.randint(1, 60), hours=rng.randint(0, 23))

    def name(ext):
        sep = " " if rng.random() < 0.15 else pick(rng, ("-", "_"))
        return f"{ident(rng, 2, sep)}.{ext}"

    for sub in ("logs", f"logs/{word(rng)}"):
        for _ in range(rng.randint(2, 4)):
            entries.append((f"{sub}/{name('log')}", rng.randint(100, 40000), pick(rng, (old, new))()))
        entries.append((f"{sub}/{name('log.gz')}", rng.randint(100, 9000), old()))
    for sub in ("tmp", f"uploads/{word(rng)}"):
        for j in range(rng.randint(2, 3)):
            big = j == 0 or rng.random() < 0.5
            size = tmp_kib * 1024 + (rng.randint(1, 40000) if big else -rng.randint(1, 20000))
            entries.append((f"{sub}/{name('tmp')}", size, pick(rng, (old, new))()))
    entries.append((f"tmp/{name('tmp')}", tmp_kib * 1024, old()))      # exactly at the limit: not larger
    for _ in range(rng.randint(1, 2)):
        entries.append((f"{pick(rng, ('', 'bin/', 'tmp/'))}core.{rng.randint(100, 99999)}", rng.randint(5000, 90000), new()))
    entries.append(("bin/core.py", rng.randint(200, 3000), old()))      # not a core dump
    for _ in range(rng.randint(2, 4)):
        entries.append((f"cache/{word(rng)}/{name('bin')}", rng.randint(100, 30000), pick(rng, (old, new))()))
    for _ in range(rng.randint(2, 3)):
        ext = pick(rng, ("log", "tmp", "bin"))
        entries.append((f"{protected}/{name(ext)}", tmp_kib * 1024 + rng.randint(1, 5000), old()))
    entries.append((f"logs/{name('log')}.keep", rng.randint(100, 2000), old()))
    entries.append((f"cache/{name('bin')}.keep", rng.randint(100, 2000), old()))
    # dedupe paths
    seen, uniq = set(), []
    for e in entries:
        if e[0] not in seen:
            seen.add(e[0])
            uniq.append(e)
    entries = uniq

    def doomed(rel, size, mtime):
        parts = rel.split("/")
        if parts[0] == protected or rel.endswith(".keep"):
            return False
        base = parts[-1]
        if "oldlogs" in rules and parts[0] == "logs" and (base.endswith(".log") or base.endswith(".log.gz")) and mtime < cutoff:
            return True
        if "bigtmp" in rules and base.endswith(".tmp") and size > tmp_kib * 1024:
            return True
        if "cores" in rules and len(base) > 5 and base.startswith("core.") and base[5:].isdigit():
            return True
        if "oldcache" in rules and parts[0] == "cache" and mtime < cutoff:
            return True
        return False

    gone = sorted(f"{root}/{r}" for r, s, m in entries if doomed(r, s, m))
    if not gone:   # make sure the task has something to do
        rules.append("bigtmp")
        gone = sorted(f"{root}/{r}" for r, s, m in entries if doomed(r, s, m))
    kept = sorted(f"{root}/{r}" for r, s, m in entries if not doomed(r, s, m))
    freed = sum(s for r, s, m in entries if doomed(r, s, m))
    files = {}
    for r, s, m in entries:
        line = f"{app} {r} "
        files[f"{root}/{r}"] = (line * (s // len(line) + 1))[:s]
    ages = "\n".join(f"touch -d '{m:%Y-%m-%d %H:%M:%S} UTC' {sh_quote(root + '/' + r)}" for r, s, m in entries)
    setup = f"/tmp/.set-ages-{app}.sh"
    files[setup] = "#!/bin/sh\nset -e\n" + ages + "\n"
    cut = f"{cutoff:%Y-%m-%d} 00:00 UTC"
    rule_text = {
        "oldlogs": f"log files under `logs/` (names ending in `.log` or `.log.gz`, at any depth) last modified before {cut}",
        "bigtmp": f"files ending in `.tmp`, anywhere in the tree, larger than {tmp_kib} KiB ({tmp_kib * 1024} bytes)",
        "cores": "core dumps anywhere in the tree: files named `core.<digits>`",
        "oldcache": f"everything under `cache/` last modified before {cut}",
    }
    rule_list = "\n".join(f"- {rule_text[r]}" for r in rules)
    report = pick(rng, ("/app/deleted.txt", f"/app/{app}-cleanup.txt", "/root/cleanup-report.txt"))
    freed_file = report.rsplit(".", 1)[0] + "-bytes.txt"
    instruction = phrasing(
        rng,
        "The disk holding `{root}` is filling up. Delete exactly the files matching these rules (sizes in bytes as "
        "`stat` reports them, times are modification times):\n\n{rules}\n\nNever delete anything under `{root}/{prot}/` "
        "or any file whose name ends in `.keep`; don't remove directories. Write the absolute paths of the deleted "
        "files to `{report}`, one per line, sorted in byte order (`LC_ALL=C sort`), and the total number of bytes "
        "freed to `{freed}` (just the number).",
        "Free space in `{root}` by removing the files that match any of the following rules:\n\n{rules}\n\n"
        "Files in `{root}/{prot}/` and files named `*.keep` are protected and must stay; keep all directories. "
        "Record what you removed in `{report}` (absolute paths, one per line, `LC_ALL=C` sorted) and the sum of "
        "their sizes in bytes in `{freed}`. Some names contain spaces.",
        "Clean up `{root}` safely. Delete a file if it matches one of these rules:\n\n{rules}\n\n"
        "Exceptions: nothing below `{root}/{prot}/` and no `*.keep` file may be deleted, and directories stay. "
        "Afterwards `{report}` must list the deleted files (absolute paths, byte-order sorted, one per line) and "
        "`{freed}` must contain the number of bytes freed.",
        root=root, rules=rule_list, prot=protected, report=report, freed=freed_file,
    )
    conds = []
    if "oldlogs" in rules:
        conds.append(f"\\( -path {sh_quote(root + '/logs/*')} \\( -name '*.log' -o -name '*.log.gz' \\) "
                     f"! -newermt '{cut}' \\)")
    if "bigtmp" in rules:
        conds.append(f"\\( -name '*.tmp' -size +{tmp_kib * 1024}c \\)")
    if "cores" in rules:
        conds.append("\\( -regextype posix-extended -regex '.*/core\\.[0-9]+' \\)")
    if "oldcache" in rules:
        conds.append(f"\\( -path {sh_quote(root + '/cache/*')} ! -newermt '{cut}' \\)")
    solution = (f"cd {sh_quote(root)}\n"
                f"find {sh_quote(root)} -type f ! -path {sh_quote(root + '/' + protected + '/*')} ! -name '*.keep' "
                f"\\( {' -o '.join(conds)} \\) -print0 > /tmp/doomed\n"
                f"xargs -0 -r stat -c %s < /tmp/doomed | awk '{{s += $1}} END {{print s + 0}}' > {sh_quote(freed_file)}\n"
                f"tr '\\0' '\\n' < /tmp/doomed | LC_ALL=C sort > {sh_quote(report)}\n"
                f"xargs -0 -r rm -f -- < /tmp/doomed\n")
    tests = f"""
import os
from pathlib import Path

GONE = {py(gone)}
KEPT = {py(kept)}
REPORT = {report!r}
FREED_FILE = {freed_file!r}
FREED = {freed}


def test_matching_files_deleted():
    for p in GONE:
        assert not os.path.lexists(p), p


def test_other_files_kept():
    for p in KEPT:
        assert os.path.isfile(p), p


def test_report():
    got = [ln for ln in Path(REPORT).read_text().splitlines() if ln.strip()]
    assert got == GONE


def test_freed_bytes():
    assert int(Path(FREED_FILE).read_text().strip()) == FREED
"""
    return Step(instruction, solution, tests, files=files,
                run=[f"sh {setup} && rm -f {setup}"], output=Artifact(report, "lines", gone),
                params={"root": root, "rules": rules, "cutoff": cut, "deleted": len(gone), "freed": freed})


# --------------------------------------------------------------------------------------------
# sysadmin.logrotate
# --------------------------------------------------------------------------------------------

def _rotate(state: dict[str, str], logs: list[str], keep: int, notifempty: bool) -> dict[str, str]:
    """state: file name -> text (rotations .N for N>=2 are compressed on disk). Returns the new state."""
    new = dict(state)
    for log in logs:
        if notifempty and state.get(log, "") == "":
            continue
        rots = {int(n[len(log) + 1:].split(".")[0]): n for n in state if n.startswith(log + ".")}
        for n in rots.values():
            del new[n]
        for i, n in rots.items():
            if i + 1 <= keep:
                new[f"{log}.{i + 1}" + (".gz" if i + 1 >= 2 else "")] = state[n]
        new[f"{log}.1"] = state.get(log, "")
        new[log] = ""
    return new


@family("sysadmin.logrotate", category="sysadmin", skills=("sysadmin.logs", "bash.script"), difficulty="hard")
def logrotate(rng: random.Random, inp) -> Step:
    app = ident(rng, 1)
    logdir = f"/var/log/{app}"
    keep = rng.randint(2, 5)
    notifempty = rng.random() < 0.6
    logs = [f"{w}.log" for w in rng.sample(["app", "access", "error", "worker", "audit", "jobs"], rng.randint(2, 3))]
    state: dict[str, str] = {}

    def content():
        return lines_text(f"2024-0{rng.randint(1, 9)}-{rng.randint(10, 28)} {pick(rng, ('INFO', 'WARN', 'ERROR'))} "
                          f"{' '.join(words(rng, rng.randint(2, 6)))}" for _ in range(rng.randint(1, 6)))

    for i, log in enumerate(logs):
        state[log] = "" if (i == len(logs) - 1 and notifempty and rng.random() < 0.7) else content()
        n_rot = rng.randint(0, keep + 1)
        for r in range(1, n_rot + 1):
            if r == n_rot - 1 and n_rot >= 3 and rng.random() < 0.3:
                continue   # a gap in the numbering
            state[f"{log}.{r}" + (".gz" if r >= 2 else "")] = content()
    others = {f"{app}.pid": f"{rng.randint(100, 9999)}\n", "README": f"Logs of {app}. Rotated by ops.\n"}
    mode = pick(rng, (0o640, 0o644, 0o600))
    final = _rotate(state, logs, keep, notifempty)
    files: dict[str, str | bytes] = {}
    for n, text in state.items():
        files[f"{logdir}/{n}"] = _gz(text) if n.endswith(".gz") else text
    for n, text in others.items():
        files[f"{logdir}/{n}"] = text
    script = pick(rng, (f"/usr/local/sbin/rotate-{app}", "/usr/local/bin/rotate-logs", f"/usr/local/bin/{app}-rotate"))
    run = [f"chmod {mode:o} " + " ".join(sh_quote(f"{logdir}/{log}") for log in logs)]
    # the test fixture: one log with a full history and one empty log, rotated twice
    fx_state = {"svc.log": "first generation\n", "idle.log": ""}
    for r in range(1, keep + 1):
        fx_state[f"svc.log.{r}" + (".gz" if r >= 2 else "")] = f"rotation {r}\n"
    fx_after1 = _rotate(fx_state, ["svc.log", "idle.log"], keep, notifempty)
    fx_after1_w = dict(fx_after1, **{"svc.log": "second generation\n"})
    fx_after2 = _rotate(fx_after1_w, ["svc.log", "idle.log"], keep, notifempty)
    empty_rule = ("Empty logs are not rotated (they stay as they are)." if notifempty
                  else "Empty logs are rotated too (giving an empty `.1`).")
    instruction = phrasing(
        rng,
        "Write an executable script `{script}` that rotates the logs in the directory given as its only argument, "
        "logrotate-style, and then run it once on `{logdir}`. For every `*.log` file in that directory: "
        "`X.log.N` (or `X.log.N.gz`) becomes `X.log.N+1`; `X.log` becomes `X.log.1`, kept uncompressed; every "
        "rotation numbered 2 or higher must be gzip-compressed and named `X.log.N.gz`; at most {keep} rotations are "
        "kept (delete anything that would be numbered above {keep}); a new empty `X.log` is created with the same "
        "permission bits as the old one. {empty} Other files in the directory are left alone.",
        "Implement log rotation for `{app}` without logrotate: create `{script}` (executable, takes a log directory "
        "as argument) and apply it once to `{logdir}`. Rules for each `*.log` in the directory: shift the existing "
        "rotations up by one (`.1` → `.2.gz`, `.2.gz` → `.3.gz`, …), move the current log to `.1` (not compressed), "
        "compress every rotation from `.2` upward with gzip (`.N.gz`), keep no more than {keep} rotations, and "
        "recreate the log as an empty file with the original mode. {empty} Don't touch files that are not `*.log` "
        "or their rotations.",
        "`{logdir}` grows without bound. Add a rotation script `{script}` (executable; argument: the directory) and "
        "run it once on `{logdir}`. Per `*.log` file: rotation N becomes N+1, the live log becomes `.1` "
        "(uncompressed), rotations 2 and up are stored gzip-compressed as `<name>.log.<N>.gz`, only the newest "
        "{keep} rotations survive, and the log itself is recreated empty with unchanged permissions. {empty} "
        "Leave every other file untouched.",
        script=script, logdir=logdir, keep=keep, empty=empty_rule, app=app,
    )
    skip_empty = '[ -s "$log" ] || continue' if notifempty else ":"
    solution = f"""cat > {sh_quote(script)} <<'EOF'
#!/bin/bash
# Rotate every *.log in a directory: .N -> .N+1 (gz from 2 up), log -> .1, keep {keep}.
set -euo pipefail
dir=${{1:?usage: $0 DIR}}
keep={keep}
shopt -s nullglob
for log in "$dir"/*.log; do
  [ -f "$log" ] || continue
  {skip_empty}
  for ((i = keep; i >= 1; i--)); do
    for f in "$log.$i" "$log.$i.gz"; do
      [ -e "$f" ] || continue
      if (( i >= keep )); then rm -f "$f"; continue; fi
      n=$((i + 1))
      if [[ $f == *.gz ]]; then mv "$f" "$log.$n.gz"; else gzip -n -c "$f" > "$log.$n.gz"; rm -f "$f"; fi
    done
  done
  # remove anything numbered above keep (left by an earlier, larger keep)
  for f in "$log".*; do
    num=${{f#"$log".}}; num=${{num%.gz}}
    [[ $num =~ ^[0-9]+$ ]] && (( num > keep )) && rm -f "$f"
  done
  mode=$(stat -c %a "$log")
  mv "$log" "$log.1"
  : > "$log"
  chmod "$mode" "$log"
done
EOF
chmod 0755 {sh_quote(script)}
{sh_quote(script)} {sh_quote(logdir)}
ls -l {sh_quote(logdir)}
"""
    tests = f"""
import gzip
import os
import stat
import subprocess
from pathlib import Path

LOGDIR = Path({logdir!r})
SCRIPT = {script!r}
FINAL = {py(final)}
OTHERS = {py(others)}
LOGS = {py(logs)}
MODE = {mode}
FX_STATE = {py(fx_state)}
FX_AFTER1 = {py(fx_after1)}
FX_AFTER2 = {py(fx_after2)}


def read(path):
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        assert data[:2] == b"\\x1f\\x8b", f"{{path}} is not gzip-compressed"
        return gzip.decompress(data).decode()
    assert data[:2] != b"\\x1f\\x8b", f"{{path}} should not be compressed"
    return data.decode()


def check_dir(d, want):
    names = sorted(p.name for p in d.iterdir())
    assert names == sorted(want)
    for name, text in want.items():
        assert read(d / name) == text, name


def test_script_is_executable():
    assert os.access(SCRIPT, os.X_OK)


def test_log_directory_rotated_once():
    check_dir(LOGDIR, {{**FINAL, **OTHERS}})


def test_new_logs_keep_mode():
    for log in LOGS:
        assert stat.S_IMODE((LOGDIR / log).stat().st_mode) == MODE, log


def write(d, state):
    for name, text in state.items():
        data = text.encode()
        (d / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)


def test_script_on_fresh_directory(tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    write(d, FX_STATE)
    os.chmod(d / "svc.log", 0o600)
    subprocess.run([SCRIPT, str(d)], check=True, timeout=60)
    check_dir(d, FX_AFTER1)
    assert stat.S_IMODE((d / "svc.log").stat().st_mode) == 0o600
    (d / "svc.log").write_text("second generation\\n")
    subprocess.run([SCRIPT, str(d)], check=True, timeout=60)
    check_dir(d, FX_AFTER2)
"""
    return Step(instruction, solution, tests, files=files, run=run,
                params={"logdir": logdir, "keep": keep, "notifempty": notifempty, "logs": logs, "mode": f"{mode:o}"})
