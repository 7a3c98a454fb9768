"""Money as integer cents."""


def to_cents(amount: str) -> int:
    """'12.34' -> 1234, '12.5' -> 1250, '-0.05' -> -5, '7' -> 700 (at most two decimals)."""
    amount = amount.strip()
    neg = amount.startswith("-")
    whole, _, frac = amount.lstrip("+-").partition(".")
    if len(frac) > 2:
        raise ValueError(f"too many decimals: {amount!r}")
    cents = int(whole or "0") * 100 + int(frac or "0")
    return -cents if neg else cents


def split_evenly(total_cents: int, parts: int) -> list[int]:
    """Split an amount into `parts` shares that differ by at most one cent and add up to the
    total, larger shares first."""
    if parts <= 0:
        raise ValueError("parts must be positive")
    share = total_cents // parts
    return [share] * parts
