"""Calendar quarters."""
import datetime as dt


def quarter_bounds(label: str) -> tuple[dt.date, dt.date]:
    """'2024-Q3' -> (date(2024, 7, 1), date(2024, 9, 30)): first and last day, inclusive."""
    year, q = label.split("-Q")
    year, q = int(year), int(q)
    if not 1 <= q <= 4:
        raise ValueError(f"bad quarter: {label!r}")
    start = dt.date(year, 3 * q - 2, 1)
    end = dt.date(year, 3 * q + 1, 1)
    return start, end
