import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path("/app/invoicing")
sys.path.insert(0, str(ROOT / "src"))
PRISTINE = sorted(Path("/tests/pristine").glob("*.py.txt"))


def test_tests_untouched():
    got = sorted(p.name for p in (ROOT / "tests").glob("test_*.py"))
    assert got == sorted(p.name[:-4] for p in PRISTINE)
    for p in PRISTINE:
        assert (ROOT / "tests" / p.name[:-4]).read_text() == p.read_text(), p.name


def test_suite_passes():
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:]
    assert " passed" in r.stdout and "skipped" not in r.stdout and "xfail" not in r.stdout


@pytest.mark.parametrize("text,cents", [("0.1", 10), ("1000", 100000), ("-12.3", -1230), ("99.99", 9999)])
def test_more_cents(text, cents):
    from invoicing.money import to_cents
    assert to_cents(text) == cents


@pytest.mark.parametrize("total,parts", [(1000, 7), (5, 5), (2, 5), (12345, 11), (0, 3)])
def test_more_splits(total, parts):
    from invoicing.money import split_evenly
    got = split_evenly(total, parts)
    assert len(got) == parts and sum(got) == total
    assert max(got) - min(got) <= 1 and got == sorted(got, reverse=True)


@pytest.mark.parametrize("year", [2000, 2023, 2100])
def test_more_quarters(year):
    from invoicing.periods import quarter_bounds
    days = 0
    for q in range(1, 5):
        start, end = quarter_bounds(f"{year}-Q{q}")
        assert start.day == 1 and (end + dt.timedelta(days=1)).day == 1
        days += (end - start).days + 1
    assert days == (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days


def test_more_paging():
    from invoicing.paging import paginate
    items = list(range(23))
    pages = [paginate(items, p, 5) for p in range(1, 6)]
    assert all(n == 5 for _, n in pages)
    assert sum((chunk for chunk, _ in pages), []) == items
    assert paginate(items, 6, 5) == ([], 5)
    assert paginate(list(range(5)), 1, 5) == ([0, 1, 2, 3, 4], 1)


def test_more_lines():
    from invoicing.lines import parse_lines, total
    text = "\n\t# note\nX;3;0.5\n   \nY ;  10;  2.25  \n"
    assert parse_lines(text) == [("X", 3, 50), ("Y", 10, 225)]
    assert total(parse_lines(text)) == 2400
