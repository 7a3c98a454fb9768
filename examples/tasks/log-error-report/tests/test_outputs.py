import re
from collections import Counter
from pathlib import Path


def expected():
    counts = Counter()
    for line in Path("/app/logs/app.log").read_text().splitlines():
        m = re.match(r"^\S+ (\w+) \[([^\]]+)\] ", line)
        if m and m.group(1) == "ERROR":
            counts[m.group(2)] += 1
    return [f"{s} {n}" for s, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def test_report_exists():
    assert Path("/app/error_report.txt").is_file()


def test_report_lines():
    got = Path("/app/error_report.txt").read_text().strip().splitlines()
    assert [g.strip() for g in got] == expected()
