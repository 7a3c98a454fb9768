import json
from pathlib import Path

ROOT = Path("/app/payments-api")
EXPECTED = json.loads(Path("/tests/expected_tree.json").read_text())


def test_files_redacted_exactly():
    for rel, content in EXPECTED.items():
        assert (ROOT / rel).read_text() == content, rel


def test_no_extra_files():
    got = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*") if p.is_file())
    assert got == sorted(EXPECTED)


def test_report():
    got = Path("/app/redaction_report.txt").read_text().splitlines()
    assert got == Path("/tests/expected_report.txt").read_text().splitlines()
