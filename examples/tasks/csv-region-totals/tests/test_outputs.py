import json
from pathlib import Path

EXPECTED = {"north": 149.75, "south": 100.05, "east": 301.0}


def test_totals_file():
    assert Path("/app/totals.json").is_file()


def test_totals_values():
    got = json.loads(Path("/app/totals.json").read_text())
    assert set(got) == set(EXPECTED)
    for region, value in EXPECTED.items():
        assert abs(float(got[region]) - value) < 1e-6, region
