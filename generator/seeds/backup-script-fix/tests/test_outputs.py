import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

SCRIPT = "/opt/nightly/bin/run_backup.sh"
SRC = Path("/srv/appdata")
DEST = Path("/var/backups/appdata")
KEEP = 6
OLD = ["20231229", "20231230", "20231231"]
STAMPS = ["20240101", "20240102", "20240103", "20240104", "20240105", "20240107", "20240108"]
EXPECTED = json.loads(Path("/tests/expected_members.json").read_text())


def run(stamp):
    env = dict(os.environ, BACKUP_STAMP=stamp)
    cwd = tempfile.mkdtemp()  # an unrelated, empty working directory
    return subprocess.run([SCRIPT], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def runs():
    return [run(s) for s in STAMPS]


def test_every_run_succeeds(runs):
    for r in runs:
        assert r.returncode == 0, r.stderr


def test_archive_holds_exactly_the_data(runs):
    archive = DEST / f"appdata-{STAMPS[-1]}.tar.gz"
    assert archive.is_file()
    with tarfile.open(archive) as tar:
        names = sorted(m.name[2:] if m.name.startswith("./") else m.name
                       for m in tar.getmembers() if m.isfile())
    assert names == EXPECTED


def test_retention_keeps_newest_stamps(runs):
    left = sorted(p.name for p in DEST.glob("appdata-*.tar.gz"))
    want = sorted(f"appdata-{s}.tar.gz" for s in OLD + STAMPS)[-KEEP:]
    assert left == want


def test_missing_source_fails_cleanly(runs):
    away = Path(str(SRC) + ".away")
    shutil.move(str(SRC), str(away))  # a copy: image layers cannot be renamed in place
    try:
        r = run("20240301")
    finally:
        shutil.move(str(away), str(SRC))
    assert r.returncode != 0
    assert not (DEST / "appdata-20240301.tar.gz").exists()
