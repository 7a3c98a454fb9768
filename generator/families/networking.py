"""Networking families, loopback only: HTTP servers, TCP line protocols, port owners, /etc/hosts.

Nothing runs at image build time, so a server the task asks for is started by the solution in the
background (`setsid nohup ... &`): it keeps running into the verifier phase, which runs in the
same container. Tests connect to 127.0.0.1 with the standard library, retrying for a few seconds
while the server comes up, and compare responses with values computed at generation time.
"""

from __future__ import annotations

import json
import random
import re
import string
from urllib.parse import quote

from termforge.generator.draw import (FIRST_NAMES, UNICODE_WORDS, WORDS, ident, json_text, lines_text,
                                      phrasing, pick, py, sh_quote, token, word, words)
from termforge.generator.registry import family
from termforge.generator.spec import Artifact, Step

# Test helpers shared by the families (pasted into test modules).
_NET_HELPERS = r'''
import os
import socket
import time


_DOWN = set()


def wait_port(port, host="127.0.0.1", timeout=10.0):
    """Wait for a listener; once a port was found down, later checks fail fast."""
    deadline = time.time() + (1.0 if port in _DOWN else timeout)
    while time.time() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    _DOWN.add(port)
    return False


def listeners():
    """{port: socket inode} of TCP sockets in LISTEN state (IPv4 and IPv6)."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            f = row.split()
            if f[3] == "0A":
                found.setdefault(int(f[1].rsplit(":", 1)[1], 16), set()).add(f[9])
    return found


def listen_addresses(port):
    out = []
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            rows = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            f = row.split()
            addr, p = f[1].rsplit(":", 1)
            if f[3] == "0A" and int(p, 16) == port:
                out.append(("v6:" if v6 else "") + addr)
    return out


def socket_owners(inodes):
    pids = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{d}/fd"):
                link = os.readlink(f"/proc/{d}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    pids.add(int(d))
        except OSError:
            continue
    return pids


def owners_of_port(port):
    return socket_owners(listeners().get(port, set()))


def ancestors(pid):
    chain = []
    while pid > 1:
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])
        chain.append(pid)
    return chain


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
'''


def _port(rng: random.Random, avoid: set[int] | None = None) -> int:
    avoid = avoid or set()
    while True:
        p = rng.choice((rng.randint(8001, 8999), rng.randint(9001, 9899), rng.randint(18000, 18999)))
        if p not in avoid:
            return p


def _bg(cmd: str, log: str, pidfile: str | None = None) -> str:
    """Start a command detached from the shell so it survives into the verifier phase."""
    line = f"setsid nohup {cmd} > {sh_quote(log)} 2>&1 < /dev/null &"
    if pidfile:
        line += f"\necho $! > {sh_quote(pidfile)}"
    return line


def _wait(port: int) -> str:
    return (f"for i in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null && break; sleep 0.2; done")


# --------------------------------------------------------------------------------------------
# networking.http-static-server
# --------------------------------------------------------------------------------------------

def _site_tree(rng: random.Random, title: str) -> dict[str, str]:
    tree = {"index.html": f"<!doctype html>\n<html><head><title>{title}</title>"
                          f"<link rel=\"stylesheet\" href=\"css/site.css\"></head>\n"
                          f"<body><h1>{title}</h1><p>{' '.join(words(rng, 6))}</p></body></html>\n",
            "css/site.css": f"body {{ color: #{rng.randrange(16**6):06x}; margin: {rng.randint(0, 40)}px; }}\n"}
    for w in words(rng, rng.randint(1, 3)):
        tree[f"data/{w}.json"] = json_text({"name": w, "value": rng.randint(1, 999),
                                            "tags": words(rng, rng.randint(0, 3))})
    doc = pick(rng, ("release notes.txt", "READ ME.txt", "changelog.txt", "about.txt"))
    tree[f"docs/{doc}"] = lines_text([f"{pick(rng, UNICODE_WORDS)} {' '.join(words(rng, 4))}"
                                      for _ in range(rng.randint(2, 5))])
    if rng.random() < 0.5:
        tree["robots.txt"] = "User-agent: *\nDisallow: /private/\n"
    return tree


@family("networking.http-static-server", category="networking", skills=("net.http", "processes.background"),
        difficulty="medium", consumes="tree")
