#!/bin/bash
set -euo pipefail
mkdir -p /app/out
python3 - <<'PY'
import csv
from decimal import ROUND_HALF_UP, Decimal

D = "/app/data"
with open(f"{D}/customers.csv", encoding="utf-8-sig", newline="") as f:
    customers = {int(r["id"].strip()): r for r in csv.DictReader(f)}
with open(f"{D}/fx_rates.csv", encoding="utf-8", newline="") as f:
    rates = {r["currency"].strip(): Decimal(r["eur_per_unit"].strip()) for r in csv.DictReader(f)}
agg, orphans = {}, []
with open(f"{D}/orders.csv", encoding="utf-8", newline="") as f:
    for r in csv.DictReader(f):
        cid = int(r["customer_id"].strip())
        if cid not in customers:
            orphans.append(r["order_id"])
            continue
        if r["status"].strip().lower() != "paid":
            continue
        a = agg.setdefault(customers[cid]["country"], [set(), 0, Decimal(0)])
        a[0].add(cid)
        a[1] += 1
        a[2] += Decimal(r["amount"].strip()) * rates[r["currency"].strip()]
rows = [(c, len(a[0]), a[1], a[2].quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)) for c, a in agg.items()]
rows.sort(key=lambda r: (-r[3], r[0]))
with open("/app/out/revenue_by_country.csv", "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["country", "customers", "paid_orders", "revenue_eur"])
    for c, n, o, rev in rows:
        w.writerow([c, n, o, f"{rev:.2f}"])
with open("/app/out/orphans.txt", "w") as f:
    f.writelines(f"{o}\n" for o in sorted(orphans))
PY
