import grp
import json
import os
import pwd
import stat
from pathlib import Path

ROOT = "/srv/www/storefront"
LAYOUT = json.loads(Path("/tests/layout.json").read_text())


def entries():
    for dirpath, dirnames, filenames in os.walk(ROOT):
        for name in dirnames + filenames:
            yield os.path.join(dirpath, name)


def want_mode(path, is_dir):
    rel = os.path.relpath(path, ROOT)
    if is_dir:
        return 0o2770 if rel == "uploads" or rel.startswith("uploads/") else 0o2750
    if rel == ".env":
        return 0o600
    if os.path.dirname(rel) == "cgi-bin" and rel.endswith((".cgi", ".sh")):
        return 0o750
    return 0o640


def test_audit_lists_the_original_problems():
    got = Path("/root/perm_audit.txt").read_text()
    assert got.splitlines() == Path("/tests/expected_audit.txt").read_text().splitlines()


def test_tree_is_intact():
    for rel in LAYOUT["files"]:
        assert os.path.isfile(os.path.join(ROOT, rel)), rel
    for rel in LAYOUT["dirs"]:
        assert os.path.isdir(os.path.join(ROOT, rel)), rel


def test_owner_and_group():
    uid = pwd.getpwnam("webadm").pw_uid
    gid = grp.getgrnam("webops").gr_gid
    for path in [ROOT, *entries()]:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            continue
        assert (st.st_uid, st.st_gid) == (uid, gid), path


def test_modes():
    assert stat.S_IMODE(os.stat(ROOT).st_mode) == 0o2750
    for path in entries():
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            continue
        got = stat.S_IMODE(st.st_mode)
        assert got == want_mode(path, stat.S_ISDIR(st.st_mode)), f"{path}: {oct(got)}"


def test_symlink_not_followed():
    link = os.path.join(ROOT, "docs", "passwd-example")
    assert os.path.islink(link)
    st = os.stat("/etc/passwd")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0, 0o644)