def http_static_server(rng: random.Random, inp: Artifact | None) -> Step:
    files = {}
    name = ident(rng, 1)
    if inp is None:
        root = pick(rng, (f"/srv/{name}-site", f"/var/www/{name}", f"/app/{name}/public"))
        tree = _site_tree(rng, name.title())
        for rel, content in tree.items():
            files[f"{root}/{rel}"] = content
    else:
        root, tree = inp.path, {k: str(v) for k, v in inp.value.items()}
    port = _port(rng)
    pidfile = pick(rng, (f"/run/{name}-http.pid", f"/app/{name}-server.pid", f"/var/run/{name}.pid"))
    loopback_only = rng.random() < 0.5
    bind = ("bound to 127.0.0.1 only (not to all interfaces)" if loopback_only
            else "listening on all interfaces")
    instruction = phrasing(
        rng,
        "Serve the directory `{root}` over HTTP on port {port}, {bind}, so that `GET /<path>` returns the file "
        "`{root}/<path>` byte for byte and missing files give 404. The server must keep running after you "
        "finish (detach it from your shell); write its process id to `{pidfile}`.",
        "Start a static file server for `{root}` on TCP port {port} ({bind}). Every file under the directory "
        "must be downloadable at the matching URL path, unknown paths must answer 404. Leave the server running "
        "in the background and put its PID in `{pidfile}`.",
        "Publish the files in `{root}` with an HTTP server on port {port} — {bind}. Requests for a file's "
        "relative path return its exact contents; anything else is a 404. Keep the server alive after your "
        "session ends and record the server's PID in `{pidfile}`.",
        root=root, port=port, bind=bind, pidfile=pidfile,
    )
    host = "127.0.0.1" if loopback_only else "0.0.0.0"
    solution = (f"mkdir -p {sh_quote(pidfile.rsplit('/', 1)[0])}\n"
                + _bg(f"python3 -m http.server {port} --bind {host} --directory {sh_quote(root)}",
                      f"/tmp/http-{port}.log", pidfile)
                + "\n" + _wait(port) + "\n")
    urls = {"/" + quote(rel): content for rel, content in sorted(tree.items())}
    missing = f"/{token(rng, 10)}.html"
    tests = _NET_HELPERS + f"""
import urllib.error
import urllib.request

import pytest

PORT = {port}
FILES = {py(urls)}
MISSING = {missing!r}
PIDFILE = {pidfile!r}
LOOPBACK_ONLY = {loopback_only!r}


def get(path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{{PORT}}{{path}}", timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""


def test_server_is_up():
    assert wait_port(PORT), f"nothing listens on port {{PORT}}"


@pytest.mark.parametrize("path", sorted(FILES))
def test_file_served(path):
    assert wait_port(PORT)
    status, body = get(path)
    assert status == 200
    assert body == FILES[path].encode()


def test_missing_file_is_404():
    assert wait_port(PORT)
    assert get(MISSING)[0] == 404


def test_bind_address():
    assert wait_port(PORT)
    addrs = listen_addresses(PORT)
    assert addrs
    if LOOPBACK_ONLY:
        assert all(a == "0100007F" for a in addrs), addrs


def test_pidfile_names_the_server():
    assert wait_port(PORT)
    pid = int(open(PIDFILE).read().strip())
    assert pid_alive(pid)
    owners = owners_of_port(PORT)
    assert owners
    assert any(pid == o or pid in ancestors(o) for o in owners)
"""
    return Step(instruction, solution, tests, files=files,
                params={"root": root, "port": port, "pidfile": pidfile, "loopback_only": loopback_only})


# --------------------------------------------------------------------------------------------
# networking.http-json-api
# --------------------------------------------------------------------------------------------

_API_SERVER = r'''import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PORT = {port}
DATA = {data!r}
COLL = {coll!r}
HEALTH = {health!r}
FILTER = {filt!r}

with open(DATA, encoding="utf-8") as f:
    doc = json.load(f)


class Handler(BaseHTTPRequestHandler):
    def send_json(self, code, value):
        body = json.dumps(value).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlparse(self.path)
        parts = [p for p in url.path.split("/") if p]
        if parts == ["health"]:
            body = HEALTH.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif parts == [COLL]:
            q = parse_qs(url.query)
            if FILTER and FILTER in q:
                self.send_json(200, [r for r in doc if str(r.get(FILTER)) == q[FILTER][0]])
            else:
                self.send_json(200, doc)
        elif FILTER is not None and len(parts) == 2 and parts[0] == COLL:
            found = [r for r in doc if str(r["id"]) == parts[1]]
            if found:
                self.send_json(200, found[0])
            else:
                self.send_json(404, {{"error": "not found"}})
        else:
            self.send_json(404, {{"error": "not found"}})

    def do_POST(self):
        parts = [p for p in urlparse(self.path).path.split("/") if p]
        if FILTER is None or parts != [COLL]:
            self.send_json(404, {{"error": "not found"}})
            return
        length = int(self.headers.get("Content-Length", 0))
        try:
            rec = json.loads(self.rfile.read(length))
            assert isinstance(rec, dict)
        except Exception:
            self.send_json(400, {{"error": "bad request"}})
            return
        rec["id"] = max([r["id"] for r in doc], default=0) + 1
        doc.append(rec)
        self.send_json(201, rec)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
'''


