"""Dirty order data for the shop database, and what a correct cleanup leaves behind."""
import csv
import io
import json
from decimal import Decimal

REGIONS = ["north", "south", "east", "west", "central", "coast"]
CUSTOMERS = ("acme globex initech umbrella hooli stark wayne wonka tyrell cyberdyne soylent "
             "vandelay").split()


def _amount_text(rng, cents):
    d = Decimal(cents) / 100
    style = rng.randrange(5)
    if style == 0:
        return f"{d:.2f}"
    if style == 1:
        return f"${d:,.2f}"
    if style == 2:
        return f"  {d:.2f} "
    if style == 3:
        return f"USD {d:.2f}"
    return f"{d:,.2f}"


def _date_text(rng, y, m, d, hh, mm, ss):
    style = rng.randrange(3)
    if style == 0:
        return f"{y:04d}-{m:02d}-{d:02d} {hh:02d}:{mm:02d}:{ss:02d}", (hh, mm, ss)
    if style == 1:
        return f"{y:04d}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}Z", (hh, mm, ss)
    return f"{d:02d}/{m:02d}/{y:04d}", (0, 0, 0)


def _region_text(rng, region):
    return rng.choice([region, region.upper(), region.capitalize(), f" {region}", f"{region}  "])


def generate(rng):
    regions = rng.sample(REGIONS, rng.randint(3, 5))
    year = rng.choice([2023, 2024])
    months = sorted(rng.sample(range(1, 13), rng.randint(3, 5)))
    rows, clean = [], {}
    n = rng.randint(70, 130)
    for i in range(n):
        ref = f"SO-{year}-{rng.randint(10000, 99999)}"
        if ref in clean:
            continue
        region = rng.choice(regions)
        cents = rng.randint(150, 250000)
        m = rng.choice(months)
        day = rng.randint(1, 28)
        hh, mi, ss = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
        dtext, (h2, m2, s2) = _date_text(rng, year, m, day, hh, mi, ss)
        row = [ref, rng.choice(CUSTOMERS), _region_text(rng, region), _amount_text(rng, cents), dtext]
        rows.append(row)
        clean[ref] = {"region": region, "amount": cents, "month": f"{year:04d}-{m:02d}",
                      "ordered_at": f"{year:04d}-{m:02d}-{day:02d} {h2:02d}:{m2:02d}:{s2:02d}"}
        if rng.random() < 0.1:
            rows.append(list(row))  # imported twice
    # ids in insertion order; a duplicate keeps the lowest id
    sql = ["CREATE TABLE shop_orders (id INTEGER PRIMARY KEY, order_ref TEXT NOT NULL, customer TEXT,"
           " region TEXT, amount TEXT, ordered_at TEXT);", "BEGIN;"]
    first_id = {}
    for i, r in enumerate(rows, 1):
        first_id.setdefault(r[0], i)
        vals = ", ".join("'" + v.replace("'", "''") + "'" for v in r)
        sql.append(f"INSERT INTO shop_orders (id, order_ref, customer, region, amount, ordered_at) "
                   f"VALUES ({i}, {vals});")
    sql.append("COMMIT;")
    report = {}
    for ref, c in clean.items():
        key = (c["month"], c["region"])
        cnt, tot = report.get(key, (0, 0))
        report[key] = (cnt + 1, tot + c["amount"])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["month", "region", "order_count", "revenue"])
    for (month, region), (cnt, tot) in sorted(report.items()):
        w.writerow([month, region, cnt, f"{Decimal(tot) / 100:.2f}"])
    expected = {ref: {"id": first_id[ref], "region": c["region"], "amount": c["amount"] / 100,
                      "ordered_at": c["ordered_at"]} for ref, c in sorted(clean.items())}
    return {
        "environment/rootfs/tmp/build/shop_orders.sql": "\n".join(sql) + "\n",
        "tests/expected_report.csv": buf.getvalue(),
        "tests/expected_rows.json": json.dumps(expected, indent=1) + "\n",
    }
