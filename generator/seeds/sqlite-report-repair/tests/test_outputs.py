import csv
import json
import re
import sqlite3
from pathlib import Path

DB = "/app/shop/sales.db"
REPORT = Path("/app/shop/reports/monthly_revenue.csv")
EXPECTED = json.loads(Path("/tests/expected_rows.json").read_text())
EXPECTED_REPORT = list(csv.reader(Path("/tests/expected_report.csv").read_text().splitlines()))


def rows():
    db = sqlite3.connect(DB)
    try:
        return db.execute("SELECT id, order_ref, region, amount, typeof(amount), ordered_at "
                          "FROM shop_orders").fetchall()
    finally:
        db.close()


def test_one_row_per_order_with_lowest_id():
    got = {ref: rid for rid, ref, *_ in rows()}
    assert len(got) == len(rows()), "duplicate order_ref rows remain"
    assert got == {ref: e["id"] for ref, e in EXPECTED.items()}


def test_amount_column_is_real():
    db = sqlite3.connect(DB)
    try:
        cols = {r[1]: r[2].upper() for r in db.execute("PRAGMA table_info(shop_orders)")}
    finally:
        db.close()
    assert cols.get("amount") == "REAL"
    assert {"id", "order_ref", "customer", "region", "ordered_at"} <= set(cols)


def test_amounts_are_real_dollars():
    for rid, ref, region, amount, kind, when in rows():
        assert kind in ("real", "integer"), (ref, amount, kind)
        assert abs(amount - EXPECTED[ref]["amount"]) < 0.005, (ref, amount)


def test_dates_and_regions_normalized():
    for rid, ref, region, amount, kind, when in rows():
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", when), when
        assert when == EXPECTED[ref]["ordered_at"], ref
        assert region == EXPECTED[ref]["region"], (ref, region)


def test_report_regenerated():
    assert REPORT.is_file()
    got = [r for r in csv.reader(REPORT.read_text().splitlines()) if r]
    assert got == EXPECTED_REPORT
