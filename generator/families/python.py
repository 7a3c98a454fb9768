"""Python families: small CLIs, making a failing test suite pass, stdlib data processing
(csv, json, re, datetime, collections).

Tests run the agent's program on inputs they write themselves and compare with values computed
here; where a family produces an artifact, the program's output on the task's own input is kept
as well. Only the standard library exists in the image (plus pytest).
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import re
from collections import Counter
from datetime import date, datetime, timedelta, timezone

from termforge.generator.draw import (CITIES, FIRST_NAMES, UNICODE_WORDS, csv_text, ident,
                                      json_text, lines_text, phrasing, pick, py, sh_quote, word,
                                      words)
from termforge.generator.registry import family
from termforge.generator.spec import Artifact, Step

NUM_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?")


# --------------------------------------------------------------------------------------------
# python.csv-report-cli
# --------------------------------------------------------------------------------------------

def _report(header: list[str], rows: list[list[str]], by: str, sum_col: str | None, sort: str,
            limit: int | None) -> list[dict]:
    bi = header.index(by)
    si = header.index(sum_col) if sum_col else None
    groups: dict[str, list] = {}
    for r in rows:
        key = r[bi] if bi < len(r) else ""
        g = groups.setdefault(key, [0, 0.0])
        g[0] += 1
        if si is not None and si < len(r) and NUM_RE.fullmatch(r[si]):
            g[1] += float(r[si])
    items = [(k, c, round(s, 2)) for k, (c, s) in groups.items()]
    if sort == "count":
        items.sort(key=lambda t: (-t[1], t[0]))
    elif sort == "sum":
        items.sort(key=lambda t: (-t[2], t[0]))
    else:
        items.sort(key=lambda t: t[0])
    if limit is not None:
        items = items[:limit]
    out = []
    for k, c, s in items:
        d = {by: k, "count": c}
        if sum_col:
            d["sum"] = s
        out.append(d)
    return out


@family("python.csv-report-cli", category="python", skills=("python.script", "python.stdlib"),
        difficulty="medium", consumes="csv", produces="json")
def csv_report_cli(rng: random.Random, inp: Artifact | None) -> Step:
    tool = f"/app/{pick(rng, ('report.py', 'groupstat.py', 'csvagg.py', 'summarise.py'))}"
    out = f"/app/{pick(rng, ('report.json', 'summary.json', 'groups.json'))}"
    files: dict[str, str] = {}
    if inp is None:
        header = [pick(rng, ("region", "team", "category")), "item",
                  pick(rng, ("amount", "revenue", "hours")), "note"]
        keys = rng.sample(CITIES, rng.randint(3, 5))
        rows = []
        for _ in range(rng.randint(12, 24)):
            val = (f"{rng.randint(0, 900)}.{rng.randint(0, 99):02d}" if rng.random() < 0.85
                   else pick(rng, ("", "n/a", "TBD")))
            note = pick(rng, ("", "rush, priority", 'said "ok"', " ".join(words(rng, 2)),
                              pick(rng, UNICODE_WORDS)))
            rows.append([pick(rng, keys), word(rng), val, note])
        src = f"/app/data/{word(rng)}.csv"
        files[src] = csv_text(header, rows)
        by, sum_col = header[0], header[2]
    else:
        src = inp.path
        header = [str(h) for h in inp.value["header"]]
        rows = [[str(c) for c in r] for r in inp.value["rows"]]

        def distinct(j):
            return len({r[j] for r in rows if j < len(r)})

        def numeric(j):
            return sum(1 for r in rows if j < len(r) and NUM_RE.fullmatch(r[j]))

        cols = list(range(len(header)))
        by_i = min(cols, key=lambda j: (numeric(j) > 0, distinct(j) if distinct(j) > 1 else 10**9, j))
        by = header[by_i]
        num_cols = [j for j in cols if j != by_i and numeric(j) > 0]
        sum_col = header[max(num_cols, key=lambda j: (numeric(j), -j))] if num_cols else None
    sort = pick(rng, ("count", "sum", "key")) if sum_col else pick(rng, ("count", "key"))
    art = _report(header, rows, by, sum_col, sort, None)
    # scenarios on the tests' own data
    th = ["store", "product", "qty", "price"]
    stores = rng.sample(CITIES, 4)
    trows = []
    for _ in range(rng.randint(10, 16)):
        trows.append([pick(rng, stores), pick(rng, ("tea, green", "coffee", "café au lait", 'the "best" mug')),
                      str(rng.randint(1, 9)), pick(rng, (f"{rng.randint(1, 99)}.{rng.randint(0, 99):02d}", "", "free"))])
    tcsv = csv_text(th, trows)
    k = rng.randint(1, 3)
    cases = [
        (["--by", "store"], _report(th, trows, "store", None, "key", None)),
        (["--by", "store", "--sum", "price", "--sort", "sum"], _report(th, trows, "store", "price", "sum", None)),
        (["--by", "product", "--sort", "count", "--limit", str(k)], _report(th, trows, "product", None, "count", k)),
        (["--by", "product", "--sum", "qty"], _report(th, trows, "product", "qty", "key", None)),
    ]
    instruction = phrasing(
        rng,
        "Write a Python command-line tool `{tool}` (standard library only) that groups the rows "
        "of a CSV file (with a header row; fields may be quoted and contain commas) and prints a "
        "JSON report on stdout. Usage: `python3 {tool} FILE --by COLUMN [--sum COLUMN] [--sort "
        "count|sum|key] [--limit N] [--output PATH]`. The report is a JSON array with one object "
        "per distinct value of the `--by` column: `{{\"<COLUMN>\": value, \"count\": rows}}`, plus "
        "`\"sum\"` when `--sum` is given — the sum of that column's values that match "
        "`-?[0-9]+(\\.[0-9]+)?` (others are ignored), rounded to 2 decimals. Sorting: `key` "
        "(default) by value ascending; `count` by count descending; `sum` by sum descending; ties "
        "by value ascending. `--limit N` keeps the first N objects. `--output PATH` writes the "
        "JSON to PATH instead of stdout. A missing file or an unknown column: message on stderr, "
        "exit 1 (invalid options are argparse's exit 2). Then use it to write the report of "
        "`{src}` grouped by `{by}`{sumtxt}, sorted by `{sort}`, to `{out}`.",
        "Create `{tool}`: `python3 {tool} FILE --by COL [--sum COL] [--sort key|count|sum] "
        "[--limit N] [--output PATH]`. It reads FILE as CSV (header row, standard CSV quoting) "
        "and outputs a JSON list of groups, one per distinct value of COL in `--by`, each an "
        "object with the keys COL (the value), `count` (number of rows) and, only with `--sum`, "
        "`sum` (total of the numeric values of that column rounded to 2 decimals; a value is "
        "numeric when it fully matches `-?[0-9]+(\\.[0-9]+)?`). Order: `--sort key` (the default) "
        "by the group value, `count` and `sum` descending by that field with ties by the group "
        "value; `--limit N` truncates the list. Without `--output` print to stdout. Errors (file "
        "not found, column not in header): stderr message and exit status 1. Finally produce "
        "`{out}` for `{src}` with `--by {by}`{sumopt} `--sort {sort}`.",
        "I need a reusable CSV grouping CLI in Python at `{tool}`. Arguments: FILE, `--by "
        "COLUMN` (required), optional `--sum COLUMN`, `--sort` one of `key`/`count`/`sum` "
        "(default `key` = ascending by group value; `count`/`sum` = descending, ties by group "
        "value), `--limit N`, `--output PATH` (default stdout). Parse with the csv module (quoted "
        "fields with commas occur). Output: JSON array of objects `{{COLUMN: value, \"count\": "
        "n}}` with an extra `\"sum\"` (2-decimal rounded total of values matching "
        "`-?[0-9]+(\\.[0-9]+)?`, other values skipped) when summing. Unknown column or unreadable "
        "file: exit 1 with an error on stderr. Run it on `{src}` by `{by}`{sumtxt} with `--sort "
        "{sort}` and save the JSON as `{out}`.",
        tool=tool, src=src, by=by, sort=sort, out=out,
        sumtxt=f" summing `{sum_col}`" if sum_col else "",
        sumopt=f" `--sum {sum_col}`" if sum_col else "",
    )
    solution = f"""cat > {tool} <<'EOF'