@family("networking.http-json-api", category="networking", skills=("net.http", "python.script"),
        difficulty="hard", consumes="json")
def http_json_api(rng: random.Random, inp: Artifact | None) -> Step:
    name = ident(rng, 1)
    port = _port(rng)
    health = pick(rng, ("ok", "healthy", "alive", "OK"))
    files = {}
    svc_dir = f"/app/{name}-api"
    server = f"{svc_dir}/{pick(rng, ('server.py', 'api.py', 'app.py'))}"
    if inp is None:
        coll = pick(rng, ("items", "products", "books", "tools", "parts"))
        cats = words(rng, 3)
        names = words(rng, rng.randint(4, 8))
        ids = sorted(rng.sample(range(1, 60), len(names)))
        recs = [{"id": i, "name": w, "category": pick(rng, cats), "qty": rng.randint(0, 50)}
                for i, w in zip(ids, names)]
        data = f"{svc_dir}/{coll}.json"
        files[data] = json_text(recs)
        value, filt = recs, "category"
    else:
        data, value = inp.path, inp.value
        coll = pick(rng, ("data", "report", "export", "doc"))
        filt = None
    instruction_parts = [
        f"- `GET /health` → status 200, `Content-Type: text/plain`, body exactly `{health}`",
        f"- `GET /{coll}` → status 200, the JSON document stored in `{data}`",
    ]
    if filt:
        instruction_parts += [
            f"- `GET /{coll}?{filt}=<value>` → only the records whose `{filt}` equals the value (same order)",
            f"- `GET /{coll}/<id>` → the record with that `id`, or status 404 with body `{{\"error\": \"not found\"}}`",
            f"- `POST /{coll}` with a JSON object body → store it in memory with `id` = (largest existing id) + 1, "
            f"answer 201 with the stored record (including its id); later GETs include it",
        ]
    instruction_parts.append("- any other path → status 404 with body `{\"error\": \"not found\"}`")
    spec = "\n".join(instruction_parts)
    instruction = phrasing(
        rng,
        "Write a small HTTP JSON API in Python (standard library only) at `{server}` and run it in the "
        "background on 127.0.0.1 port {port}; it must still be running when you are done. Every JSON response "
        "carries `Content-Type: application/json`. Routes:\n\n{spec}",
        "Implement `{server}`, an HTTP service on 127.0.0.1:{port} using only Python's standard library, and "
        "leave it running detached from your shell. JSON answers must be sent with the header "
        "`Content-Type: application/json`. It must implement:\n\n{spec}",
        "We need a tiny local API. Create `{server}` (stdlib Python; `http.server` is fine), start it so it "
        "keeps serving on 127.0.0.1:{port} after you log out, and make it answer as follows (JSON bodies "
        "with `Content-Type: application/json`):\n\n{spec}",
        server=server, port=port, spec=spec,
    )
    src = _API_SERVER.format(port=port, data=data, coll=coll, health=health, filt=filt)
    solution = (f"mkdir -p {sh_quote(svc_dir)}\ncat > {sh_quote(server)} <<'PYEOF'\n{src}PYEOF\n"
                + _bg(f"python3 {sh_quote(server)}", f"/tmp/{name}-api.log") + "\n" + _wait(port) + "\n")
    checks = {}
    if filt:
        cat = value[0]["category"]
        checks["filter_value"] = cat
        checks["filtered"] = [r for r in value if r["category"] == cat]
        checks["one"] = value[-1]
        checks["absent_id"] = max(r["id"] for r in value) + 100
        new = {"name": pick(rng, FIRST_NAMES), "category": pick(rng, ("misc", cat)), "qty": rng.randint(1, 9)}
        checks["new"] = new
        checks["new_id"] = max(r["id"] for r in value) + 1
    tests = _NET_HELPERS + f"""
import json
import urllib.error
import urllib.request

PORT = {port}
COLL = {coll!r}
HEALTH = {health!r}
DOC = {py(value)}
CHECKS = {py(checks)}
FILTER = {filt!r}
SERVER = {server!r}


def req(path, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    r = urllib.request.Request(f"http://127.0.0.1:{{PORT}}{{path}}", data=data, method=method,
                               headers={{"Content-Type": "application/json"}} if data else {{}})
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def test_server_script_exists():
    assert os.path.isfile(SERVER)


def test_health():
    assert wait_port(PORT)
    status, ctype, body = req("/health")
    assert status == 200
    assert ctype.split(";")[0].strip() == "text/plain"
    assert body.decode().strip() == HEALTH


def test_collection():
    assert wait_port(PORT)
    status, ctype, body = req(f"/{{COLL}}")
    assert status == 200
    assert ctype.split(";")[0].strip() == "application/json"
    assert json.loads(body) == DOC


def test_unknown_path_is_json_404():
    assert wait_port(PORT)
    status, ctype, body = req("/no-such-route/x")
    assert status == 404
    assert ctype.split(";")[0].strip() == "application/json"
    assert json.loads(body) == {{"error": "not found"}}


def test_filter_and_lookup():
    if not FILTER:
        return
    assert wait_port(PORT)
    status, _, body = req(f"/{{COLL}}?{{FILTER}}={{CHECKS['filter_value']}}")
    assert status == 200 and json.loads(body) == CHECKS["filtered"]
    one = CHECKS["one"]
    status, _, body = req(f"/{{COLL}}/{{one['id']}}")
    assert status == 200 and json.loads(body) == one
    status, _, body = req(f"/{{COLL}}/{{CHECKS['absent_id']}}")
    assert status == 404 and json.loads(body) == {{"error": "not found"}}


def test_post_creates_record():
    if not FILTER:
        return
    assert wait_port(PORT)
    status, ctype, body = req(f"/{{COLL}}", "POST", CHECKS["new"])
    assert status == 201
    assert ctype.split(";")[0].strip() == "application/json"
    want = dict(CHECKS["new"], id=CHECKS["new_id"])
    assert json.loads(body) == want
    status, _, body = req(f"/{{COLL}}/{{CHECKS['new_id']}}")
    assert status == 200 and json.loads(body) == want
"""
    return Step(instruction, solution, tests, files=files,
                params={"port": port, "server": server, "collection": coll, "consumed": inp is not None})


