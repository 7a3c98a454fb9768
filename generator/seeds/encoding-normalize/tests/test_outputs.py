from pathlib import Path

import pytest

CLEAN = Path("/srv/exports/clean")
EXPECTED = sorted(Path("/tests/expected").glob("*.csv"))


@pytest.mark.parametrize("exp", EXPECTED, ids=lambda p: p.name)
def test_normalized(exp):
    got = (CLEAN / exp.name).read_bytes()
    assert not got.startswith(b"\xef\xbb\xbf")
    assert b"\r" not in got
    assert got.decode("utf-8") == exp.read_text(encoding="utf-8")
