"""Two branches that both edit a config file, a module and the changelog; the expected merge."""
import json

SETTINGS = """[database]
host = {host}
port = 5432
pool_size = {pool}

[pricing]
currency = EUR
rounding = half_up
vat_rate = {vat}
"""
PRICES = '''from decimal import Decimal

CENT = Decimal("0.01")


def gross(net, vat="0.20"):
    """Net amount plus VAT, rounded to cents."""
    return (Decimal(net) * (1 + Decimal(vat))).quantize(CENT)
'''
COUPON = '''

def apply_coupon(amount, percent):
    """Reduce `amount` by `percent` (0-100), rounded to cents."""
    return (Decimal(amount) * (100 - Decimal(percent)) / 100).quantize(CENT)
'''
BULK = '''

def bulk_discount(amount, qty, threshold={threshold}):
    """{pct}% off the line total from `threshold` items on."""
    total = Decimal(amount) * qty
    if qty >= threshold:
        total = total * Decimal("{factor}")
    return total.quantize(CENT)
'''
TEST_COUPON = '''import unittest
from decimal import Decimal

from catalog.prices import apply_coupon


class CouponTest(unittest.TestCase):
    def test_coupon(self):
        self.assertEqual(apply_coupon("80.00", 25), Decimal("60.00"))
'''
TEST_BULK = '''import unittest
from decimal import Decimal

from catalog.prices import bulk_discount


class BulkTest(unittest.TestCase):
    def test_bulk(self):
        self.assertEqual(bulk_discount("10.00", {threshold}), Decimal("{expect}"))
        self.assertEqual(bulk_discount("10.00", {below}), Decimal("{below_total}.00"))
'''
TEST_GROSS = '''import unittest
from decimal import Decimal

from catalog.prices import gross


class GrossTest(unittest.TestCase):
    def test_gross(self):
        self.assertEqual(gross("10.00"), Decimal("12.00"))
'''
CHECK = '''#!/bin/bash
cd "$(dirname "$0")" && python3 -m unittest discover -s tests -q
'''


def w(path, text):
    assert "REPO_EOF" not in text
    return f"mkdir -p \"$(dirname '{path}')\"\ncat > '{path}' <<'REPO_EOF'\n{text}REPO_EOF"


def generate(rng):
    host = rng.choice(["db.internal", "pg-primary.lan", "10.0.4.12"])
    pool0, pool_main, pool_feat = rng.sample([5, 8, 10, 12, 16, 20, 24, 32], 3)
    vat0, vat_main, vat_feat = rng.sample(["0.19", "0.20", "0.21", "0.24", "0.25"], 3)
    threshold = rng.randint(5, 50)
    pct = rng.choice([5, 10, 15, 20])
    factor = f"{(100 - pct) / 100:.2f}"
    expect = f"{10 * threshold * (100 - pct) / 100:.2f}"
    n1, n2 = rng.sample(range(100, 999), 2)
    main_subjects = rng.sample(["Tune the connection pool", "Raise the database pool size",
                                "Update VAT for the new fiscal year"], 2) + ["Add coupon support"]
    feat_subjects = ["Add bulk discount pricing", "Test the bulk discount",
                     rng.choice(["Make VAT configurable per branch", "Adjust VAT and pool for bulk orders"])]
    s = ["#!/bin/bash", "set -euo pipefail", "mkdir -p /app/catalog && cd /app/catalog",
         "git init -q -b main .", "git config user.name 'Dev One'", "git config user.email dev1@example.com"]
    day = [1]

    def commit(msg):
        stamp = f"2024-03-{day[0]:02d}T09:00:00+0000"
        day[0] += 1
        s.append(f"git add -A && GIT_AUTHOR_DATE={stamp} GIT_COMMITTER_DATE={stamp} git commit -q -m '{msg}'")

    s += [w("config/settings.ini", SETTINGS.format(host=host, pool=pool0, vat=vat0)),
          w("catalog/__init__.py", ""), w("catalog/prices.py", PRICES),
          w("tests/test_gross.py", TEST_GROSS), w("check.sh", CHECK),
          w("CHANGELOG.md", "# Changelog\n\n## Unreleased\n"),
          w(".gitignore", "__pycache__/\n"), "chmod +x check.sh"]
    commit("Initial catalog service")
    s.append("git branch feature/bulk-pricing")
    # main
    s.append(w("config/settings.ini", SETTINGS.format(host=host, pool=pool_main, vat=vat_main)))
    commit(main_subjects[0])
    s.append(w("CHANGELOG.md", f"# Changelog\n\n## Unreleased\n- Add coupon support (#{n1})\n"))
    commit(main_subjects[1])
    s += [w("catalog/prices.py", PRICES + COUPON), w("tests/test_coupon.py", TEST_COUPON)]
    commit(main_subjects[2])
    # feature
    s.append("git checkout -q feature/bulk-pricing")
    s.append(w("catalog/prices.py", PRICES + BULK.format(threshold=threshold, pct=pct, factor=factor)))
    commit(feat_subjects[0])
    s.append(w("tests/test_bulk.py", TEST_BULK.format(threshold=threshold, expect=expect, below=threshold - 1,
                                                      below_total=10 * (threshold - 1))))
    commit(feat_subjects[1])
    s.append(w("config/settings.ini",
               SETTINGS.format(host=host, pool=pool_feat, vat=vat_feat) + f"bulk_threshold = {threshold}\n"))
    s.append(w("CHANGELOG.md", f"# Changelog\n\n## Unreleased\n- Add bulk pricing (#{n2})\n"))
    commit(feat_subjects[2])
    s.append("git checkout -q main")
    expected = {
        "main_tip": main_subjects[2], "feature_tip": feat_subjects[2],
        "database": {"host": host, "port": "5432", "pool_size": str(pool_main)},
        "pricing": {"currency": "EUR", "rounding": "half_up", "vat_rate": vat_feat,
                    "bulk_threshold": str(threshold)},
        "changelog": [f"- Add coupon support (#{n1})", f"- Add bulk pricing (#{n2})"],
    }
    return {"environment/rootfs/tmp/build/make_repo.sh": "\n".join(s) + "\n",
            "tests/expected.json": json.dumps(expected, indent=1) + "\n"}
