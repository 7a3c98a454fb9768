import csv
from pathlib import Path


def rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return [r for r in csv.reader(f) if r]


def test_report():
    assert rows("/app/out/revenue_by_country.csv") == rows("/tests/expected_report.csv")


def test_orphans():
    got = Path("/app/out/orphans.txt").read_text().split()
    assert got == Path("/tests/expected_orphans.txt").read_text().split()
