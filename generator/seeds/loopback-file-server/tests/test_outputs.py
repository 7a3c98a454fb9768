import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

PORT = 8731
EXP = json.loads(Path("/tests/expected.json").read_text())


def get(path):
    url = f"http://127.0.0.1:{PORT}/" + urllib.parse.quote(path)
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""
    except OSError as e:  # nothing listening: fail fast
        return None, str(e)


def listeners():
    """(local ip hex, port, inode) of listening TCP sockets."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            ip, port = f[1].split(":")
            if f[3] == "0A":
                out.append((ip, int(port, 16), f[9]))
    return out


def test_pid_file_points_at_running_server():
    pid = int(Path("/run/pubserve.pid").read_text().strip())
    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    assert "pubserve.py" in cmd
    socks = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    inodes = {inode for ip, port, inode in listeners() if port == PORT}
    assert {f"socket:[{i}]" for i in inodes} & socks, "the PID does not own the listening socket"


def test_bound_to_loopback_only():
    on_port = [ip for ip, port, inode in listeners() if port == PORT]
    assert on_port == ["0100007F"], on_port


@pytest.mark.parametrize("path", sorted(EXP["files"]))
def test_serves_files(path):
    assert get(path) == (200, EXP["files"][path])


@pytest.mark.parametrize("path", EXP["hidden"])
def test_hides_dotfiles(path):
    status, body = get(path)
    assert status == 404


def test_log_file():
    assert Path("/var/log/pubserve.log").is_file()
