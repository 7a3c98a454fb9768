import datetime as dt

import pytest

from invoicing.periods import quarter_bounds


@pytest.mark.parametrize("label,start,end", [
    ("2024-Q1", dt.date(2024, 1, 1), dt.date(2024, 3, 31)),
    ("2023-Q2", dt.date(2023, 4, 1), dt.date(2023, 6, 30)),
    ("2024-Q4", dt.date(2024, 10, 1), dt.date(2024, 12, 31)),
])
def test_quarter_bounds(label, start, end):
    assert quarter_bounds(label) == (start, end)


def test_bad_quarter():
    with pytest.raises(ValueError):
        quarter_bounds("2024-Q5")
