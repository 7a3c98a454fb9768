"""Pagination of invoice lists."""


def paginate(items: list, page: int, per_page: int) -> tuple[list, int]:
    """Items of page `page` (1-based) and the number of pages (at least 1, even when empty)."""
    if page < 1 or per_page < 1:
        raise ValueError("page and per_page must be positive")
    start = page * per_page
    pages = len(items) // per_page
    return items[start:start + per_page], pages
