from pathlib import Path


def test_stats_exact():
    got = Path("/app/reports/endpoint_stats.tsv").read_text().splitlines()
    want = Path("/tests/expected.tsv").read_text().splitlines()
    assert got[0] == want[0]
    assert got[1:] == want[1:]
