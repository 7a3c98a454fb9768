#!/bin/bash
set -euo pipefail
mkdir -p /app/catalog && cd /app/catalog
git init -q -b main .
git config user.name 'Dev One'
git config user.email dev1@example.com
mkdir -p "$(dirname 'config/settings.ini')"
cat > 'config/settings.ini' <<'REPO_EOF'
[database]
host = pg-primary.lan
port = 5432
pool_size = 24

[pricing]
currency = EUR
rounding = half_up
vat_rate = 0.25
REPO_EOF
mkdir -p "$(dirname 'catalog/__init__.py')"
cat > 'catalog/__init__.py' <<'REPO_EOF'
REPO_EOF
mkdir -p "$(dirname 'catalog/prices.py')"
cat > 'catalog/prices.py' <<'REPO_EOF'
from decimal import Decimal

CENT = Decimal("0.01")


def gross(net, vat="0.20"):
    """Net amount plus VAT, rounded to cents."""
    return (Decimal(net) * (1 + Decimal(vat))).quantize(CENT)
REPO_EOF
mkdir -p "$(dirname 'tests/test_gross.py')"
cat > 'tests/test_gross.py' <<'REPO_EOF'
import unittest
from decimal import Decimal

from catalog.prices import gross


class GrossTest(unittest.TestCase):
    def test_gross(self):
        self.assertEqual(gross("10.00"), Decimal("12.00"))
REPO_EOF
mkdir -p "$(dirname 'check.sh')"
cat > 'check.sh' <<'REPO_EOF'
#!/bin/bash
cd "$(dirname "$0")" && python3 -m unittest discover -s tests -q
REPO_EOF
mkdir -p "$(dirname 'CHANGELOG.md')"
cat > 'CHANGELOG.md' <<'REPO_EOF'
# Changelog

## Unreleased
REPO_EOF
mkdir -p "$(dirname '.gitignore')"
cat > '.gitignore' <<'REPO_EOF'
__pycache__/
REPO_EOF
chmod +x check.sh
git add -A && GIT_AUTHOR_DATE=2024-03-01T09:00:00+0000 GIT_COMMITTER_DATE=2024-03-01T09:00:00+0000 git commit -q -m 'Initial catalog service'
git branch feature/bulk-pricing
mkdir -p "$(dirname 'config/settings.ini')"
cat > 'config/settings.ini' <<'REPO_EOF'
[database]
host = pg-primary.lan
port = 5432
pool_size = 5

[pricing]
currency = EUR
rounding = half_up
vat_rate = 0.24
REPO_EOF
git add -A && GIT_AUTHOR_DATE=2024-03-02T09:00:00+0000 GIT_COMMITTER_DATE=2024-03-02T09:00:00+0000 git commit -q -m 'Tune the connection pool'
mkdir -p "$(dirname 'CHANGELOG.md')"
cat > 'CHANGELOG.md' <<'REPO_EOF'
# Changelog

## Unreleased
- Add coupon support (#466)
REPO_EOF
git add -A && GIT_AUTHOR_DATE=2024-03-03T09:00:00+0000 GIT_COMMITTER_DATE=2024-03-03T09:00:00+0000 git commit -q -m 'Update VAT for the new fiscal year'
mkdir -p "$(dirname 'catalog/prices.py')"
cat > 'catalog/prices.py' <<'REPO_EOF'
from decimal import Decimal

CENT = Decimal("0.01")


def gross(net, vat="0.20"):
    """Net amount plus VAT, rounded to cents."""
    return (Decimal(net) * (1 + Decimal(vat))).quantize(CENT)


def apply_coupon(amount, percent):
    """Reduce `amount` by `percent` (0-100), rounded to cents."""
    return (Decimal(amount) * (100 - Decimal(percent)) / 100).quantize(CENT)
REPO_EOF
mkdir -p "$(dirname 'tests/test_coupon.py')"
cat > 'tests/test_coupon.py' <<'REPO_EOF'
import unittest
from decimal import Decimal

from catalog.prices import apply_coupon


class CouponTest(unittest.TestCase):
    def test_coupon(self):
        self.assertEqual(apply_coupon("80.00", 25), Decimal("60.00"))
REPO_EOF
git add -A && GIT_AUTHOR_DATE=2024-03-04T09:00:00+0000 GIT_COMMITTER_DATE=2024-03-04T09:00:00+0000 git commit -q -m 'Add coupon support'
git checkout -q feature/bulk-pricing
mkdir -p "$(dirname 'catalog/prices.py')"
cat > 'catalog/prices.py' <<'REPO_EOF'
from decimal import Decimal

CENT = Decimal("0.01")


def gross(net, vat="0.20"):
    """Net amount plus VAT, rounded to cents."""
    return (Decimal(net) * (1 + Decimal(vat))).quantize(CENT)


def bulk_discount(amount, qty, threshold=24):
    """20% off the line total from `threshold` items on."""
    total = Decimal(amount) * qty
    if qty >= threshold:
        total = total * Decimal("0.80")
    return total.quantize(CENT)
REPO_EOF
git add -A && GIT_AUTHOR_DATE=2024-03-05T09:00:00+0000 GIT_COMMITTER_DATE=2024-03-05T09:00:00+0000 git commit -q -m 'Add bulk discount pricing'
mkdir -p "$(dirname 'tests/test_bulk.py')"
cat > 'tests/test_bulk.py' <<'REPO_EOF'
import unittest
from decimal import Decimal

from catalog.prices import bulk_discount


class BulkTest(unittest.TestCase):
    def test_bulk(self):
        self.assertEqual(bulk_discount("10.00", 24), Decimal("192.00"))
        self.assertEqual(bulk_discount("10.00", 23), Decimal("230.00"))
REPO_EOF
git add -A && GIT_AUTHOR_DATE=2024-03-06T09:00:00+0000 GIT_COMMITTER_DATE=2024-03-06T09:00:00+0000 git commit -q -m 'Test the bulk discount'
mkdir -p "$(dirname 'config/settings.ini')"
cat > 'config/settings.ini' <<'REPO_EOF'
[database]
host = pg-primary.lan
port = 5432
pool_size = 10

[pricing]
currency = EUR
rounding = half_up
vat_rate = 0.20
bulk_threshold = 24
REPO_EOF
mkdir -p "$(dirname 'CHANGELOG.md')"
cat > 'CHANGELOG.md' <<'REPO_EOF'
# Changelog

## Unreleased
- Add bulk pricing (#697)
REPO_EOF
git add -A && GIT_AUTHOR_DATE=2024-03-07T09:00:00+0000 GIT_COMMITTER_DATE=2024-03-07T09:00:00+0000 git commit -q -m 'Adjust VAT and pool for bulk orders'
git checkout -q main
