import json
import os
from pathlib import Path

EXP = json.loads(Path("/tests/expected.json").read_text())


def test_contents_unchanged():
    for path, content in EXP["contents"].items():
        assert Path(path).read_text() == content, path


def test_duplicates_share_the_canonical_inode():
    for group in EXP["groups"]:
        ino = os.stat(group[0]).st_ino
        for p in group[1:]:
            assert os.stat(p).st_ino == ino, p


def test_distinct_contents_stay_distinct():
    canon = [os.stat(g[0]).st_ino for g in EXP["groups"]] + [os.stat(p).st_ino for p in EXP["empty"]]
    assert len(set(canon)) == len(canon)


def test_report():
    got = Path("/root/dedupe_report.tsv").read_text().splitlines()
    assert got == EXP["report"]