# --------------------------------------------------------------------------------------------
# networking.port-owner-report
# --------------------------------------------------------------------------------------------

_SERVICE = r'''#!/usr/bin/env python3
"""{desc}"""
import socket
import sys
import time

PORT = int(sys.argv[sys.argv.index("--port") + 1])
{body}
'''

_LISTEN_BODY = r'''srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("{host}", PORT))
srv.listen(8)
while True:
    conn, _ = srv.accept()
    conn.sendall(b"{banner}\n")
    conn.close()
'''

_GHOST_BODY = r'''sys.stderr.write("config error: missing {key} in /etc/{name}.conf\n")
time.sleep(0.2)
sys.exit(3)
'''


@family("networking.port-owner-report", category="networking", skills=("net.ports", "processes.inspect"),
        difficulty="medium")
def port_owner_report(rng: random.Random, inp) -> Step:
    env = pick(rng, ("staging", "lab", "dev", "ci", "edge"))
    names = [f"{w}{pick(rng, ('d', '-svc', '-worker', '', '-api'))}" for w in words(rng, rng.randint(3, 5))]
    ghost = pick(rng, [f"{w}-agent" for w in words(rng, 2) if f"{w}-agent" not in names])
    ports: dict[str, int] = {}
    used: set[int] = set()
    for n in names + [ghost]:
        ports[n] = _port(rng, used)
        used.add(ports[n])
    files = {}
    hosts = {}
    for n in names:
        hosts[n] = pick(rng, ("127.0.0.1", "0.0.0.0"))
        files[f"/opt/{env}/services/{n}.py"] = _SERVICE.format(
            desc=f"{n}: {pick(rng, ('metrics', 'cache', 'queue', 'auth', 'search'))} service",
            body=_LISTEN_BODY.format(host=hosts[n], banner=f"{n} ready"))
    files[f"/opt/{env}/services/{ghost}.py"] = _SERVICE.format(
        desc=f"{ghost}: sidecar", body=_GHOST_BODY.format(key=pick(rng, ("token", "endpoint")), name=ghost))
    order = names + [ghost]
    rng.shuffle(order)
    launcher = f"/usr/local/bin/start-{env}-services"
    start = ["#!/bin/bash", f"# Start the {env} services in the background.", "cd /"]
    for n in order:
        start.append(f"setsid python3 /opt/{env}/services/{n}.py --port {ports[n]} "
                     f"> /var/log/{n}.log 2>&1 < /dev/null &")
    start += ["# wait (at most 10 s) until the services that came up are listening",
              "for i in $(seq 50); do",
              f"  n=$(ss -Hltn | wc -l); [ \"$n\" -ge {len(names)} ] && break; sleep 0.2",
              "done", f"echo \"{env} services started\""]
    files[launcher] = "\n".join(start) + "\n"
    victim = pick(rng, names)
    report = pick(rng, ("/app/listeners.txt", f"/app/{env}-ports.txt", "/root/port-report.txt"))
    listening = sorted(names, key=lambda n: ports[n])
    instruction = phrasing(
        rng,
        "Run `{launcher}` to bring up the {env} services. Then find out which TCP ports are being listened on "
        "and by which process, and write `{report}`: one line per listening TCP port, sorted by port number, "
        "formatted `<port> <pid> <service>`, where `<service>` is the name of the script the process runs, "
        "without directory and without `.py`. Finally stop the service that listens on port {vport} (only that "
        "one; leave the others running).",
        "First start the services with `{launcher}`. Some of them may fail to come up — check what is really "
        "listening. Produce `{report}` listing every listening TCP port as `<port> <pid> <service>` (ascending "
        "port order; `<service>` = basename of the Python script without the `.py` suffix). Afterwards kill "
        "the process listening on port {vport}, and nothing else.",
        "The {env} environment is started by `{launcher}` (run it). Audit the listening TCP sockets: write one "
        "line per port to `{report}` as `<port> <pid> <service>` sorted by port, where `<pid>` is the process "
        "that owns the listening socket and `<service>` is its script's file name minus `.py`. Then shut down "
        "whatever listens on port {vport}; the other services must keep running.",
        launcher=launcher, env=env, report=report, vport=ports[victim],
    )
    solution = f"""{launcher}
for i in $(seq 50); do [ "$(ss -Hltn | wc -l)" -ge {len(names)} ] && break; sleep 0.2; done
ss -Hltnp | while read -r state recv send local peer procs; do
  port=${{local##*:}}
  pid=$(printf '%s' "$procs" | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2)
  svc=$(tr '\\0' ' ' < /proc/$pid/cmdline | grep -o '[^/ ]*\\.py' | head -n1)
  echo "$port $pid ${{svc%.py}}"
done | sort -n -u > {sh_quote(report)}
cat {sh_quote(report)}
kill "$(awk '$1 == {ports[victim]} {{print $2}}' {sh_quote(report)})"
for i in $(seq 50); do ss -Hltn | grep -q ':{ports[victim]} ' || break; sleep 0.1; done
"""
    tests = _NET_HELPERS + f"""
REPORT = {report!r}
EXPECTED = {py([[ports[n], n] for n in listening])}
VICTIM_PORT = {ports[victim]}


def rows():
    out = []
    for ln in open(REPORT).read().splitlines():
        if ln.strip():
            port, pid, svc = ln.split()
            out.append((int(port), int(pid), svc))
    return out


def test_report_ports_and_services():
    got = rows()
    assert [[p, s] for p, _, s in got] == EXPECTED


def test_report_pids_own_the_sockets():
    for port, pid, svc in rows():
        if port == VICTIM_PORT:
            continue
        assert pid in owners_of_port(port), (port, pid)
        assert svc + ".py" in open(f"/proc/{{pid}}/cmdline").read()


def test_victim_stopped_others_running():
    time.sleep(0.2)
    live = listeners()
    assert VICTIM_PORT not in live
    victim_pid = [pid for port, pid, _ in rows() if port == VICTIM_PORT][0]
    assert not pid_alive(victim_pid)
    for port, _ in EXPECTED:
        if port != VICTIM_PORT:
            assert port in live, port
"""
    return Step(instruction, solution, tests, files=files, executable=(launcher,),
                params={"env": env, "ports": ports, "ghost": ghost, "victim": victim, "report": report})


