"""Data-wrangling families: CSV aggregation and joins, JSON with jq, SQLite, format conversion.

Expected values are computed here with Decimal (money) and the csv/json modules, then baked into
the tests. "csv" artifacts hold strings only: {"header": [...], "rows": [[...]]}.
"""

from __future__ import annotations

import json
import random
import re
from decimal import ROUND_HALF_UP, Decimal

from termforge.generator.draw import (CITIES, FIRST_NAMES, UNICODE_WORDS, csv_text, heredoc,
                                      ident, json_text, phrasing, pick, py, sh_quote, word, words)
from termforge.generator.registry import family
from termforge.generator.spec import Artifact, Step

_NUM = re.compile(r"^-?\d+(\.\d+)?$")
_JSON_NUM = re.compile(r"^-?(0|[1-9]\d*)(\.\d+)?$")
SURNAMES = ("silva okafor tanaka novak garcia larsen kowalski nguyen haddad moreau rossi "
            "fischer ivanova mensah kim dubois").split()

# Pytest helper source: read a CSV file (any line ending) as a list of rows, blank rows dropped.
CSV_HELPER = '''
import csv


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return [r for r in csv.reader(f) if r]
'''


def money(d: Decimal) -> str:
    return str(d.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def person(rng: random.Random) -> str:
    name = f"{pick(rng, FIRST_NAMES).capitalize()} {pick(rng, SURNAMES).capitalize()}"
    r = rng.random()
    if r < 0.1:
        name = f"{pick(rng, SURNAMES).capitalize()}, {pick(rng, FIRST_NAMES).capitalize()}"
    elif r < 0.18:
        name = f"{pick(rng, ('José', 'Zoë', 'Björn', 'Françoise', 'Łukasz'))} {pick(rng, SURNAMES).capitalize()}"
    return name


def data_path(rng: random.Random, ext: str) -> str:
    return f"/app/{pick(rng, ('data', 'input', 'raw', 'exports', 'in'))}/{ident(rng, 2)}.{ext}"


def out_path(rng: random.Random, ext: str) -> str:
    return f"/app/{pick(rng, ('out', 'reports', 'results', 'build'))}/{ident(rng, 2)}.{ext}"


def numeric_columns(header: list[str], rows: list[list[str]]) -> list[int]:
    if not rows:
        return []
    return [i for i in range(len(header)) if all(i < len(r) and _NUM.match(r[i]) for r in rows)]


# --------------------------------------------------------------------------------------------
@family("data.csv-group-sum", category="data", skills=("data.csv",), difficulty="medium",
        consumes="csv", produces="csv")
def csv_group_sum(rng: random.Random, inp: Artifact | None) -> Step:
    files = {}
    if inp is None:
        src = data_path(rng, "csv")
        regions = rng.sample(CITIES, rng.randint(3, 6))
        products = [pick(rng, (f"{w.capitalize()} widget", f"{w.capitalize()}, large", f"{w} kit"))
                    for w in words(rng, rng.randint(3, 6))]
        header = ["order_id", "date", "region", "product", "quantity", "amount"]
        rows = []
        for i in range(rng.randint(20, 45)):
            rows.append([str(1000 + i * rng.randint(1, 3)), f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                         pick(rng, regions), pick(rng, products), str(rng.randint(1, 20)),
                         f"{rng.randint(1, 99999) / 100:.2f}"])
        files[src] = csv_text(header, rows)
        gcol = header.index(pick(rng, ("region", "product")))
        ncol = header.index(pick(rng, ("amount", "amount", "quantity")))
    else:
        src, header, rows = inp.path, list(inp.value["header"]), [list(r) for r in inp.value["rows"]]
        nums = numeric_columns(header, rows)
        non_num = [i for i in range(len(header)) if i not in nums]
        gcol = non_num[0] if non_num else 0
        cands = [i for i in nums if i != gcol]
        ncol = pick(rng, cands) if cands else None
    g = header[gcol]
    groups: dict[str, list] = {}
    for r in rows:
        key = r[gcol] if gcol < len(r) else ""
        acc = groups.setdefault(key, [0, Decimal(0)])
        acc[0] += 1
        if ncol is not None:
            acc[1] += Decimal(r[ncol])
    out = out_path(rng, "csv")
    if ncol is not None:
        n = header[ncol]
        ordered = sorted(groups.items(), key=lambda kv: (-kv[1][1].quantize(Decimal("0.01"), ROUND_HALF_UP), kv[0]))
        out_header = [g, "count", "total"]
        out_rows = [[k, str(c), money(t)] for k, (c, t) in ordered]
        what = (f"one row per distinct `{g}` value with the number of rows (`count`) and the sum "
                f"of the `{n}` column (`total`, written with exactly two decimals, e.g. `12.50`)")
        order = "sorted by total descending, ties by the group value ascending (byte order)"
    else:
        n = None
        ordered = sorted(groups.items(), key=lambda kv: (-kv[1][0], kv[0]))
        out_header = [g, "count"]
        out_rows = [[k, str(c)] for k, (c, _) in ordered]
        what = f"one row per distinct `{g}` value with the number of rows that have it (`count`)"
        order = "sorted by count descending, ties by the group value ascending (byte order)"
    instruction = phrasing(
        rng,
        "Aggregate the CSV file `{src}` (it has a header row; fields may be quoted and contain "
        "commas) by the `{g}` column. Write `{out}` as CSV with the header `{hdr}` and {what}, "
        "{order}.",
        "Group the rows of `{src}` by `{g}` and write the summary to `{out}`: header line "
        "`{hdr}`, then {what}. Rows must be {order}. Parse the input as real CSV — some values "
        "are quoted.",
        "Build a per-`{g}` report from `{src}` into the CSV file `{out}` (create the directory if "
        "needed). Columns: `{hdr}` — {what}; {order}.",
        src=src, g=g, out=out, hdr=",".join(out_header), what=what, order=order,
    )
    solution = f"""mkdir -p {sh_quote(out.rsplit('/', 1)[0])}
python3 - <<'EOF'
import csv
from decimal import Decimal, ROUND_HALF_UP

with open({src!r}, newline="", encoding="utf-8") as f:
    reader = csv.DictReader(f)
    groups = {{}}
    for row in reader:
        acc = groups.setdefault(row[{g!r}], [0, Decimal(0)])
        acc[0] += 1
        {"acc[1] += Decimal(row[" + repr(n) + "])" if n is not None else "pass"}
cent = Decimal("0.01")
with open({out!r}, "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f, lineterminator="\\n")
    w.writerow({out_header!r})
    {"items = sorted(groups.items(), key=lambda kv: (-kv[1][1].quantize(cent, ROUND_HALF_UP), kv[0]))" if n is not None else "items = sorted(groups.items(), key=lambda kv: (-kv[1][0], kv[0]))"}
    for k, (c, t) in items:
        w.writerow([k, c{", t.quantize(cent, ROUND_HALF_UP)" if n is not None else ""}])
EOF"""
    tests = CSV_HELPER + f"""

EXPECTED = {py([out_header] + out_rows)}


def test_header():
    assert _rows({out!r})[0] == EXPECTED[0]


def test_groups_counts_and_order():
    got = _rows({out!r})[1:]
    assert [r[:2] for r in got] == [r[:2] for r in EXPECTED[1:]]


def test_totals():
    got = _rows({out!r})[1:]
    for g, e in zip(got, EXPECTED[1:]):
        assert len(g) == len(e)
        if len(e) == 3:
            assert g[2] == e[2], (g, e)
"""
    return Step(instruction, solution, tests, files=files,
                output=Artifact(out, "csv", {"header": out_header, "rows": out_rows}),
                params={"src": src, "group": g, "sum": n, "groups": len(out_rows)})


# --------------------------------------------------------------------------------------------
@family("data.csv-join", category="data", skills=("data.csv",), difficulty="hard", produces="csv")
def csv_join(rng: random.Random, inp: Artifact | None) -> Step:
    d = f"/app/{pick(rng, ('crm', 'shop', 'billing', 'sales'))}"
    cust_file, order_file = f"{d}/customers.csv", f"{d}/orders.csv"
    n_c = rng.randint(6, 12)
    ids = sorted(rng.sample(range(1, 400), n_c))
    customers = [[f"C{i:04d}", person(rng), pick(rng, CITIES).capitalize()] for i in ids]
    statuses = ["paid", "shipped", "cancelled", "refunded", "pending"]
    counted = sorted(rng.sample(statuses, rng.randint(2, 3)))
    orders = []
    for k in range(rng.randint(20, 45)):
        cid = pick(rng, customers)[0] if rng.random() < 0.9 else f"C{rng.randint(400, 999):04d}"
        orders.append([f"O{5000 + k}", cid, f"{rng.randint(100, 50000) / 100:.2f}",
                       pick(rng, statuses)])
    rng.shuffle(orders)
    agg = {c[0]: [0, Decimal(0)] for c in customers}
    for o in orders:
        if o[1] in agg and o[3] in counted:
            agg[o[1]][0] += 1
            agg[o[1]][1] += Decimal(o[2])
    out_header = ["customer_id", "name", "orders", "total"]
    names = {c[0]: c[1] for c in customers}
    out_rows = [[cid, names[cid], str(n), money(t)]
                for cid, (n, t) in sorted(agg.items(), key=lambda kv: (-kv[1][1], kv[0]))]
    out = out_path(rng, "csv")
    st = ", ".join(f"`{s}`" for s in counted)
    instruction = phrasing(
        rng,
        "Join `{cust}` (customer_id,name,city) with `{orders}` (order_id,customer_id,amount,"
        "status). Write `{out}` with the header `customer_id,name,orders,total`: one row for "
        "every customer — including customers without orders — where `orders` is the number of "
        "their orders whose status is one of {st} and `total` is the sum of those orders' amounts "
        "with two decimals (`0.00` if none). Ignore orders of unknown customers. Sort by total "
        "descending, then customer_id ascending. Names may contain commas, so write proper CSV.",
        "Produce a revenue-per-customer CSV at `{out}` from `{cust}` and `{orders}`. Only orders "
        "with status {st} count. Output columns: `customer_id,name,orders,total` (order count, "
        "summed amount formatted like `123.40`). Every customer appears exactly once, also those "
        "with zero counted orders (`0` and `0.00`); orders whose customer_id is not in the "
        "customer file are dropped. Order rows by total (highest first) and then customer_id.",
        "Left-join the customers in `{cust}` to their orders in `{orders}` and aggregate: for each "
        "customer write `customer_id,name,orders,total` to `{out}` (with that header), counting "
        "and summing (2 decimal places) only orders in status {st}. Customers with nothing get "
        "`0,0.00`. Sort: total descending, customer_id ascending. Quote fields as CSV requires.",
        cust=cust_file, orders=order_file, out=out, st=st,
    )
    solution = f"""mkdir -p {sh_quote(out.rsplit('/', 1)[0])}
python3 - <<'EOF'
import csv
from decimal import Decimal

COUNTED = {counted!r}
with open({cust_file!r}, newline="", encoding="utf-8") as f:
    customers = list(csv.DictReader(f))
agg = {{c["customer_id"]: [c["name"], 0, Decimal(0)] for c in customers}}
with open({order_file!r}, newline="", encoding="utf-8") as f:
    for o in csv.DictReader(f):
        if o["customer_id"] in agg and o["status"] in COUNTED:
            agg[o["customer_id"]][1] += 1
            agg[o["customer_id"]][2] += Decimal(o["amount"])
with open({out!r}, "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f, lineterminator="\\n")
    w.writerow(["customer_id", "name", "orders", "total"])
    for cid, (name, n, total) in sorted(agg.items(), key=lambda kv: (-kv[1][2], kv[0])):
        w.writerow([cid, name, n, f"{{total:.2f}}"])
EOF"""
    tests = CSV_HELPER + f"""

EXPECTED = {py([out_header] + out_rows)}


def test_join_report():
    assert _rows({out!r}) == EXPECTED
"""
    return Step(instruction, solution, tests,
                files={cust_file: csv_text(["customer_id", "name", "city"], customers),
                       order_file: csv_text(["order_id", "customer_id", "amount", "status"], orders)},
                output=Artifact(out, "csv", {"header": out_header, "rows": out_rows}),
                params={"customers": len(customers), "orders": len(orders), "counted": counted})


# --------------------------------------------------------------------------------------------
@family("data.json-jq-filter", category="data", skills=("data.json",), difficulty="medium",
        produces="json")
def json_jq_filter(rng: random.Random, inp: Artifact | None) -> Step:
    teams = words(rng, rng.randint(2, 4))
    tags_pool = ["web", "db", "cache", "batch", "internal", "public", "beta"]
    services = []
    for name in rng.sample([f"{w}-{s}" for w in words(rng, 8) for s in ("api", "svc", "worker")], rng.randint(7, 14)):
        svc: dict = {"name": name, "port": rng.randint(1024, 9999)}
        if rng.random() < 0.85:
            svc["enabled"] = rng.random() < 0.65
        if rng.random() < 0.85:
            svc["tags"] = rng.sample(tags_pool, rng.randint(0, 3))
        svc["owner"] = {"team": pick(rng, teams), "oncall": pick(rng, FIRST_NAMES)}
        services.append(svc)
    doc = {"generated": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", "services": services}
    src = data_path(rng, "json")
    out = out_path(rng, "json")
    mode = pick(rng, ("tagged-enabled", "by-team", "ports"))

    def enabled(s):
        return s.get("enabled") is True

    if mode == "tagged-enabled":
        tag = pick(rng, tags_pool[:5])
        expected = sorted(s["name"] for s in services if enabled(s) and tag in s.get("tags", []))
        what = (f"a JSON array of the names of all services that are enabled (`\"enabled\": true`; "
                f"a missing `enabled` field means disabled) and carry the tag `{tag}` (a missing "
                f"`tags` field means no tags), sorted alphabetically")
        jq = (f"[.services[] | select(.enabled == true and ((.tags // []) | any(.[]; . == \"{tag}\"))) "
              f"| .name] | sort")
    elif mode == "by-team":
        expected = {}
        for s in services:
            if enabled(s):
                expected.setdefault(s["owner"]["team"], []).append(s["name"])
        expected = {t: sorted(v) for t, v in sorted(expected.items())}
        what = ("a JSON object mapping each owning team (`owner.team`) to the alphabetically "
                "sorted array of names of its enabled services (`\"enabled\": true`; missing "
                "means disabled). Teams without enabled services must not appear")
        jq = ("[.services[] | select(.enabled == true)] | group_by(.owner.team) "
              "| map({key: .[0].owner.team, value: (map(.name) | sort)}) | from_entries")
    else:
        limit = rng.randint(3000, 7000)
        expected = [{"name": s["name"], "port": s["port"]}
                    for s in sorted(services, key=lambda s: (s["port"], s["name"])) if s["port"] >= limit]
        what = (f"a JSON array of objects `{{\"name\": ..., \"port\": ...}}` (exactly these two "
                f"keys) for every service whose port is {limit} or higher, enabled or not, sorted "
                f"by port ascending and then by name")
        jq = (f"[.services[] | select(.port >= {limit}) | {{name, port}}] | sort_by(.port, .name)")
    instruction = phrasing(
        rng,
        "`{src}` describes services under the key `services`. Write to `{out}` {what}. Any JSON "
        "formatting is fine.",
        "Using jq (or Python), query `{src}` and save to `{out}` {what}.",
        "From the service inventory `{src}`, produce the file `{out}` containing {what}. Create "
        "missing directories.",
        src=src, out=out, what=what,
    )
    solution = (f"mkdir -p {sh_quote(out.rsplit('/', 1)[0])}\n"
                f"jq {sh_quote(jq)} {sh_quote(src)} > {sh_quote(out)}")
    tests = f"""
import json

EXPECTED = json.loads({json.dumps(expected, ensure_ascii=False)!r})


def test_query_result():
    with open({out!r}, encoding="utf-8") as f:
        assert json.load(f) == EXPECTED
"""
    return Step(instruction, solution, tests, files={src: json_text(doc)},
                output=Artifact(out, "json", expected),
                params={"mode": mode, "services": len(services)})


# --------------------------------------------------------------------------------------------
def _flatten(value, path=()):
    """(path, scalar) pairs in document order; like jq's `paths`, the root itself is never a leaf."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _flatten(v, path + (str(k),))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _flatten(v, path + (str(i),))
    elif path:
        yield "/".join(path), value


def _scalar_json(v) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 2 ** 53:
        v = int(v)
    return json.dumps(v, ensure_ascii=False)


@family("data.json-flatten", category="data", skills=("data.json", "data.convert"),
        difficulty="medium", consumes="json", produces="lines")
def json_flatten(rng: random.Random, inp: Artifact | None) -> Step:
    files = {}
    if inp is None:
        app = ident(rng, 1)
        doc = {
            "app": {"name": app, "debug": rng.random() < 0.5, "replicas": rng.randint(1, 9),
                    "ratio": rng.choice((0.25, 0.5, 0.75, 1.5)), "owner": None},
            "servers": [{"host": f"{w}.internal", "port": rng.randint(1000, 9999),
                         "tags": rng.sample(["a", "b", "c", "edge"], rng.randint(0, 2))}
                        for w in words(rng, rng.randint(1, 3))],
            "features": {w: rng.random() < 0.5 for w in words(rng, rng.randint(2, 4))},
            "limits": {},
            "labels": {"team": pick(rng, FIRST_NAMES), "note": pick(rng, UNICODE_WORDS)},
        }
        keys = list(doc)
        rng.shuffle(keys)
        doc = {k: doc[k] for k in keys}
        src = data_path(rng, "json")
        files[src] = json_text(doc)
    else:
        src, doc = inp.path, inp.value
    pairs = list(_flatten(doc))
    expected = [f"{p}={_scalar_json(v)}" for p, v in pairs]
    out = out_path(rng, "txt")
    instruction = phrasing(
        rng,
        "Flatten the JSON document `{src}` into `{out}`: one line `<path>=<value>` per scalar "
        "leaf (string, number, true, false or null), in document order (object keys in file "
        "order, array elements by index). `<path>` joins the object keys and array indexes from "
        "the root with `/` (e.g. `servers/0/port`); `<value>` is the leaf as compact JSON "
        "(strings in double quotes, non-ASCII characters written as UTF-8, not `\\u` escapes). "
        "Empty objects and arrays produce no line. Careful: `false` and `null` leaves must be "
        "listed too.",
        "Write every leaf of `{src}` to `{out}` as `<path>=<json>`, one per line, following the "
        "order of the document. The path is the sequence of keys/indices joined by `/` "
        "(`a/b/0/c`), the value its JSON encoding (`\"text\"`, `42`, `0.5`, `true`, `false`, "
        "`null`; UTF-8 kept as is). Leaves are scalars only — empty `{{}}` or `[]` are skipped, "
        "but `false` and `null` values are not.",
        "Turn the nested JSON in `{src}` into a flat list of `path=value` lines in `{out}`: "
        "path = keys and array indexes joined with `/`, value = the scalar encoded as JSON "
        "(quoted strings, raw UTF-8). Include every scalar (also `false`/`null`), skip empty "
        "containers, keep document order.",
        src=src, out=out,
    )
    jq = ('paths(type != "object" and type != "array") as $p '
          '| "\\($p | map(tostring) | join("/"))=\\(getpath($p) | tojson)"')
    solution = (f"mkdir -p {sh_quote(out.rsplit('/', 1)[0])}\n"
                f"jq -r {sh_quote(jq)} {sh_quote(src)} > {sh_quote(out)}")
    tests = f"""
import json
from pathlib import Path

PAIRS = json.loads({json.dumps([[p, v] for p, v in pairs], ensure_ascii=False)!r})


def _same(a, b):
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return a == b


def test_flattened():
    lines = Path({out!r}).read_text(encoding="utf-8").split("\\n")
    if lines and lines[-1] == "":
        lines.pop()
    assert len(lines) == len(PAIRS), lines
    for line, (path, value) in zip(lines, PAIRS):
        assert line.startswith(path + "="), (line, path)
        got = json.loads(line[len(path) + 1:])
        assert _same(got, value), (line, value)
"""
    return Step(instruction, solution, tests, files=files,
                output=Artifact(out, "lines", expected),
                params={"src": src, "leaves": len(expected)})


# --------------------------------------------------------------------------------------------
def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@family("data.sqlite-load-query", category="data", skills=("data.sqlite", "data.csv"),
        difficulty="medium", consumes="csv", produces="csv")
def sqlite_load_query(rng: random.Random, inp: Artifact | None) -> Step:
    db = f"/app/{pick(rng, ('company', 'hr', 'staff', 'payroll'))}.db"
    out = out_path(rng, "csv")
    files = {}
    if inp is None:
        src = data_path(rng, "csv")
        table = pick(rng, ("employees", "staff", "people"))
        depts = rng.sample(["eng", "sales", "ops", "finance", "legal", "support"], rng.randint(3, 5))
        header = ["id", "name", "dept", "salary", "hired"]
        rows = []
        for i in rng.sample(range(1, 500), rng.randint(12, 30)):
            rows.append([str(i), person(rng), pick(rng, depts), str(rng.randint(30, 190) * 1000 + rng.choice((0, 500))),
                         f"{rng.randint(2012, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"])
        files[src] = csv_text(header, rows)
        schema = (f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT NOT NULL, dept TEXT NOT NULL, "
                  f"salary INTEGER NOT NULL, hired TEXT NOT NULL)")
        mode = pick(rng, ("dept", "recent"))
        if mode == "dept":
            agg: dict[str, list[int]] = {}
            for r in rows:
                a = agg.setdefault(r[2], [0, 0, 0])
                a[0] += 1
                a[1] += int(r[3])
                a[2] = max(a[2], int(r[3]))
            out_header = ["dept", "headcount", "total_salary", "max_salary"]
            out_rows = [[d, str(a[0]), str(a[1]), str(a[2])]
                        for d, a in sorted(agg.items(), key=lambda kv: (-kv[1][1], kv[0]))]
            query = (f"SELECT dept, COUNT(*) AS headcount, SUM(salary) AS total_salary, MAX(salary) AS max_salary "
                     f"FROM {table} GROUP BY dept ORDER BY total_salary DESC, dept")
            report = ("one row per department: `dept,headcount,total_salary,max_salary`, ordered by "
                      "total_salary descending, then dept")
        else:
            year = rng.randint(2016, 2022)
            sel = sorted((r for r in rows if r[4] >= f"{year}-01-01"), key=lambda r: (-int(r[3]), int(r[0])))
            out_header = ["id", "name", "salary"]
            out_rows = [[r[0], r[1], r[3]] for r in sel]
            query = (f"SELECT id, name, salary FROM {table} WHERE hired >= '{year}-01-01' "
                     f"ORDER BY salary DESC, id")
            report = (f"`id,name,salary` of everyone hired on or after {year}-01-01, highest salary "
                      f"first, ties by id ascending")
        instruction = phrasing(
            rng,
            "Load `{src}` into a new SQLite database `{db}` as the table `{table}` with this exact "
            "schema: `{schema}` (every CSV data row becomes a row; `id` and `salary` must be stored "
            "as integers, and the header must not become a row). Then write a CSV report to `{out}` "
            "with a header line: {report}.",
            "Create the SQLite database `{db}` containing `{schema};` and import all rows of the CSV "
            "file `{src}` (skip its header; some names are quoted and contain commas). Query the "
            "table to produce `{out}`, a CSV with header giving {report}.",
            "Put the data from `{src}` into SQLite: database file `{db}`, table created with "
            "`{schema}`, one row per CSV record with integer `id`/`salary`. Afterwards export {report} "
            "as CSV (with header row) to `{out}`.",
            src=src, db=db, table=table, schema=schema, out=out, report=report,
        )
        setup_sql = f'{schema};\n.import --csv --skip 1 "{src}" {table}'
        db_test = f"""
def test_table_rows():
    con = sqlite3.connect({db!r})
    got = con.execute("SELECT id, name, dept, salary, hired, typeof(id), typeof(salary) FROM {table} ORDER BY id").fetchall()
    con.close()
    assert got == [(int(r[0]), r[1], r[2], int(r[3]), r[4], "integer", "integer") for r in sorted(ROWS, key=lambda r: int(r[0]))]
"""
        params = {"mode": mode, "rows": len(rows)}
    else:
        src, header, rows = inp.path, list(inp.value["header"]), [list(r) for r in inp.value["rows"]]
        table = pick(rng, ("imported", "records", "staging", "dataset"))
        key = header[0]
        counts: dict[str, int] = {}
        for r in rows:
            counts[r[0]] = counts.get(r[0], 0) + 1
        out_header = [key, "count"]
        out_rows = [[k, str(c)] for k, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
        cols = ", ".join(_q(h) + " TEXT" for h in header)
        query = (f"SELECT {_q(key)}, COUNT(*) AS count FROM {_q(table)} GROUP BY {_q(key)} "
                 f"ORDER BY count DESC, {_q(key)}")
        instruction = phrasing(
            rng,
            "Import the CSV file `{src}` into a new SQLite database `{db}` as table `{table}`: one "
            "TEXT column per header field (same names, same order) and one row per data line, "
            "values kept as they are. Then write `{out}`: a CSV with header `{key},count` giving "
            "how many rows have each distinct `{key}` value, most frequent first, ties by value.",
            "Create `{db}` (SQLite) with a table `{table}` holding all data rows of `{src}` — "
            "columns named after the CSV header, all of type TEXT, nothing dropped or added. Export "
            "the number of rows per `{key}` to `{out}` as CSV (`{key},count` header, count "
            "descending, then `{key}` ascending).",
            "Load `{src}` into the table `{table}` of the SQLite database `{db}` (TEXT columns "
            "named like the header; the header itself is not a row) and save the result of "
            "grouping by `{key}` with row counts to `{out}` — CSV with header `{key},count`, "
            "sorted by count descending then by `{key}`.",
            src=src, db=db, table=table, key=key, out=out,
        )
        setup_sql = f'CREATE TABLE {_q(table)} ({cols});\n.import --csv --skip 1 "{src}" {table}'
        db_test = f"""
def test_table_rows():
    con = sqlite3.connect({db!r})
    names = [r[1] for r in con.execute("PRAGMA table_info({table})")]
    got = [list(map(str, r)) for r in con.execute("SELECT * FROM {table} ORDER BY rowid")]
    con.close()
    assert names == {py(header)}
    assert got == ROWS
"""
        params = {"mode": "import", "rows": len(rows)}
    solution = f"""mkdir -p {sh_quote(out.rsplit('/', 1)[0])}
rm -f {sh_quote(db)}
sqlite3 {sh_quote(db)} <<'SQL'
{setup_sql}
SQL
# the header is written separately: sqlite3 prints none for an empty result
{{ printf '%s' {sh_quote(csv_text(out_header, []))}; sqlite3 -csv {sh_quote(db)} {sh_quote(query)}; }} > {sh_quote(out)}"""
    tests = CSV_HELPER + f"""
import sqlite3

ROWS = {py(rows)}
EXPECTED = {py([out_header] + out_rows)}

{db_test}

def test_report():
    assert _rows({out!r}) == EXPECTED
"""
    return Step(instruction, solution, tests, files=files,
                output=Artifact(out, "csv", {"header": out_header, "rows": out_rows}),
                params={"db": db, "table": table, **params})


# --------------------------------------------------------------------------------------------
@family("data.sqlite-update", category="data", skills=("data.sqlite",), difficulty="hard",
        produces="csv")
def sqlite_update(rng: random.Random, inp: Artifact | None) -> Step:
    db = f"/var/lib/{pick(rng, ('shop', 'store', 'warehouse', 'depot'))}/inventory.db"
    cats = rng.sample(["tools", "garden", "kitchen", "toys", "books", "audio"], 3)
    products = []
    next_id = 0
    for w in words(rng, rng.randint(10, 18)):
        next_id += rng.randint(1, 9)
        name = pick(rng, (f"{w.capitalize()} set", f"{w.capitalize()} lamp", f"{w.capitalize()}, deluxe",
                          f"{w.capitalize()} pack"))
        products.append({"id": next_id, "sku": f"{w[:3].upper()}-{rng.randint(100, 999)}",
                         "name": name, "category": pick(rng, cats), "price_cents": rng.randint(199, 25000),
                         "stock": rng.choice((0, 0, rng.randint(1, 80))), "discontinued": int(rng.random() < 0.35)})
    # unique skus
    seen = set()
    for p in products:
        while p["sku"] in seen:
            p["sku"] = p["sku"][:4] + str(rng.randint(100, 999))
        seen.add(p["sku"])
    cat = pick(rng, cats)
    pct = rng.choice((3, 5, 7, 10, 12, 15))
    restock = []
    for p in rng.sample(products, rng.randint(3, 6)):
        restock.append([p["sku"], str(rng.randint(1, 30))])
        if rng.random() < 0.3:
            restock.append([p["sku"], str(rng.randint(1, 10))])
    rng.shuffle(restock)
    restock_file = f"/app/{pick(rng, ('restock', 'delivery', 'incoming'))}-{rng.randint(1, 31):02d}.csv"
    # expected final state
    final = []
    add: dict[str, int] = {}
    for sku, q in restock:
        add[sku] = add.get(sku, 0) + int(q)
    for p in sorted(products, key=lambda p: p["id"]):
        p2 = dict(p)
        if p2["category"] == cat:
            p2["price_cents"] = (p2["price_cents"] * (100 + pct) + 50) // 100
        p2["stock"] += add.get(p2["sku"], 0)
        if p2["discontinued"] and p2["stock"] == 0:
            continue
        final.append(p2)
    cols = ["sku", "name", "category", "price_cents", "stock"]
    out_rows = [[str(p[c]) for c in cols] for p in final]
    out = out_path(rng, "csv")
    sql_lines = ["CREATE TABLE products (id INTEGER PRIMARY KEY, sku TEXT UNIQUE NOT NULL, name TEXT NOT NULL, "
                 "category TEXT NOT NULL, price_cents INTEGER NOT NULL, stock INTEGER NOT NULL, "
                 "discontinued INTEGER NOT NULL DEFAULT 0);"]
    for p in products:
        nm = p["name"].replace("'", "''")
        sql_lines.append(f"INSERT INTO products VALUES ({p['id']}, '{p['sku']}', '{nm}', '{p['category']}', "
                         f"{p['price_cents']}, {p['stock']}, {p['discontinued']});")
    setup_sql = "\n".join(sql_lines) + "\n"
    instruction = phrasing(
        rng,
        "The SQLite database `{db}` has a `products` table. Apply these changes, in this order: "
        "(1) raise `price_cents` of every product in category `{cat}` by {pct}%, rounding half up "
        "to a whole cent; (2) add the quantities in `{restock}` (CSV `sku,qty` with header; a sku "
        "may appear more than once, add every line) to `stock`; (3) delete products that are "
        "discontinued (`discontinued = 1`) and have a stock of 0 after the restock. Finally export "
        "the remaining products ordered by `id` to `{out}` as CSV with header "
        "`sku,name,category,price_cents,stock`.",
        "Update the inventory in `{db}` (table `products`): every `{cat}` product gets {pct}% more "
        "expensive (new `price_cents` = old × {factor}, rounded half up to an integer), the "
        "delivery listed in `{restock}` (`sku,qty` rows after a header, repeated skus add up) is "
        "added to stock, and discontinued products left with zero stock are removed. Then dump "
        "`sku,name,category,price_cents,stock` of all remaining rows, by ascending `id`, to the "
        "CSV file `{out}` (header line included).",
        "Run a maintenance pass on `{db}`: increase the prices (`price_cents`) of category "
        "`{cat}` by {pct} percent, rounded to the nearest cent with halves going up; increase "
        "`stock` by the quantities in `{restock}` (all lines, header `sku,qty`); then drop rows "
        "with `discontinued = 1` and `stock = 0`. Write the final table as CSV "
        "`sku,name,category,price_cents,stock` (with that header, ordered by id) to `{out}`.",
        db=db, cat=cat, pct=pct, factor=f"{(100 + pct) / 100:.2f}", restock=restock_file, out=out,
    )
    solution = f"""mkdir -p {sh_quote(out.rsplit('/', 1)[0])}
sqlite3 {sh_quote(db)} <<'SQL'
UPDATE products SET price_cents = (price_cents * {100 + pct} + 50) / 100 WHERE category = '{cat}';
CREATE TABLE restock_tmp (sku TEXT, qty INTEGER);
.import --csv --skip 1 {restock_file} restock_tmp
UPDATE products SET stock = stock + (SELECT SUM(qty) FROM restock_tmp r WHERE r.sku = products.sku)
  WHERE sku IN (SELECT sku FROM restock_tmp);
DROP TABLE restock_tmp;
DELETE FROM products WHERE discontinued = 1 AND stock = 0;
SQL
{{ echo sku,name,category,price_cents,stock
   sqlite3 -csv {sh_quote(db)} 'SELECT sku, name, category, price_cents, stock FROM products ORDER BY id'; }} > {sh_quote(out)}"""
    final_rows = [(p["id"], p["sku"], p["name"], p["category"], p["price_cents"], p["stock"], p["discontinued"])
                  for p in final]
    tests = CSV_HELPER + f"""
import sqlite3

FINAL = {py(final_rows)}
EXPECTED = {py([cols] + out_rows)}


def test_database_state():
    con = sqlite3.connect({db!r})
    got = con.execute("SELECT id, sku, name, category, price_cents, stock, discontinued FROM products ORDER BY id").fetchall()
    con.close()
    assert got == FINAL


def test_export():
    assert _rows({out!r}) == EXPECTED
"""
    gen = f"/tmp/{ident(rng, 1)}-setup.sql"
    return Step(instruction, solution, tests,
                files={gen: setup_sql, restock_file: csv_text(["sku", "qty"], restock)},
                run=[f"mkdir -p {db.rsplit('/', 1)[0]} && sqlite3 {db} < {gen} && rm {gen}"],
                output=Artifact(out, "csv", {"header": cols, "rows": out_rows}),
                params={"db": db, "category": cat, "pct": pct, "products": len(products),
                        "remaining": len(final)})


# --------------------------------------------------------------------------------------------
@family("data.csv-to-json", category="data", skills=("data.convert", "data.json"), difficulty="easy",
        consumes="csv", produces="json")
def csv_to_json(rng: random.Random, inp: Artifact | None) -> Step:
    files = {}
    if inp is None:
        src = data_path(rng, "csv")
        header = ["id", "name", "city", "zip", "balance", "score", "note"]
        rows = []
        for i in rng.sample(range(1, 900), rng.randint(6, 14)):
            rows.append([str(i), person(rng), pick(rng, CITIES).capitalize(),
                         f"{rng.randint(0, 99999):05d}", f"{rng.randint(-5000, 90000) / 100:.2f}",
                         str(rng.randint(-20, 100)),
                         pick(rng, ("", "", "vip", "late payer", "said \"hi\"", "n/a", "07", "1e3"))])
        keep = pick(rng, (header, ["id", "name", "zip", "balance"], ["name", "city", "score", "note"]))
        files[src] = csv_text(header, rows)
    else:
        src, header, rows = inp.path, list(inp.value["header"]), [list(r) for r in inp.value["rows"]]
        keep = header
    idx = [header.index(h) for h in keep]

    def conv(s: str):
        if _JSON_NUM.match(s):
            return int(s) if "." not in s else float(s)
        return s

    expected = [{h: conv(r[i] if i < len(r) else "") for h, i in zip(keep, idx)} for r in rows]
    out = out_path(rng, "json")
    cols = ", ".join(f"`{h}`" for h in keep)
    subset = "all columns" if keep == header else f"only the columns {cols} (in that order)"
    instruction = phrasing(
        rng,
        "Convert the CSV file `{src}` (header row, RFC 4180 quoting) to JSON at `{out}`: a "
        "single array with one object per data row, in file order, with {subset}, keyed by the "
        "header names. A value that is a plain decimal number — optional `-`, digits without a "
        "leading zero (except `0` itself), optional `.` and digits — becomes a JSON number; every "
        "other value (for example `007`, `1e3` or the empty string) stays a string.",
        "Produce `{out}` from `{src}`: a JSON array of objects (header names as keys; {subset}; "
        "rows in the original order). Numbers matching `^-?(0|[1-9][0-9]*)(\\.[0-9]+)?$` must be "
        "JSON numbers, all other fields JSON strings (so zip codes like `02139` keep their "
        "leading zero and empty fields are `\"\"`).",
        "Turn `{src}` into JSON: write to `{out}` an array containing, for each CSV record, an "
        "object with {subset}. Convert only fields that look like `12`, `-3` or `4.50` (regex "
        "`^-?(0|[1-9][0-9]*)(\\.[0-9]+)?$`) to numbers; keep everything else, including "
        "leading-zero codes and empty values, as strings.",
        src=src, out=out, subset=subset,
    )
    solution = f"""mkdir -p {sh_quote(out.rsplit('/', 1)[0])}
python3 - <<'EOF'
import csv, json, re

NUM = re.compile(r"^-?(0|[1-9][0-9]*)(\\.[0-9]+)?$")
KEEP = {keep!r}


def conv(s):
    if NUM.match(s):
        return float(s) if "." in s else int(s)
    return s


with open({src!r}, newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
data = [{{k: conv(r.get(k) or "") for k in KEEP}} for r in rows]
with open({out!r}, "w", encoding="utf-8") as f:
    json.dump(data, f, indent=2, ensure_ascii=False)
EOF"""
    tests = f"""
import json

EXPECTED = json.loads({json.dumps(expected, ensure_ascii=False)!r})


def _typed(v):
    return (type(v).__name__ if not isinstance(v, (int, float)) or isinstance(v, bool) else "num", v)


def test_converted():
    with open({out!r}, encoding="utf-8") as f:
        got = json.load(f)
    assert isinstance(got, list) and len(got) == len(EXPECTED)
    for g, e in zip(got, EXPECTED):
        assert {{k: _typed(v) for k, v in g.items()}} == {{k: _typed(v) for k, v in e.items()}}
"""
    return Step(instruction, solution, tests, files=files,
                output=Artifact(out, "json", expected),
                params={"src": src, "columns": keep, "rows": len(rows)})


# --------------------------------------------------------------------------------------------
@family("data.json-to-csv", category="data", skills=("data.convert", "data.json"),
        difficulty="medium", produces="csv")
def json_to_csv(rng: random.Random, inp: Artifact | None) -> Step:
    records = []
    for i in rng.sample(range(1, 300), rng.randint(6, 14)):
        rec: dict = {"id": i, "name": person(rng)}
        if rng.random() < 0.85:
            contact = {"city": pick(rng, CITIES).capitalize()}
            if rng.random() < 0.8:
                contact["email"] = f"{word(rng)}.{i}@example.org"
            rec["contact"] = contact
        if rng.random() < 0.8:
            rec["tags"] = rng.sample(["admin", "beta", "vip", "legacy", "trial"], rng.randint(0, 3))
        rec["active"] = rng.random() < 0.6
        items = list(rec.items())
        rng.shuffle(items)
        records.append(dict(items))
    sep = pick(rng, (";", "|", " "))
    src = data_path(rng, "json")
    wrap = rng.random() < 0.5
    doc = {"count": len(records), "users": records} if wrap else records
    where = "the array under the key `users`" if wrap else "the top-level array"
    header = ["id", "name", "email", "city", "tags", "active"]
    out_rows = []
    for r in sorted(records, key=lambda r: r["id"]):
        c = r.get("contact", {})
        out_rows.append([str(r["id"]), r["name"], c.get("email", ""), c.get("city", ""),
                         sep.join(r.get("tags", [])), "true" if r["active"] else "false"])
    out = out_path(rng, "csv")
    sep_desc = {";": "`;`", "|": "`|`", " ": "a single space"}[sep]
    instruction = phrasing(
        rng,
        "`{src}` holds user records ({where}). Export them to `{out}` as CSV with the header "
        "`id,name,email,city,tags,active`, one row per user sorted by numeric `id`. `email` and "
        "`city` come from the nested `contact` object (empty when missing), `tags` is the tag list "
        "joined with {sep} (empty when missing or empty), `active` is `true` or `false`. Use "
        "proper CSV quoting (names may contain commas).",
        "Flatten the nested user records of `{src}` ({where}) into the CSV file `{out}`: columns "
        "`id,name,email,city,tags,active` (header first), rows ordered by id ascending. Take "
        "`contact.email` and `contact.city` (empty string if absent), join `tags` with {sep} "
        "(empty if absent), and write the boolean `active` as `true`/`false`.",
        "Convert {where} of `{src}` to CSV at `{out}` with header `id,name,email,city,tags,active`. "
        "Missing nested fields (`contact`, `contact.email`, `tags`) become empty cells, tags are "
        "joined by {sep}, booleans are lowercase `true`/`false`, and rows are sorted by id.",
        src=src, out=out, where=where, sep=sep_desc,
    )
    sel = ".users" if wrap else "."
    jq = ('["id","name","email","city","tags","active"], '
          f'({sel} | sort_by(.id)[] | [.id, .name, (.contact.email // ""), (.contact.city // ""), '
          f'((.tags // []) | join("{sep}")), (.active | tostring)]) | @csv')
    solution = (f"mkdir -p {sh_quote(out.rsplit('/', 1)[0])}\n"
                f"jq -r {sh_quote(jq)} {sh_quote(src)} > {sh_quote(out)}")
    tests = CSV_HELPER + f"""

EXPECTED = {py([header] + out_rows)}


def test_exported():
    assert _rows({out!r}) == EXPECTED
"""
    return Step(instruction, solution, tests, files={src: json_text(doc)},
                output=Artifact(out, "csv", {"header": header, "rows": out_rows}),
                params={"src": src, "records": len(records), "sep": sep, "wrapped": wrap})
