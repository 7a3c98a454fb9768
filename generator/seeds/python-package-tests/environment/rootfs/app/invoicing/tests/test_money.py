import pytest

from invoicing.money import split_evenly, to_cents


@pytest.mark.parametrize("text,cents", [("12.34", 1234), ("12.5", 1250), ("-0.05", -5), ("7", 700),
                                        (" 3.10 ", 310)])
def test_to_cents(text, cents):
    assert to_cents(text) == cents


def test_to_cents_rejects_fractions_of_cents():
    with pytest.raises(ValueError):
        to_cents("1.005")


@pytest.mark.parametrize("total,parts,want", [(100, 3, [34, 33, 33]), (10, 4, [3, 3, 2, 2]),
                                              (9, 3, [3, 3, 3]), (1, 2, [1, 0])])
def test_split_evenly(total, parts, want):
    assert split_evenly(total, parts) == want
    assert sum(split_evenly(total, parts)) == total