# --------------------------------------------------------------------------------------------
# networking.tcp-line-server
# --------------------------------------------------------------------------------------------

_COMMANDS = {
    "PING": ("`PING` → `PONG`", lambda a, st: "PONG"),
    "ECHO": ("`ECHO <text>` → `<text>` unchanged", lambda a, st: a),
    "UPPER": ("`UPPER <text>` → the text in upper case", lambda a, st: a.upper()),
    "REVERSE": ("`REVERSE <text>` → the text reversed character by character", lambda a, st: a[::-1]),
    "ADD": ("`ADD <int> <int> ...` → the sum of the integers (negative numbers allowed)",
            lambda a, st: str(sum(int(x) for x in a.split()))),
    "WORDS": ("`WORDS <text>` → the number of whitespace-separated words", lambda a, st: str(len(a.split()))),
    "SET": ("`SET <key> <value>` → `OK`; stores the value (shared by all connections)", None),
    "GET": ("`GET <key>` → the stored value, or `NIL` if the key was never set", None),
}

_LINE_SERVER = r'''import socketserver

PORT = {port}
STORE = {{}}
BANNER = {banner!r}
CASE_INSENSITIVE = {ci!r}
ENABLED = {enabled!r}


def answer(line):
    cmd, _, arg = line.partition(" ")
    if CASE_INSENSITIVE:
        cmd = cmd.upper()
    if cmd not in ENABLED:
        return "ERR unknown command"
    if cmd == "PING":
        return "PONG"
    if cmd == "ECHO":
        return arg
    if cmd == "UPPER":
        return arg.upper()
    if cmd == "REVERSE":
        return arg[::-1]
    if cmd == "ADD":
        try:
            return str(sum(int(x) for x in arg.split()))
        except ValueError:
            return "ERR bad number"
    if cmd == "WORDS":
        return str(len(arg.split()))
    if cmd == "SET":
        key, _, value = arg.partition(" ")
        STORE[key] = value
        return "OK"
    if cmd == "GET":
        return STORE.get(arg, "NIL")
    return "ERR unknown command"


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        if BANNER:
            self.wfile.write((BANNER + "\n").encode())
        for raw in self.rfile:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            cmd = line.split(" ", 1)[0]
            if (cmd.upper() if CASE_INSENSITIVE else cmd) == "QUIT":
                self.wfile.write(b"BYE\n")
                return
            self.wfile.write((answer(line) + "\n").encode())


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


Server(("127.0.0.1", PORT), Handler).serve_forever()
'''


