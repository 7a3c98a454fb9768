import json
import os
from pathlib import Path

EXP = json.loads(Path("/tests/expected.json").read_text())
LIB = Path("/srv/photos")


def test_library_tree():
    got = {}
    for p in LIB.rglob("*"):
        if p.is_file() and p.name != "import.log":
            got[p.relative_to(LIB).as_posix()] = p.read_text()
    assert got == EXP["tree"]


def test_inbox_only_hidden_left():
    assert sorted(os.listdir("/srv/inbox")) == [".DS_Store"]


def test_log():
    assert (LIB / "import.log").read_text().splitlines() == EXP["log"]
