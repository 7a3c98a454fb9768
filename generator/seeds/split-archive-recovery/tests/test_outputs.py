import hashlib
import json
from pathlib import Path

EXP = json.loads(Path("/tests/expected.json").read_text())
OUT = Path("/srv/landing")


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_bad_parts_listed():
    assert (OUT / "bad_parts.txt").read_text().split() == EXP["bad_parts"]


def test_archive_rebuilt():
    assert sha(OUT / "dataset.tar.gz") == EXP["archive_sha256"]


def test_extracted():
    for name, digest in EXP["members"].items():
        assert sha(OUT / name) == digest, name
