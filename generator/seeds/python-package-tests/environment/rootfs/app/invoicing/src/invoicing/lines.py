"""Uploaded invoice lines: `sku;quantity;unit price`, one per line."""
from .money import to_cents


def parse_lines(text: str) -> list[tuple[str, int, int]]:
    """(sku, quantity, unit price in cents) per line; blank lines and comments (first
    non-blank character `#`) are skipped; fields may be padded with spaces."""
    out = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        sku, qty, price = line.split(";")
        out.append((sku.strip(), int(qty), to_cents(price)))
    return out


def total(lines: list[tuple[str, int, int]]) -> int:
    """Sum of quantity times unit price, in cents."""
    return sum(q * c for _sku, q, c in lines)
