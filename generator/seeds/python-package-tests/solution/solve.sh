#!/bin/bash
set -euo pipefail
cd /app/invoicing/src/invoicing
python3 - <<'PY'
from pathlib import Path


def fix(path, old, new):
    p = Path(path)
    text = p.read_text()
    assert old in text, (path, old)
    p.write_text(text.replace(old, new))


# '12.5' means 12 dollars 50 cents: pad the fraction to two digits
fix("money.py", 'int(frac or "0")', 'int((frac + "00")[:2])')
# keep the remainder: the first `rem` shares get one cent more
fix("money.py", "    share = total_cents // parts\n    return [share] * parts\n",
    "    share, rem = divmod(total_cents, parts)\n    return [share + 1] * rem + [share] * (parts - rem)\n")
# last day of the quarter, inclusive (and no month 13 for Q4)
fix("periods.py", "    end = dt.date(year, 3 * q + 1, 1)\n",
    "    nxt = dt.date(year + 1, 1, 1) if q == 4 else dt.date(year, 3 * q + 1, 1)\n"
    "    end = nxt - dt.timedelta(days=1)\n")
# pages are 1-based and there is always at least one
fix("paging.py", "    start = page * per_page\n    pages = len(items) // per_page\n",
    "    start = (page - 1) * per_page\n    pages = max(1, -(-len(items) // per_page))\n")
# skip blank lines and indented comments
fix("lines.py", '        if line.startswith("#"):\n',
    '        if not line.strip() or line.lstrip().startswith("#"):\n')
PY
cd /app/invoicing && python3 -m pytest -q -p no:cacheprovider