@family("networking.tcp-line-server", category="networking", skills=("net.sockets", "python.script"),
        difficulty="hard")
def tcp_line_server(rng: random.Random, inp) -> Step:
    port = _port(rng)
    name = ident(rng, 1)
    enabled = ["PING"] + rng.sample(["ECHO", "UPPER", "REVERSE", "ADD", "WORDS"], rng.randint(2, 3))
    stateful = rng.random() < 0.6
    if stateful:
        enabled += ["SET", "GET"]
    ci = rng.random() < 0.5
    banner = pick(rng, (None, f"{name.upper()} READY", f"welcome to {name}"))
    path = f"/app/{name}-server/{pick(rng, ('server.py', 'linesrv.py', 'main.py'))}"
    rules = "\n".join(f"- {_COMMANDS[c][0]}" for c in enabled)
    extra = []
    if banner:
        extra.append(f"as soon as a client connects, the server sends the line `{banner}`")
    extra.append("`QUIT` → `BYE`, then the server closes that connection")
    extra.append("any other command → `ERR unknown command`")
    extra.append("command names are case-insensitive (`ping` works like `PING`)" if ci
                 else "command names are upper case; `ping` is an unknown command")
    extra.append("several clients can be connected at the same time")
    rules += "\n" + "\n".join(f"- {e}" for e in extra)
    instruction = phrasing(
        rng,
        "Implement a line-based TCP server (any language; the image has Python 3) and leave it running in the "
        "background on 127.0.0.1 port {port}. Clients send one command per line (`\\n`-terminated; a trailing "
        "`\\r` must be ignored); the server answers each command with exactly one line:\n\n{rules}\n\n"
        "Keep the source at `{path}`.",
        "Write `{path}`: a TCP service listening on 127.0.0.1:{port} that speaks this text protocol (one "
        "request line in, one response line out, newline-terminated; strip a trailing carriage return):\n\n"
        "{rules}\n\nStart it detached so it keeps running after you are done.",
        "We need a tiny TCP line protocol server on 127.0.0.1:{port}. Put its code in `{path}` and run it in "
        "the background (it must outlive your shell). Each newline-terminated request (ignore a trailing `\\r`) "
        "gets exactly one newline-terminated reply:\n\n{rules}",
        port=port, rules=rules, path=path,
    )
    src = _LINE_SERVER.format(port=port, banner=banner, ci=ci, enabled=enabled)
    solution = (f"mkdir -p {sh_quote(path.rsplit('/', 1)[0])}\ncat > {sh_quote(path)} <<'PYEOF'\n{src}PYEOF\n"
                + _bg(f"python3 {sh_quote(path)}", f"/tmp/{name}-server.log") + "\n" + _wait(port) + "\n")
    # conversations: (request, expected reply)
    texts = [" ".join(words(rng, rng.randint(1, 4))), f"{word(rng)}  {pick(rng, UNICODE_WORDS)} {word(rng)}"]
    convo = [("PING", "PONG")]
    for c in enabled:
        if c in ("ECHO", "UPPER", "REVERSE", "WORDS"):
            for t in texts:
                if c == "UPPER":  # keep upper-casing to ASCII: languages disagree on e.g. "ß"
                    t = t.encode("ascii", "ignore").decode()
                convo.append((f"{c} {t}", _COMMANDS[c][1](t, None)))
        elif c == "ADD":
            nums = [rng.randint(-500, 500) for _ in range(rng.randint(2, 5))]
            convo.append((f"ADD {' '.join(map(str, nums))}", str(sum(nums))))
    bogus = pick(rng, ("FROB x", "HELLO there", "DELETE all", "STATS"))
    convo.append((bogus, "ERR unknown command"))
    lower = ("ping", "PONG" if ci else "ERR unknown command")
    key, val = word(rng), f"{word(rng)}-{rng.randint(1, 999)}"
    tests = _NET_HELPERS + f"""
PORT = {port}
BANNER = {banner!r}
CONVO = {py(convo)}
LOWER = {py(lower)}
STATEFUL = {stateful!r}
KEY, VALUE = {key!r}, {val!r}
PATH = {path!r}


class Client:
    def __init__(self):
        self.sock = socket.create_connection(("127.0.0.1", PORT), timeout=10)
        self.f = self.sock.makefile("rb")
        if BANNER:
            assert self.readline() == BANNER

    def readline(self):
        return self.f.readline().decode("utf-8").rstrip("\\n")

    def ask(self, line, crlf=False):
        self.sock.sendall((line + ("\\r\\n" if crlf else "\\n")).encode("utf-8"))
        return self.readline()

    def close(self):
        self.f.close()
        self.sock.close()


def test_source_exists():
    assert os.path.isfile(PATH)


def test_protocol():
    assert wait_port(PORT)
    c = Client()
    for req, want in CONVO:
        assert c.ask(req) == want, req
    assert c.ask(LOWER[0]) == LOWER[1]
    c.close()


def test_crlf_is_tolerated():
    assert wait_port(PORT)
    c = Client()
    assert c.ask(CONVO[-2][0], crlf=True) == CONVO[-2][1]
    c.close()


def test_quit_closes_connection():
    assert wait_port(PORT)
    c = Client()
    assert c.ask("QUIT") == "BYE"
    assert c.f.readline() == b""
    c.close()


def test_concurrent_clients_and_shared_state():
    assert wait_port(PORT)
    a = Client()
    b = Client()          # a is still connected: the server must serve b meanwhile
    assert b.ask("PING") == "PONG"
    if STATEFUL:
        assert b.ask(f"GET {{KEY}}") == "NIL"
        assert a.ask(f"SET {{KEY}} {{VALUE}}") == "OK"
        assert b.ask(f"GET {{KEY}}") == VALUE
    assert a.ask("PING") == "PONG"
    a.close()
    b.close()
"""
    return Step(instruction, solution, tests,
                params={"port": port, "commands": enabled, "case_insensitive": ci, "banner": banner})


