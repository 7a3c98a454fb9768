import json
import os
from pathlib import Path

ROOT = Path("/var/cache/appsrv")
EXP = json.loads(Path("/tests/expected.json").read_text())


def test_files():
    got = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*")
                 if p.is_file() and p.name != "KEEP")
    assert got == EXP["remaining"]


def test_directories():
    got = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*") if p.is_dir())
    assert got == EXP["dirs"]


def test_report():
    assert Path("/root/cleanup_report.txt").read_text().splitlines() == EXP["report"]
