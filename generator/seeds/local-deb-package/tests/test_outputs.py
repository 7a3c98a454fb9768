import os
import stat
import subprocess
from pathlib import Path

DEB = "/app/dist/netprobe_1.3.0-1_all.deb"


def run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_control_fields():
    want = {"Package": "netprobe", "Version": "1.3.0-1", "Architecture": "all",
            "Maintainer": "Ops Team <ops@example.com>", "Depends": "bash"}
    for field, value in want.items():
        r = run("dpkg-deb", "-f", DEB, field)
        assert r.returncode == 0 and r.stdout.strip() == value, (field, r.stdout, r.stderr)
    assert run("dpkg-deb", "-f", DEB, "Description").stdout.strip()


def test_contents_and_ownership():
    listing = {}
    for line in run("dpkg-deb", "-c", DEB).stdout.splitlines():
        f = line.split()
        listing[f[-1].lstrip(".")] = (f[0], f[1])
    assert listing["/usr/bin/netprobe"] == ("-rwxr-xr-x", "root/root")
    assert listing["/etc/netprobe.conf"][1] == "root/root"
    assert listing["/usr/share/doc/netprobe/copyright"][1] == "root/root"


def test_installed():
    r = run("dpkg-query", "-W", "-f=${Status} ${Version}", "netprobe")
    assert r.stdout == "install ok installed 1.3.0-1"
    conffiles = Path("/var/lib/dpkg/info/netprobe.conffiles").read_text().split()
    assert "/etc/netprobe.conf" in conffiles


def test_postinst_ran_and_command_works():
    st = os.stat("/var/lib/netprobe")
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o750
    r = subprocess.run("netprobe --version", shell=True, capture_output=True, text=True,
                       env={"PATH": "/usr/local/bin:/usr/bin:/bin"})
    assert r.stdout.strip() == "netprobe 1.3.0"
    assert stat.S_IMODE(os.stat("/usr/bin/netprobe").st_mode) == 0o755
