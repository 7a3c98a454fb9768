"""Customers, orders and FX rates with messy formatting; the expected revenue report."""
import csv
import io
from decimal import ROUND_HALF_UP, Decimal

NAMES = ["Acme, Inc.", "Globex", "Initech \"Intl\"", "Umbrella Corp", "Hooli", "Stark Industries",
         "Wayne Enterprises", "Wonka & Sons", "Tyrell", "Soylent, Ltd", "Vandelay Imports", "Pied Piper"]
COUNTRIES = ["Portugal", "Germany", "Japan", "Brazil", "Kenya", "Canada", "Norway"]


def write(rows, bom=False, eol="\n"):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=eol)
    for r in rows:
        w.writerow(r)
    return ("\ufeff" if bom else "") + buf.getvalue()


def generate(rng):
    countries = rng.sample(COUNTRIES, rng.randint(3, 5))
    cust = {}
    for i in sorted(rng.sample(range(1, 300), rng.randint(8, 12))):
        cust[i] = (rng.choice(NAMES), rng.choice(countries))
    rates = {"EUR": Decimal("1"), "USD": Decimal(str(rng.randint(8800, 9500) / 10000)),
             "GBP": Decimal(str(rng.randint(11400, 11900) / 10000))}
    c_rows = [["id", "name", "country"]]
    for i, (name, country) in cust.items():
        ident = rng.choice([str(i), f"{i:04d}", f" {i} "])
        c_rows.append([ident, name, country])
    orders = [["order_id", "customer_id", "amount", "currency", "status"]]
    agg, orphans = {}, []
    for n in range(rng.randint(30, 60)):
        oid = f"O-{10000 + n * rng.randint(1, 7)}"
        if any(r[0] == oid for r in orders):
            continue
        if rng.random() < 0.08:
            cid = rng.randint(300, 399)
        else:
            cid = rng.choice(list(cust))
        amount = Decimal(rng.randint(100, 99999)) / 100
        cur = rng.choice(["EUR", "EUR", "USD", "GBP"])
        status = rng.choice(["paid", "paid", "Paid ", "PAID", "refunded", "pending", "cancelled"])
        orders.append([oid, rng.choice([str(cid), f"{cid:05d}"]), f"{amount:.2f}", cur, status])
        if cid not in cust:
            orphans.append(oid)
            continue
        if status.strip().lower() != "paid":
            continue
        country = cust[cid][1]
        a = agg.setdefault(country, {"customers": set(), "orders": 0, "revenue": Decimal(0)})
        a["customers"].add(cid)
        a["orders"] += 1
        a["revenue"] += amount * rates[cur]
    if not orphans:
        orders.append(["O-99999", "0404", "12.00", "EUR", "paid"])
        orphans.append("O-99999")
    rows = []
    for country, a in agg.items():
        rows.append((country, len(a["customers"]), a["orders"],
                     a["revenue"].quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)))
    rows.sort(key=lambda r: (-r[3], r[0]))
    report = write([["country", "customers", "paid_orders", "revenue_eur"]] +
                   [[c, n, o, f"{r:.2f}"] for c, n, o, r in rows])
    fx = write([["currency", "eur_per_unit"]] + [[k, str(v)] for k, v in rates.items()])
    return {
        "environment/rootfs/app/data/customers.csv": write(c_rows, bom=True, eol="\r\n"),
        "environment/rootfs/app/data/orders.csv": write(orders),
        "environment/rootfs/app/data/fx_rates.csv": fx,
        "tests/expected_report.csv": report,
        "tests/expected_orphans.txt": "".join(f"{o}\n" for o in sorted(orphans)),
    }