# --------------------------------------------------------------------------------------------
# networking.hosts-entries
# --------------------------------------------------------------------------------------------

@family("networking.hosts-entries", category="networking", skills=("net.config",), difficulty="medium",
        produces="lines")
def hosts_entries(rng: random.Random, inp) -> Step:
    project = ident(rng, 1)
    dom = pick(rng, (f"{project}.internal", f"{project}.lan", f"corp.test", f"{project}.local"))
    roles = rng.sample(["db", "cache", "api", "queue", "auth", "search", "metrics", "files", "mail"],
                       rng.randint(4, 6))
    net = pick(rng, ("10.{a}.{b}", "192.168.{a}", "172.16.{a}"))
    a, b = rng.randint(1, 250), rng.randint(1, 250)

    def ip():
        base = net.format(a=a, b=b)
        parts = 4 - base.count(".") - 1
        return base + "".join(f".{rng.randint(2, 250)}" for _ in range(parts))

    lines = [f"# staged host entries for {project} ({pick(rng, ('migration', 'rollout', 'DR drill'))})", ""]
    final: dict[str, str] = {}
    entries = []
    for r in roles:
        names = [f"{r}.{dom}"] + ([r] if rng.random() < 0.5 else [])
        entries.append((ip(), names))
    dup = pick(rng, entries)
    bad_names = [f"{pick(rng, ('legacy', 'old', 'tmp'))}-{word(rng)}.{dom}"]
    for addr, names in entries:
        sep = pick(rng, (" ", "\t", "   "))
        trail = pick(rng, ("", "", f"  # {word(rng)}"))
        lines.append(f"{addr}{sep}{' '.join(names)}{trail}")
        for n in names:
            final[n] = addr
    # an invalid line and a later override of one entry
    bad_ip = pick(rng, ("10.0.300.4", "192.168.1", "172.16.5.256", "10.1.2.3.4"))
    lines.insert(rng.randint(2, len(lines)), f"{bad_ip} {bad_names[0]}")
    new_ip = ip()
    while new_ip == dup[0]:
        new_ip = ip()
    lines.append(f"{new_ip} {dup[1][0]}    # moved")
    final[dup[1][0]] = new_ip
    if rng.random() < 0.5:
        lines.append("   ")
    staged = f"/app/{project}.hosts"
    out = pick(rng, (f"/app/{project}-resolved.txt", "/app/resolved.txt", f"/root/{project}-hosts-check.txt"))
    expected = [f"{n} {final[n]}" for n in sorted(final)]
    instruction = phrasing(
        rng,
        "Apply the staged host entries in `{staged}` to the system's `/etc/hosts` so the names resolve locally. "
        "Skip comment and blank lines and any line whose address is not a valid IPv4 address; when a hostname is "
        "defined more than once, the last valid definition wins. Keep the existing entries of `/etc/hosts` (e.g. "
        "`localhost`), and make sure each staged hostname ends up on exactly one line. Then write `{out}` with one "
        "line per staged hostname, `<hostname> <address>` as it now resolves, sorted by hostname.",
        "Merge `{staged}` into `/etc/hosts`: every valid line there maps an IPv4 address to one or more names "
        "(comments start with `#`; lines with a malformed address must be ignored; for a name that appears "
        "twice, the later line is authoritative). Don't lose what is already in `/etc/hosts`, and don't leave "
        "duplicate entries for a name. Finally record the resulting mapping in `{out}` as `<hostname> <address>` "
        "lines in alphabetical order of hostname.",
        "The new addresses for the `{project}` hosts are staged in `{staged}`. Add them to `/etc/hosts` (keeping "
        "the current content), so that e.g. `getent hosts <name>` works for every name listed there; ignore "
        "comments, blank lines and entries with an invalid IPv4 address, and if a name is listed twice use the "
        "last valid entry, so that each name appears on a single line. Write the final name→address pairs to "
        "`{out}`, sorted by name, one `<hostname> <address>` per line.",
        staged=staged, out=out, project=project,
    )
    solution = f"""python3 - <<'PYEOF'
import ipaddress
staged = {staged!r}
final, order = {{}}, []
for raw in open(staged):
    line = raw.split("#", 1)[0].split()
    if not line:
        continue
    try:
        ipaddress.IPv4Address(line[0])
    except ValueError:
        continue
    for name in line[1:]:
        final[name] = line[0]
# keep the existing lines except those naming a staged host, then append one line per address
keep = []
for raw in open("/etc/hosts"):
    fields = raw.split("#", 1)[0].split()
    if fields and any(n in final for n in fields[1:]):
        continue
    keep.append(raw.rstrip("\\n"))
by_ip = {{}}
for name, addr in final.items():
    by_ip.setdefault(addr, []).append(name)
keep += [f"{{addr}} {{' '.join(names)}}" for addr, names in by_ip.items()]
# /etc/hosts is bind-mounted in containers: rewrite it in place instead of replacing the file
with open("/etc/hosts", "w") as f:
    f.write("\\n".join(keep) + "\\n")
PYEOF
for n in $(grep -v '^\\s*#' {sh_quote(staged)} | awk 'NF>1{{for(i=2;i<=NF;i++){{if($i ~ /^#/) break; print $i}}}}' | sort -u); do
  getent hosts "$n" | awk -v n="$n" 'NR==1{{print n, $1}}'
done | sort > {sh_quote(out)}
cat {sh_quote(out)}
"""
    tests = f"""
import socket
from pathlib import Path

FINAL = {py(final)}
BAD = {py(bad_names)}
OUT = {out!r}
EXPECTED = {py(expected)}


def test_names_resolve():
    for name, addr in FINAL.items():
        assert socket.gethostbyname(name) == addr, name


def test_invalid_entries_ignored():
    text = Path("/etc/hosts").read_text()
    for name in BAD:
        assert name not in text


def test_localhost_kept():
    assert socket.gethostbyname("localhost") == "127.0.0.1"


def test_each_name_on_one_line():
    counts = {{}}
    for raw in Path("/etc/hosts").read_text().splitlines():
        fields = raw.split("#", 1)[0].split()
        for name in fields[1:]:
            counts[name] = counts.get(name, 0) + 1
    for name in FINAL:
        assert counts.get(name) == 1, name


def test_report():
    got = [ln.strip() for ln in Path(OUT).read_text().splitlines() if ln.strip()]
    assert [" ".join(ln.split()) for ln in got] == EXPECTED
"""
    return Step(instruction, solution, tests, files={staged: lines_text(lines)},
                output=Artifact(out, "lines", expected),
                params={"staged": staged, "out": out, "names": len(final)})
