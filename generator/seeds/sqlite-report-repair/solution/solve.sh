#!/bin/bash
set -euo pipefail
python3 - <<'PY'
import re
import sqlite3

db = sqlite3.connect("/app/shop/sales.db")
cur = db.cursor()
# duplicates first: keep the lowest id of every order_ref
cur.execute("DELETE FROM shop_orders WHERE id NOT IN "
            "(SELECT MIN(id) FROM shop_orders GROUP BY order_ref)")


def amount(text):
    t = re.sub(r"[^0-9.\-]", "", text.replace("USD", ""))
    return round(float(t), 2)


def stamp(text):
    t = text.strip()
    m = re.fullmatch(r"(\d{2})/(\d{2})/(\d{4})", t)
    if m:
        return f"{m.group(3)}-{m.group(2)}-{m.group(1)} 00:00:00"
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})Z?", t)
    if not m:
        raise SystemExit(f"unknown date {text!r}")
    return f"{m.group(1)} {m.group(2)}"


rows = cur.execute("SELECT id, amount, ordered_at, region FROM shop_orders").fetchall()
for rid, a, when, region in rows:
    cur.execute("UPDATE shop_orders SET amount = ?, ordered_at = ?, region = ? WHERE id = ?",
                (amount(str(a)), stamp(when), region.strip().lower(), rid))
# the amount column has TEXT affinity: rebuild the table with a REAL column
cur.executescript("""
BEGIN;
CREATE TABLE shop_orders_new (id INTEGER PRIMARY KEY, order_ref TEXT NOT NULL, customer TEXT,
                              region TEXT, amount REAL, ordered_at TEXT);
INSERT INTO shop_orders_new SELECT id, order_ref, customer, region, CAST(amount AS REAL), ordered_at
  FROM shop_orders;
DROP TABLE shop_orders;
ALTER TABLE shop_orders_new RENAME TO shop_orders;
COMMIT;
""")
db.commit()
db.close()
PY
/app/shop/monthly_report.sh