#!/usr/bin/env python3
import argparse, csv, json, re, sys

NUM = re.compile(r"-?[0-9]+(\\.[0-9]+)?")
p = argparse.ArgumentParser(description="Group CSV rows and report counts and sums as JSON.")
p.add_argument("file")
p.add_argument("--by", required=True)
p.add_argument("--sum", dest="sum_col")
p.add_argument("--sort", choices=["key", "count", "sum"], default="key")
p.add_argument("--limit", type=int)
p.add_argument("--output")
a = p.parse_args()
try:
    with open(a.file, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, [])
        rows = list(reader)
except OSError as e:
    sys.exit(f"error: {{e}}")
for col in [a.by] + ([a.sum_col] if a.sum_col else []):
    if col not in header:
        sys.exit(f"error: no column {{col!r}}")
bi = header.index(a.by)
si = header.index(a.sum_col) if a.sum_col else None
groups = {{}}
for r in rows:
    key = r[bi] if bi < len(r) else ""
    g = groups.setdefault(key, [0, 0.0])
    g[0] += 1
    if si is not None and si < len(r) and NUM.fullmatch(r[si]):
        g[1] += float(r[si])
items = [(k, c, round(s, 2)) for k, (c, s) in groups.items()]
order = {{"key": lambda t: t[0], "count": lambda t: (-t[1], t[0]), "sum": lambda t: (-t[2], t[0])}}
items.sort(key=order[a.sort])
if a.limit is not None:
    items = items[:a.limit]
report = []
for k, c, s in items:
    d = {{a.by: k, "count": c}}
    if a.sum_col:
        d["sum"] = s
    report.append(d)
text = json.dumps(report, indent=2, ensure_ascii=False) + "\\n"
if a.output:
    with open(a.output, "w", encoding="utf-8") as f:
        f.write(text)
else:
    sys.stdout.write(text)
EOF
python3 {tool} {sh_quote(src)} --by {sh_quote(by)}{f" --sum {sh_quote(sum_col)}" if sum_col else ""} --sort {sort} --output {out}
"""
    tests = f"""
import json
import subprocess

import pytest

TOOL = {tool!r}
CSV_TEXT = {tcsv!r}
CASES = {py(cases)}


def close(got, want):
    assert isinstance(got, list) and len(got) == len(want), got
    for g, w in zip(got, want):
        assert set(g) == set(w), g
        for k, v in w.items():
            if k == "sum":
                assert abs(g[k] - v) < 0.006, (g, w)
            else:
                assert g[k] == v, (g, w)


@pytest.fixture
def data(tmp_path):
    p = tmp_path / "sales data.csv"
    p.write_text(CSV_TEXT, encoding="utf-8")
    return p


