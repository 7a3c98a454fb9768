import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

PORT = 7411
INITIAL = json.loads(Path("/tests/initial.json").read_text())


class Client:
    def __init__(self):
        self.sock = socket.create_connection(("127.0.0.1", PORT), timeout=5)
        self.f = self.sock.makefile("rwb")

    def ask(self, line, eol=b"\n"):
        self.f.write(line.encode() + eol)
        self.f.flush()
        return self.f.readline().decode().rstrip("\n")

    def close(self):
        self.sock.close()


def wait_port():
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("server not listening")


def test_daemon_running_with_pid_file():
    pid = int(Path("/run/kvd.pid").read_text().strip())
    assert b"kvd.py" in Path(f"/proc/{pid}/cmdline").read_bytes()
    wait_port()


def test_initial_data_and_count():
    c = Client()
    for k, v in INITIAL.items():
        assert c.ask(f"GET {k}") == f"VALUE {v}"
    assert c.ask("COUNT") == str(len(INITIAL))
    assert c.ask("GET no-such-key") == "NOT_FOUND"
    c.close()


def test_set_del_and_errors():
    c = Client()
    assert c.ask("SET greeting héllo wide   world") == "OK"
    assert c.ask("GET greeting", eol=b"\r\n") == "VALUE héllo wide   world"
    assert c.ask("SET temp 1") == "OK"
    assert c.ask("DEL temp") == "DELETED"
    assert c.ask("DEL temp") == "NOT_FOUND"
    assert c.ask("FROB x") == "ERROR unknown command"
    assert c.ask("COUNT") == str(len(INITIAL) + 1)
    c.close()


def test_idle_client_does_not_block_others():
    idle = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    idle.sendall(b"GE")  # half a request, then silence
    c = Client()
    assert c.ask("COUNT") == str(len(INITIAL) + 1)
    c.close()
    idle.close()


def test_data_survives_restart():
    pid = int(Path("/run/kvd.pid").read_text().strip())
    os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        if not Path(f"/proc/{pid}").exists():
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
    proc = subprocess.Popen(["python3", "/opt/kv/kvd.py"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_port()
        c = Client()
        assert c.ask("GET greeting") == "VALUE héllo wide   world"
        assert c.ask("GET temp") == "NOT_FOUND"
        c.close()
    finally:
        proc.terminate()
