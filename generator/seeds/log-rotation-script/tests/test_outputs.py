import gzip
import json
import os
import pwd
import grp
import stat
import subprocess
import time
from pathlib import Path

import pytest

DIR = Path("/var/log/checkout")
SCRIPT = "/usr/local/sbin/rotate-checkout"
KEEP = 4
ORIG = json.loads(Path("/tests/originals.json").read_text())
C = ORIG["contents"]
MAIN, OTHER, EMPTY = ORIG["main"], ORIG["other"], ORIG["empty"]


def read(name):
    p = DIR / name
    return gzip.decompress(p.read_bytes()).decode() if name.endswith(".gz") else p.read_text()


def wait_for(marker, n):
    for _ in range(100):
        if marker.exists() and len(marker.read_text().split()) >= n:
            return
        time.sleep(0.05)


@pytest.fixture(scope="module")
def rotated():
    """Rotate twice; a process that counts SIGHUPs is named in the pid file."""
    marker = Path("/tmp/hup-count")
    marker.unlink(missing_ok=True)
    proc = subprocess.Popen(["bash", "-c", f"trap 'echo hup >> {marker}' HUP; while :; do sleep 0.05; done"])
    time.sleep(0.3)
    Path("/run/checkout.pid").write_text(f"{proc.pid}\n")
    state = {}
    r1 = subprocess.run([SCRIPT], capture_output=True, text=True, timeout=60)
    state["first"] = {p.name: read(p.name) for p in DIR.iterdir()}
    wait_for(marker, 1)  # signals do not queue: let the trap run before the next one
    (DIR / f"{MAIN}.log").write_text("second generation\n")
    r2 = subprocess.run([SCRIPT], capture_output=True, text=True, timeout=60)
    state["second"] = {p.name: read(p.name) for p in DIR.iterdir()}
    wait_for(marker, 2)
    proc.kill()
    Path("/run/checkout.pid").unlink()
    r3 = subprocess.run([SCRIPT], capture_output=True, text=True, timeout=60)  # dead pid file gone
    state["runs"] = (r1, r2, r3)
    state["hups"] = len(marker.read_text().split()) if marker.exists() else 0
    return state


def expected_first():
    old = [C[f"{MAIN}.log"], C[f"{MAIN}.log.1"], C[f"{MAIN}.log.2"], C[f"{MAIN}.log.3"]]
    want = {f"{MAIN}.log": "", f"{MAIN}.log.1": old[0]}
    for n, text in enumerate(old[1:], start=2):
        if n <= KEEP:
            want[f"{MAIN}.log.{n}.gz"] = text
    want.update({f"{OTHER}.log": "", f"{OTHER}.log.1": C[f"{OTHER}.log"], f"{EMPTY}.log": ""})
    return want


def test_runs_succeed(rotated):
    for r in rotated["runs"]:
        assert r.returncode == 0, r.stderr


def test_first_rotation(rotated):
    assert rotated["first"] == expected_first()


def test_second_rotation(rotated):
    first = expected_first()
    want = {f"{MAIN}.log": "", f"{MAIN}.log.1": "second generation\n",
            f"{MAIN}.log.2.gz": first[f"{MAIN}.log.1"]}
    for n in range(2, KEEP):
        if f"{MAIN}.log.{n}.gz" in first:
            want[f"{MAIN}.log.{n + 1}.gz"] = first[f"{MAIN}.log.{n}.gz"]
    got = {k: v for k, v in rotated["second"].items() if k.startswith(f"{MAIN}.")}
    assert got == want


def test_new_log_keeps_owner_and_mode(rotated):
    st = os.stat(DIR / f"{MAIN}.log")
    assert pwd.getpwuid(st.st_uid).pw_name == "shopd"
    assert grp.getgrgid(st.st_gid).gr_name == "adm"
    assert stat.S_IMODE(st.st_mode) == 0o640


def test_sighup_sent(rotated):
    assert rotated["hups"] >= 2


def test_cron_entry():
    lines = [ln.split() for ln in Path("/etc/cron.d/checkout-logrotate").read_text().splitlines()
             if ln.strip() and not ln.lstrip().startswith("#") and "=" not in ln.split()[0]]
    assert len(lines) == 1
    f = lines[0]
    assert f[:5] == "30 3 * * *".split()
    assert f[5] == "root"
    assert f[6] == SCRIPT