@pytest.mark.parametrize("i", range(len(CASES)))
def test_cli(i, data):
    args, want = CASES[i]
    r = subprocess.run(["python3", TOOL, str(data), *args], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    close(json.loads(r.stdout), want)


def test_output_option(data, tmp_path):
    dest = tmp_path / "out.json"
    r = subprocess.run(["python3", TOOL, str(data), "--by", "store", "--output", str(dest)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    close(json.loads(dest.read_text(encoding="utf-8")), CASES[0][1])


def test_errors(data, tmp_path):
    r = subprocess.run(["python3", TOOL, str(data), "--by", "nosuch"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and r.stderr.strip()
    r = subprocess.run(["python3", TOOL, str(tmp_path / "missing.csv"), "--by", "store"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stderr.strip()


def test_saved_report():
    with open({out!r}, encoding="utf-8") as f:
        close(json.load(f), {py(art)})
"""
    return Step(instruction, solution, tests, files=files, output=Artifact(out, "json", art),
                params={"tool": tool, "by": by, "sum": sum_col, "sort": sort})


# --------------------------------------------------------------------------------------------
# python.fix-failing-tests
# --------------------------------------------------------------------------------------------

BANK = {
    "paging": {
        "func": "paginate",
        "good": '''def paginate(items, page, per_page):
    """Return the items on 1-based page `page` with `per_page` items per page.

    A page past the end is empty. Raises ValueError if page or per_page is < 1.
    """
    if page < 1 or per_page < 1:
        raise ValueError("page and per_page must be >= 1")
    start = (page - 1) * per_page
    return list(items[start:start + per_page])
''',
        "bad": '''def paginate(items, page, per_page):
    """Return the items on 1-based page `page` with `per_page` items per page.

    A page past the end is empty. Raises ValueError if page or per_page is < 1.
    """
    if page < 0 or per_page < 1:
        raise ValueError("page and per_page must be >= 1")
    start = page * per_page
    return list(items[start:start + per_page])
''',
    },
    "durations": {
        "func": "parse_duration",
        "good": '''import re

_PART = re.compile(r"(\\d+)([hms])")
_WHOLE = re.compile(r"(\\d+[hms])+")
_SECONDS = {"h": 3600, "m": 60, "s": 1}


def parse_duration(text):
    """Parse a duration such as '1h30m', '45s' or '2h5s' into seconds.

    Raises ValueError for anything else (including an empty string).
    """
    text = text.strip()
    if not _WHOLE.fullmatch(text):
        raise ValueError(f"bad duration: {text!r}")
    return sum(int(n) * _SECONDS[u] for n, u in _PART.findall(text))
''',
        "bad": '''import re

_PART = re.compile(r"(\\d)([hms])")
_SECONDS = {"h": 60, "m": 60, "s": 1}


def parse_duration(text):
    """Parse a duration such as '1h30m', '45s' or '2h5s' into seconds.

    Raises ValueError for anything else (including an empty string).
    """
    return sum(int(n) * _SECONDS[u] for n, u in _PART.findall(text))
''',
    },
    "settings": {
        "func": "merge",
        "good": '''import copy


def merge(base, override):
    """Deep-merge two dicts and return the result.

    Nested dicts are merged recursively; any other value from `override` replaces the one in
    `base`. Neither argument is modified, and the result shares no nested objects with them.
    """
    result = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result
''',
        "bad": '''def merge(base, override):
    """Deep-merge two dicts and return the result.

    Nested dicts are merged recursively; any other value from `override` replaces the one in
    `base`. Neither argument is modified, and the result shares no nested objects with them.
    """
    result = base
    result.update(override)
    return result
''',
    },
    "wordcount": {
        "func": "top_words",
        "good": '''import re
from collections import Counter


def top_words(text, n):
    """The n most frequent words of `text` as (word, count) tuples.

    Words are runs of ASCII letters, digits and apostrophes, compared case-insensitively and
    returned lower-cased. Ordered by count descending, then alphabetically.
    """
    found = re.findall(r"[a-z0-9']+", text.lower())
    return sorted(Counter(found).items(), key=lambda kv: (-kv[1], kv[0]))[:n]
''',
        "bad": '''from collections import Counter


def top_words(text, n):
    """The n most frequent words of `text` as (word, count) tuples.

    Words are runs of ASCII letters, digits and apostrophes, compared case-insensitively and
    returned lower-cased. Ordered by count descending, then alphabetically.
    """
    return Counter(text.split()).most_common(n)
''',
    },
    "tags": {
        "func": "normalize_tags",
        "good": '''def normalize_tags(tags, seen=None):
    """Strip and lower-case tags, dropping empty ones and duplicates (first one wins).

    `seen` is an optional collection of tags to leave out; it is not modified.
    """
    seen = set(seen or ())
    out = []
    for tag in tags:
        tag = tag.strip().lower()
        if tag and tag not in seen:
            seen.add(tag)
            out.append(tag)
    return out
''',
        "bad": '''def normalize_tags(tags, seen=set()):
    """Strip and lower-case tags, dropping empty ones and duplicates (first one wins).

    `seen` is an optional collection of tags to leave out; it is not modified.
    """
    out = []
    for tag in tags:
        tag = tag.lower()
        if tag not in seen:
            seen.add(tag)
            out.append(tag)
    return out
''',
    },
    "stats": {
        "func": "median",
        "good": '''def median(values):
    """Median of a non-empty sequence of numbers; the mean of the two middle values when the
    length is even. Raises ValueError for an empty sequence. The argument is not modified.
    """
    if not values:
        raise ValueError("median of empty data")
    s = sorted(values)
    mid = len(s) // 2
    if len(s) % 2:
        return s[mid]
    return (s[mid - 1] + s[mid]) / 2
''',
        "bad": '''def median(values):
    """Median of a non-empty sequence of numbers; the mean of the two middle values when the
    length is even. Raises ValueError for an empty sequence. The argument is not modified.
    """
    values.sort()
    mid = len(values) // 2
    if len(values) % 2:
        return values[mid]
    return values[mid - 1] + values[mid] // 2
''',
    },
    "dates": {
        "func": "days_between",
        "good": '''from datetime import datetime


def parse_day(text):
    """Parse 'YYYY-MM-DD' (surrounding whitespace allowed) into a datetime.date."""
    return datetime.strptime(text.strip(), "%Y-%m-%d").date()


def days_between(a, b):
    """Whole days from date string `a` to date string `b` (negative when b is earlier)."""
    return (parse_day(b) - parse_day(a)).days
''',
        "bad": '''from datetime import datetime


def parse_day(text):
    """Parse 'YYYY-MM-DD' (surrounding whitespace allowed) into a datetime.date."""
    return datetime.strptime(text, "%Y-%d-%m").date()


def days_between(a, b):
    """Whole days from date string `a` to date string `b` (negative when b is earlier)."""
    return abs((parse_day(b) - parse_day(a)).seconds // 86400)
''',
    },
    "slugs": {
        "func": "slugify",
        "good": '''import re


def slugify(text):
    """Lower-case slug: every run of characters other than a-z and 0-9 becomes a single '-',
    and there is no leading or trailing '-'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
''',
        "bad": '''def slugify(text):
    """Lower-case slug: every run of characters other than a-z and 0-9 becomes a single '-',
    and there is no leading or trailing '-'."""
    return text.lower().replace(" ", "-")
''',
    },
}


def _visible_test(mod: str, pkg: str, rng: random.Random) -> str:
    """A visible test module for one bank entry (fails on the buggy version)."""
    imp = f"from {pkg}.{mod} import {BANK[mod]['func']}"
    if mod == "paging":
        n, k = rng.randint(12, 30), rng.randint(3, 5)
        return f"""{imp}

ITEMS = list(range(1, {n + 1}))


def test_first_page():
    assert paginate(ITEMS, 1, {k}) == ITEMS[:{k}]


def test_second_page():
    assert paginate(ITEMS, 2, {k}) == ITEMS[{k}:{2 * k}]
"""
    if mod == "durations":
        h, m, s = rng.randint(1, 3), rng.randint(10, 59), rng.randint(10, 59)
        return f"""{imp}


def test_hours_and_minutes():
    assert parse_duration("{h}h{m}m") == {h * 3600 + m * 60}


def test_seconds():
    assert parse_duration("{s}s") == {s}
"""
    if mod == "settings":
        a, b, c = words(rng, 3)
        return f"""{imp}


def test_nested_merge():
    base = {{"db": {{"host": "localhost", "port": 5432}}, "{a}": 1}}
    override = {{"db": {{"port": {rng.randint(6000, 7000)}}}, "{b}": True}}
    result = merge(base, override)
    assert result["db"]["host"] == "localhost"
    assert result["db"]["port"] == override["db"]["port"]
    assert result["{a}"] == 1 and result["{b}"] is True
"""
    if mod == "wordcount":
        w1, w2, w3 = words(rng, 3)
        text = f"{w1.capitalize()} {w2}, {w1}! {w3}. {w1.upper()}? {w2}"
        return f"""{imp}


def test_counts_ignore_case_and_punctuation():
    assert top_words({text!r}, 2) == [({w1!r}, 3), ({w2!r}, 2)]
"""
    if mod == "tags":
        t = words(rng, 4)
        return f"""{imp}


def test_duplicates_dropped():
    assert normalize_tags([{t[0].upper()!r}, {t[1]!r}, {t[0]!r}]) == [{t[0]!r}, {t[1]!r}]


def test_independent_calls():
    normalize_tags([{t[2]!r}, {t[3]!r}])
    assert normalize_tags([{t[2]!r}]) == [{t[2]!r}]
"""
    if mod == "stats":
        vals = rng.sample(range(1, 100), 4)
        s = sorted(vals)
        return f"""{imp}


def test_odd_length():
    assert median([5, 1, 3]) == 3


def test_even_length():
    assert median({vals!r}) == {(s[1] + s[2]) / 2!r}
"""
    if mod == "dates":
        y = rng.randint(2019, 2025)
        d1 = date(y, rng.randint(1, 5), rng.randint(13, 28))
        d2 = d1 + timedelta(days=rng.randint(20, 300))
        return f"""from datetime import date

{imp}
from {pkg}.dates import parse_day


def test_parse_day():
    assert parse_day("{d1.isoformat()}") == date({d1.year}, {d1.month}, {d1.day})


def test_days_between():
    assert days_between("{d1.isoformat()}", "{d2.isoformat()}") == {(d2 - d1).days}
"""
    if mod == "slugs":
        a, b = words(rng, 2)
        return f"""{imp}


def test_punctuation():
    assert slugify("{a.capitalize()}, {b.capitalize()}!") == "{a}-{b}"
"""
    raise KeyError(mod)


HIDDEN = {
    "paging": """
def test_hidden_paging():
    from {pkg}.paging import paginate
    items = list("abcdefghij")
    assert paginate(items, 4, 3) == ["j"]
    assert paginate(items, 5, 3) == []
    assert paginate(items, 1, 20) == items
    for bad in ((0, 3), (1, 0), (-1, 2)):
        with pytest.raises(ValueError):
            paginate(items, *bad)
""",
    "durations": """
def test_hidden_durations():
    from {pkg}.durations import parse_duration
    assert parse_duration("12m") == 720
    assert parse_duration("2h5s") == 7205
    assert parse_duration("1h1m1s") == 3661
    assert parse_duration(" 90s ") == 90
    for bad in ("", "abc", "10", "5x", "1h 30m"):
        with pytest.raises(ValueError):
            parse_duration(bad)
""",
    "settings": """
def test_hidden_merge():
    from {pkg}.settings import merge
    base = {"a": {"b": {"c": 1, "d": 2}}, "l": [1, 2]}
    override = {"a": {"b": {"c": 9}, "e": {"f": 1}}, "l": [3]}
    snapshot = copy.deepcopy((base, override))
    result = merge(base, override)
    assert result == {"a": {"b": {"c": 9, "d": 2}, "e": {"f": 1}}, "l": [3]}
    assert (base, override) == snapshot
    result["a"]["e"]["f"] = 2
    result["l"].append(4)
    assert (base, override) == snapshot
    assert merge({"x": 1}, {"x": {"y": 2}}) == {"x": {"y": 2}}
""",
    "wordcount": """
def test_hidden_words():
    from {pkg}.wordcount import top_words
    assert top_words("b a c b a", 3) == [("a", 2), ("b", 2), ("c", 1)]
    assert top_words("Don't stop -- don't STOP, don't!", 1) == [("don't", 3)]
    assert top_words("", 3) == []
""",
    "tags": """
def test_hidden_tags():
    from {pkg}.tags import normalize_tags
    assert normalize_tags(["  Red ", "red", "", "   ", "Blue"]) == ["red", "blue"]
    seen = {"blue"}
    assert normalize_tags(["blue", "green"], seen) == ["green"]
    assert seen == {"blue"}
    assert normalize_tags(["green"]) == ["green"]
""",
    "stats": """
def test_hidden_median():
    from {pkg}.stats import median
    data = [7, 1, 4, 10]
    assert median(data) == 5.5
    assert data == [7, 1, 4, 10]
    assert median((3, 1, 2)) == 2
    assert median([2.5]) == 2.5
    with pytest.raises(ValueError):
        median([])
""",
    "dates": """
def test_hidden_dates():
    from {pkg}.dates import days_between, parse_day
    assert days_between("2024-03-01", "2024-02-28") == -2
    assert days_between("2023-12-31", "2024-12-31") == 366
    assert days_between("2024-05-05", "2024-05-05") == 0
    assert parse_day(" 2021-11-30 ").day == 30
""",
    "slugs": """
def test_hidden_slugs():
    from {pkg}.slugs import slugify
    assert slugify("  --Multiple   spaces & symbols!! ") == "multiple-spaces-symbols"
    assert slugify("Version 2.0 (beta)") == "version-2-0-beta"
    assert slugify("already-a-slug") == "already-a-slug"
""",
}


@family("python.fix-failing-tests", category="python",
        skills=("python.testing", "python.debug"), difficulty="hard")
def fix_failing_tests(rng: random.Random, inp: Artifact | None) -> Step:
    pkg = ident(rng, 1)
    root = "/app"
    mods = rng.sample(sorted(BANK), rng.randint(4, 5))
    n_bugs = rng.randint(2, 3) if len(mods) == 4 else 3
    buggy = sorted(mods[:n_bugs])
    files: dict[str, str] = {
        f"{root}/{pkg}/__init__.py": f'"""{pkg}: assorted utilities."""\n',
        f"{root}/pytest.ini": "[pytest]\npythonpath = .\ntestpaths = tests\n",
    }
    visible: dict[str, str] = {}
    for mod in sorted(mods):
        files[f"{root}/{pkg}/{mod}.py"] = BANK[mod]["bad" if mod in buggy else "good"]
        visible[f"{root}/tests/test_{mod}.py"] = _visible_test(mod, pkg, rng)
    files.update(visible)
    hashes = {p: hashlib.sha256(c.encode()).hexdigest() for p, c in visible.items()}
    instruction = phrasing(
        rng,
        "The test suite of the Python package `{pkg}` in `{root}` fails (`cd {root} && python3 -m "
        "pytest`). Fix the bugs in the package's code so that the whole suite passes. Do not "
        "change the tests. Every function must do what its docstring says: further hidden tests "
        "check more cases than the visible ones.",
        "`cd {root} && python3 -m pytest` shows failures in `{pkg}`. Find and fix the bugs in "
        "`{root}/{pkg}/` (leave `{root}/tests/` untouched) so the suite passes. Make each "
        "function match its docstring exactly — additional unseen tests will exercise edge "
        "cases.",
        "Several functions of the package at `{root}/{pkg}` are broken and its tests in "
        "`{root}/tests` fail. Repair the implementation — not the tests — so that `python3 -m "
        "pytest` in `{root}` passes and every function behaves as documented in its docstring "
        "(edge cases included; hidden tests will check them).",
        pkg=pkg, root=root,
    )
    solution = "\n".join(f"cat > {root}/{pkg}/{m}.py <<'PYEOF'\n{BANK[m]['good']}PYEOF" for m in buggy)
    solution += f"\ncd {root} && python3 -m pytest -q\n"
    hidden = "".join(HIDDEN[m].replace("{pkg}", pkg) for m in sorted(mods))
    tests = f"""
import copy
import hashlib
import subprocess
import sys

import pytest

sys.path.insert(0, {root!r})
HASHES = {py(hashes)}


def test_visible_suite_passes():
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                       cwd={root!r}, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:]


def test_tests_unchanged():
    for path, digest in HASHES.items():
        with open(path, "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest, f"{{path}} was modified"
{hidden}"""
    return Step(instruction, solution, tests, files=files,
                params={"pkg": pkg, "modules": sorted(mods), "buggy": buggy})


# --------------------------------------------------------------------------------------------
# python.log-sessions
# --------------------------------------------------------------------------------------------

OFFSETS = (0, 60, 120, -300, 330, -180)


def _fmt_ts(t_utc: datetime, off_min: int, style: str) -> str:
    local = t_utc.astimezone(timezone(timedelta(minutes=off_min)))
    if style == "iso":
        return local.isoformat()
    return local.strftime("%d/%b/%Y:%H:%M:%S %z")


def _event_line(style: str, t: datetime, off: int, user: str, ev: str, ip: str) -> str:
    if style == "iso":
        return f"{_fmt_ts(t, off, style)} user={user} event={ev} src={ip}"
    return f"[{_fmt_ts(t, off, style)}] {user} {ev.upper()} from {ip}"


def _session_log(rng: random.Random, style: str) -> tuple[list[str], dict]:
    users = rng.sample(FIRST_NAMES, rng.randint(3, 5))
    start = datetime(2024, rng.randint(1, 11), rng.randint(1, 25), 6, 0, tzinfo=timezone.utc)
    events = []  # (utc, user, event)
    stats: dict[str, dict] = {}
    open_users = []
    for u in users:
        t = start + timedelta(minutes=rng.randint(0, 600))
        n = rng.randint(0, 3)
        if rng.random() < 0.3:
            events.append((t - timedelta(minutes=rng.randint(5, 50)), u, "logout"))  # stray logout
        for _ in range(n):
            dur = rng.randint(60, 5 * 3600)
            events.append((t, u, "login"))
            events.append((t + timedelta(seconds=dur), u, "logout"))
            s = stats.setdefault(u, {"sessions": 0, "total_seconds": 0, "longest_seconds": 0})
            s["sessions"] += 1
            s["total_seconds"] += dur
            s["longest_seconds"] = max(s["longest_seconds"], dur)
            t = t + timedelta(seconds=dur + rng.randint(60, 3 * 3600))
        if n == 0 or rng.random() < 0.3:
            events.append((t, u, "login"))
            open_users.append(u)
        if rng.random() < 0.5:
            events.append((t - timedelta(seconds=30), u, pick(rng, ("upload", "password_change"))))
    lines = []
    for t, u, ev in events:
        ip = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        lines.append(_event_line(style, t, pick(rng, OFFSETS), u, ev, ip))
    lines += ["", "# rotated", "garbage line without structure"]
    rng.shuffle(lines)
    return lines, {"users": stats, "open": sorted(open_users)}


@family("python.log-sessions", category="python", skills=("python.stdlib", "python.script"),
        difficulty="medium", produces="json")
def log_sessions(rng: random.Random, inp: Artifact | None) -> Step:
    style = pick(rng, ("iso", "clf"))
    script = f"/app/{pick(rng, ('sessions.py', 'session_report.py', 'logins.py'))}"
    log = f"/var/log/{pick(rng, ('auth', 'portal', 'vpn', 'sso'))}.log"
    out = f"/app/{pick(rng, ('sessions.json', 'session-report.json', 'logins.json'))}"
    lines, expected = _session_log(rng, style)
    hidden_lines, hidden_expected = _session_log(rng, style)
    example = (_event_line(style, datetime(2024, 3, 5, 8, 0, tzinfo=timezone.utc), 120, "alice", "login", "10.0.0.5"))
    fmt_desc = ("`<ISO-8601 timestamp with UTC offset> user=<name> event=<type> src=<ip>`"
                if style == "iso" else
                "`[<DD/Mon/YYYY:HH:MM:SS +HHMM>] <name> <EVENT> from <ip>`")
    instruction = phrasing(
        rng,
        "`{log}` records logins and logouts, one event per line in the format {fmt}, e.g. "
        "`{ex}`. Timestamps carry different UTC offsets and the lines are not in time order; "
        "other events and malformed lines must be ignored. Write a Python script `{script}` "
        "that takes the log path as its argument and prints a JSON object to stdout: "
        "`{{\"users\": {{NAME: {{\"sessions\": N, \"total_seconds\": S, \"longest_seconds\": L}}}}, "
        "\"open\": [NAMES]}}`. For each user, take their events in time order: a login opens a "
        "session, the next logout closes it (its length in whole seconds counts); a logout with "
        "no open session is ignored. `users` lists only users with at least one closed session; "
        "`open` is the sorted list of users whose last login was never closed. Then run it on "
        "`{log}` and save the output to `{out}`.",
        "Session accounting: the log `{log}` has lines like `{ex}` ({fmt}); event names are "
        "login and logout (others exist and are ignored, as are lines that do not parse). Lines "
        "are shuffled and written with various UTC offsets, so compare real instants. Create "
        "`{script}` (stdlib only) such that `python3 {script} LOGFILE` prints JSON with two keys: "
        "`users` mapping each user with completed sessions to `sessions` (count), "
        "`total_seconds` and `longest_seconds` (integers); and `open`, the alphabetically sorted "
        "names of users left logged in. A session runs from a login to that user's next logout; "
        "stray logouts do not count. Save the report for `{log}` as `{out}`.",
        "Write `{script}`: given a log file like `{log}` (format {fmt}, e.g. `{ex}`), it prints a "
        "JSON report of user sessions. Sort each user's login/logout events chronologically "
        "(timestamps have mixed UTC offsets; the file is unordered; skip other events and junk "
        "lines). Pair each login with the following logout of the same user; ignore logouts "
        "without an open session. Output `{{\"users\": {{user: {{\"sessions\": count, "
        "\"total_seconds\": sum, \"longest_seconds\": max}}}}, \"open\": [users still logged in, "
        "sorted]}}`; users with no closed session are not in `users`. Run it on `{log}` and "
        "write the result to `{out}`.",
        log=log, fmt=fmt_desc, ex=example, script=script, out=out,
    )
    if style == "iso":
        parse = '''m = re.match(r"(\\S+) user=(\\S+) event=(\\S+)", line)
        if not m:
            continue
        try:
            t = datetime.fromisoformat(m.group(1))
        except ValueError:
            continue
        user, ev = m.group(2), m.group(3).lower()'''
    else:
        parse = '''m = re.match(r"\\[([^\\]]+)\\] (\\S+) (\\S+)", line)
        if not m:
            continue
        try:
            t = datetime.strptime(m.group(1), "%d/%b/%Y:%H:%M:%S %z")
        except ValueError:
            continue
        user, ev = m.group(2), m.group(3).lower()'''
    solution = f"""cat > {script} <<'EOF'
#!/usr/bin/env python3
import json
import re
import sys
from collections import defaultdict
from datetime import datetime

events = defaultdict(list)
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        line = line.strip()
        {parse}
        if ev in ("login", "logout"):
            events[user].append((t, ev))
users, still_open = {{}}, []
for user, evs in events.items():
    evs.sort(key=lambda e: e[0])
    start = None
    for t, ev in evs:
        if ev == "login":
            start = t
        elif start is not None:
            secs = int((t - start).total_seconds())
            s = users.setdefault(user, {{"sessions": 0, "total_seconds": 0, "longest_seconds": 0}})
            s["sessions"] += 1
            s["total_seconds"] += secs
            s["longest_seconds"] = max(s["longest_seconds"], secs)
            start = None
    if start is not None:
        still_open.append(user)
print(json.dumps({{"users": users, "open": sorted(still_open)}}, indent=2, sort_keys=True))
EOF
python3 {script} {log} > {out}
"""
    tests = f"""
import json
import subprocess

HIDDEN_LOG = {py(lines_text(hidden_lines))}


def test_saved_report():
    with open({out!r}) as f:
        assert json.load(f) == {py(expected)}


def test_script_on_other_log(tmp_path):
    p = tmp_path / "other.log"
    p.write_text(HIDDEN_LOG)
    r = subprocess.run(["python3", {script!r}, str(p)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {py(hidden_expected)}
"""
    return Step(instruction, solution, tests, files={log: lines_text(lines)},
                output=Artifact(out, "json", expected),
                params={"style": style, "n_lines": len(lines), "open": expected["open"]})


# --------------------------------------------------------------------------------------------
# python.json-merge-patch
# --------------------------------------------------------------------------------------------

def _merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = _merge_patch(result.get(k), v)
    return result


def _patches_for(rng: random.Random, doc) -> list:
    """Two patches that exercise deletion, replacement, nesting and arrays on `doc`."""
    p1: dict = {}
    if isinstance(doc, dict) and doc:
        keys = sorted(doc)
        victim = pick(rng, keys)
        p1[victim] = None
        others = [k for k in keys if k != victim]
        if others:
            k = pick(rng, others)
            if isinstance(doc[k], dict) and doc[k]:
                sub = sorted(doc[k])
                p1[k] = {pick(rng, sub): None, f"{word(rng)}_added": rng.randint(1, 99)}
            else:
                p1[k] = pick(rng, ([rng.randint(1, 9)], f"{word(rng)}", {"nested": True}))
    p1[f"{word(rng)}_meta"] = {"owner": pick(rng, FIRST_NAMES), "tags": words(rng, 2)}
    p2 = {next(iter(p1)) if rng.random() < 0.3 else f"{word(rng)}_meta": {"owner": None, "rev": rng.randint(2, 9)}}
    return [p1, p2]


@family("python.json-merge-patch", category="python", skills=("python.script", "python.stdlib"),
        difficulty="medium", consumes="json", produces="json")
def json_merge_patch(rng: random.Random, inp: Artifact | None) -> Step:
    tool = f"/app/{pick(rng, ('merge_patch.py', 'jpatch.py', 'apply_patch.py'))}"
    files: dict[str, str] = {}
    if inp is None:
        src = f"/app/config/{pick(rng, ('service', 'app', 'deploy'))}.json"
        doc = {
            "name": ident(rng, 2, "-"),
            "replicas": rng.randint(1, 5),
            "image": {"repo": f"registry.local/{word(rng)}", "tag": f"1.{rng.randint(0, 9)}"},
            "env": {k.upper(): str(rng.randint(1, 999)) for k in words(rng, 3)},
            "ports": [rng.randint(1000, 9000) for _ in range(2)],
            "labels": {"team": pick(rng, ("core", "web", "data")), "tier": pick(rng, ("gold", "silver"))},
        }
        files[src] = json_text(doc)
    else:
        src = inp.path
        doc = copy.deepcopy(inp.value)
    patches = _patches_for(rng, doc)
    patch_paths = [f"/app/patches/{i + 1:02d}-{word(rng)}.json" for i in range(len(patches))]
    for p, content in zip(patch_paths, patches):
        files[p] = json_text(content)
    result = doc
    for p in patches:
        result = _merge_patch(result, p)
    out = f"/app/{pick(rng, ('merged.json', 'patched.json', 'result.json'))}"
    cases = [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"a": "foo"}, "bar", "bar"),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ]
    rng.shuffle(cases)
    chained = (cases[0][0], [cases[0][1], {"z": {"k": "v"}}, {"z": {"k": None}}])
    instruction = phrasing(
        rng,
        "Implement JSON Merge Patch (RFC 7386) as a Python command-line tool `{tool}`: "
        "`python3 {tool} TARGET PATCH [PATCH...]` reads the JSON document TARGET, applies each "
        "PATCH file in order and prints the resulting JSON on stdout. Rules: if the patch is not "
        "an object, the result is the patch itself; otherwise start from the target (or from "
        "`{{}}` if the target is not an object) and, for every key of the patch, a `null` value "
        "removes the key and any other value is merged recursively into the key's current value "
        "with these same rules. Arrays are replaced, never merged. Then apply {patches} (in "
        "that order) to `{src}` and write the result to `{out}`.",
        "Write `{tool}`, a stdlib-only Python CLI applying RFC 7386 merge patches: arguments "
        "are the target JSON file followed by one or more patch files, applied left to right; "
        "the merged document is printed as JSON. Semantics: a non-object patch replaces the "
        "whole value; an object patch is applied key by key to the target (a non-object target "
        "is treated as `{{}}`): `null` deletes the key, anything else is merge-patched into the "
        "existing value (so nested objects merge, arrays and scalars are replaced). Use it to "
        "produce `{out}` from `{src}` with the patches {patches}, in this order.",
        "Our deployment configs are changed by merge patches. Create `{tool}` so that "
        "`python3 {tool} TARGET PATCH...` prints TARGET with every PATCH applied in order, "
        "following JSON Merge Patch (RFC 7386): object patches merge recursively into objects, "
        "`null` members delete keys, a patch that is not an object (array, string, number, "
        "null, ...) replaces the value it is applied to, and a non-object target hit by an object "
        "patch becomes `{{}}` first. Afterwards save the result of patching `{src}` with "
        "{patches} (in that order) as `{out}`.",
        tool=tool, src=src, out=out, patches=", ".join(f"`{p}`" for p in patch_paths),
    )
    solution = f"""cat > {tool} <<'EOF'
#!/usr/bin/env python3
import json
import sys


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {{}}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


if len(sys.argv) < 3:
    sys.exit("usage: {tool} TARGET PATCH [PATCH...]")
with open(sys.argv[1], encoding="utf-8") as f:
    doc = json.load(f)
for path in sys.argv[2:]:
    with open(path, encoding="utf-8") as f:
        doc = merge_patch(doc, json.load(f))
print(json.dumps(doc, indent=2, ensure_ascii=False))
EOF
python3 {tool} {sh_quote(src)} {' '.join(patch_paths)} > {out}
"""
    tests = f"""
import json
import subprocess

import pytest

TOOL = {tool!r}
CASES = {py(cases)}
CHAINED = {py(chained)}


def run(tmp_path, target, patches):
    t = tmp_path / "target.json"
    t.write_text(json.dumps(target))
    paths = []
    for i, p in enumerate(patches):
        pp = tmp_path / f"patch {{i}}.json"
        pp.write_text(json.dumps(p))
        paths.append(str(pp))
    r = subprocess.run(["python3", TOOL, str(t), *paths], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("i", range(len(CASES)))
def test_rfc_examples(i, tmp_path):
    target, patch, expected = CASES[i]
    assert run(tmp_path, target, [patch]) == expected


def test_patches_in_order(tmp_path):
    target, patches = CHAINED
    assert run(tmp_path, target, patches) == {py(_merge_patch(_merge_patch(_merge_patch(chained[0], chained[1][0]), chained[1][1]), chained[1][2]))}


def test_saved_result():
    with open({out!r}, encoding="utf-8") as f:
        assert json.load(f) == {py(result)}
"""
    return Step(instruction, solution, tests, files=files, output=Artifact(out, "json", result),
                params={"tool": tool, "n_patches": len(patches)})


# --------------------------------------------------------------------------------------------
# python.oncall-schedule
# --------------------------------------------------------------------------------------------

@family("python.oncall-schedule", category="python", skills=("python.stdlib", "python.script"),
        difficulty="medium", produces="csv")
def oncall_schedule(rng: random.Random, inp: Artifact | None) -> Step:
    base = f"/app/{pick(rng, ('oncall', 'rota', 'support'))}"
    team = [n.capitalize() for n in rng.sample(FIRST_NAMES, rng.randint(4, 6))]
    shift_days = pick(rng, (7, 7, 3, 4, 14))
    n_shifts = rng.randint(8, 14)
    start = date(2025, rng.randint(1, 10), 1)
    start += timedelta(days=(7 - start.weekday()) % 7)  # a Monday
    end_all = start + timedelta(days=shift_days * n_shifts)
    vacations = []
    for _ in range(rng.randint(3, 6)):
        who = pick(rng, team)
        v0 = start + timedelta(days=rng.randint(0, (end_all - start).days))
        v1 = v0 + timedelta(days=rng.randint(0, 10))
        vacations.append([who, v0.isoformat(), v1.isoformat()])
    # one stretch where everybody but one person is away makes the skipping matter
    s_i = rng.randint(1, n_shifts - 2)
    s0 = start + timedelta(days=shift_days * s_i)
    lucky = pick(rng, team)
    for who in team:
        if who != lucky and rng.random() < 0.6:
            vacations.append([who, s0.isoformat(), (s0 + timedelta(days=shift_days - 1)).isoformat()])
    vacations.sort(key=lambda r: (r[1], r[0]))
    rows = []
    p = 0
    for i in range(n_shifts):
        s = start + timedelta(days=shift_days * i)
        e = s + timedelta(days=shift_days - 1)
        chosen = None
        for j in range(len(team)):
            cand = (p + j) % len(team)
            away = any(v[0] == team[cand] and date.fromisoformat(v[1]) <= e and
                       date.fromisoformat(v[2]) >= s for v in vacations)
            if not away:
                chosen = cand
                break
        if chosen is None:
            rows.append([str(i + 1), s.isoformat(), e.isoformat(), "UNASSIGNED"])
        else:
            rows.append([str(i + 1), s.isoformat(), e.isoformat(), team[chosen]])
            p = (chosen + 1) % len(team)
    team_file = f"{base}/team.txt"
    vac_file = f"{base}/vacations.csv"
    out = f"{base}/{pick(rng, ('schedule.csv', 'rotation.csv', 'shifts.csv'))}"
    header = ["shift", "start", "end", "person"]
    files = {team_file: lines_text(team), vac_file: csv_text(["person", "from", "to"], vacations)}
    instruction = phrasing(
        rng,
        "Build the on-call schedule. `{team}` lists the engineers in rotation order; "
        "`{vac}` lists vacations (`person,from,to`, inclusive ISO dates). There are {n} shifts "
        "of {d} days, the first starting on {start}; shift i starts {d}*(i-1) days after that "
        "and ends {dm} days after its start (inclusive). Assign shifts round-robin: the shift "
        "goes to the next person in rotation order who has no vacation day inside the shift; "
        "people who are away are skipped for that shift, and the rotation continues with the "
        "person after whoever took it. If everyone is away, the person is `UNASSIGNED` and the "
        "rotation does not advance. Write `{out}` as CSV with header `shift,start,end,person` "
        "(shift numbered from 1, dates as YYYY-MM-DD). Python's `datetime` and `csv` modules are "
        "a good fit.",
        "Write the on-call rota to `{out}` (CSV: `shift,start,end,person`). Input: the rotation "
        "order in `{team}`, time off in `{vac}` (from/to dates inclusive). {n} consecutive shifts "
        "of {d} days start on {start} (`end` is the shift's last day). For each shift pick, "
        "starting from the person whose turn it is, the first one in rotation order who is not "
        "on vacation on any day of that shift; the next turn then belongs to the person after "
        "the one picked. When nobody is available write `UNASSIGNED` and keep the turn where it "
        "was. Shifts are numbered 1..{n}; dates in ISO format.",
        "Generate an on-call rotation: {n} shifts, each {d} days long, back to back from {start}. "
        "Engineers rotate in the order of `{team}`; someone with a vacation (see `{vac}`, "
        "inclusive ranges) overlapping a shift is skipped for it, and the turn passes on as if "
        "the person who covered had taken their normal turn (the next shift goes to the person "
        "after them). No one free: `UNASSIGNED`, turn unchanged. Output `{out}`, CSV with the "
        "header `shift,start,end,person`, one row per shift, `start`/`end` being the first and "
        "last day (YYYY-MM-DD).",
        team=team_file, vac=vac_file, n=n_shifts, d=shift_days, dm=shift_days - 1,
        start=start.isoformat(), out=out,
    )
    solution = f"""python3 - <<'EOF'
import csv
from datetime import date, timedelta

team = [l.strip() for l in open({team_file!r}) if l.strip()]
with open({vac_file!r}, newline="") as f:
    vac = [(r["person"], date.fromisoformat(r["from"]), date.fromisoformat(r["to"])) for r in csv.DictReader(f)]
start, days, n = date.fromisoformat({start.isoformat()!r}), {shift_days}, {n_shifts}
turn = 0
with open({out!r}, "w", newline="") as f:
    w = csv.writer(f, lineterminator="\\n")
    w.writerow(["shift", "start", "end", "person"])
    for i in range(n):
        s = start + timedelta(days=days * i)
        e = s + timedelta(days=days - 1)
        person = "UNASSIGNED"
        for j in range(len(team)):
            c = (turn + j) % len(team)
            if not any(p == team[c] and a <= e and b >= s for p, a, b in vac):
                person, turn = team[c], (c + 1) % len(team)
                break
        w.writerow([i + 1, s.isoformat(), e.isoformat(), person])
EOF
"""
    tests = f"""
import csv


def test_schedule():
    with open({out!r}, newline="") as f:
        rows = [r for r in csv.reader(f) if r]
    assert rows[0] == {header!r}
    assert rows[1:] == {py(rows)}
"""
    return Step(instruction, solution, tests, files=files,
                output=Artifact(out, "csv", {"header": header, "rows": rows}),
                params={"team": team, "shift_days": shift_days, "n_shifts": n_shifts,
                        "start": start.isoformat()})
