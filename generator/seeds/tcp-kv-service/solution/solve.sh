#!/bin/bash
set -euo pipefail
mkdir -p /opt/kv
cat > /opt/kv/kvd.py <<'PY'
#!/usr/bin/env python3
"""Line-protocol key/value server on 127.0.0.1:7411, persisted in /srv/kv/data.tsv."""
import os
import socketserver
import threading

HOST, PORT = "127.0.0.1", 7411
DATA = "/srv/kv/data.tsv"
lock = threading.Lock()
store = {}


def load():
    if os.path.exists(DATA):
        with open(DATA, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if "\t" in line:
                    k, v = line.split("\t", 1)
                    store[k] = v


def save():
    tmp = DATA + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(f"{k}\t{v}\n" for k, v in store.items())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, DATA)


def handle(line):
    cmd, _, rest = line.partition(" ")
    with lock:
        if cmd == "GET" and rest and " " not in rest:
            return f"VALUE {store[rest]}" if rest in store else "NOT_FOUND"
        if cmd == "SET" and " " in rest:
            key, value = rest.split(" ", 1)
            if key:
                store[key] = value
                save()
                return "OK"
        if cmd == "DEL" and rest and " " not in rest:
            if rest in store:
                del store[rest]
                save()
                return "DELETED"
            return "NOT_FOUND"
        if line == "COUNT":
            return str(len(store))
    return "ERROR unknown command"


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        for raw in self.rfile:
            line = raw.decode("utf-8", "replace").rstrip("\n").rstrip("\r")
            self.wfile.write((handle(line) + "\n").encode("utf-8"))
            self.wfile.flush()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    load()
    with Server((HOST, PORT), Handler) as srv:
        srv.serve_forever()
PY
setsid nohup python3 /opt/kv/kvd.py > /var/log/kvd.log 2>&1 < /dev/null &
echo $! > /run/kvd.pid
for i in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/7411) 2>/dev/null && break; sleep 0.1; done
