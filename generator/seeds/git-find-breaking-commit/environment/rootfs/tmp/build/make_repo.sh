#!/bin/bash
set -euo pipefail
mkdir -p /app/pricing && cd /app/pricing
git init -q -b main .
git config user.name 'Release Bot'
git config user.email 'release-bot@example.com'
mkdir -p "$(dirname 'pricing/__init__.py')"
cat > 'pricing/__init__.py' <<'REPO_FILE_EOF'
"""Price calculations for the storefront."""
__version__ = "1.0.0"
REPO_FILE_EOF

mkdir -p "$(dirname 'pricing/rounding.py')"
cat > 'pricing/rounding.py' <<'REPO_FILE_EOF'
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def round_money(value):
    """Round a Decimal (or str/int) to whole cents, halves away from zero."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
REPO_FILE_EOF

mkdir -p "$(dirname 'pricing/discount.py')"
cat > 'pricing/discount.py' <<'REPO_FILE_EOF'
from decimal import Decimal

from .rounding import round_money

BULK_THRESHOLD = 10
BULK_RATE = Decimal("0.15")


def line_total(unit_price, qty):
    """Unit price times quantity, with the bulk discount from BULK_THRESHOLD items on."""
    total = Decimal(unit_price) * qty
    if qty >= BULK_THRESHOLD:
        total -= total * BULK_RATE
    return round_money(total)
REPO_FILE_EOF

mkdir -p "$(dirname 'pricing/tax.py')"
cat > 'pricing/tax.py' <<'REPO_FILE_EOF'
from decimal import Decimal

from .rounding import round_money

RATES = {"standard": Decimal("0.20"), "reduced": Decimal("0.05"), "zero": Decimal("0")}


def with_tax(amount, kind="standard"):
    """Amount plus VAT of the given kind, rounded to cents."""
    return round_money(Decimal(amount) * (1 + RATES[kind]))
REPO_FILE_EOF

mkdir -p "$(dirname 'pricing/fmt.py')"
cat > 'pricing/fmt.py' <<'REPO_FILE_EOF'
def euros(amount):
    """1234.5 -> '1,234.50 EUR'."""
    return f"{amount:,.2f} EUR"
REPO_FILE_EOF

mkdir -p "$(dirname 'tests/test_pricing.py')"
cat > 'tests/test_pricing.py' <<'REPO_FILE_EOF'
import unittest
from decimal import Decimal

from pricing.discount import line_total
from pricing.rounding import round_money
from pricing.tax import with_tax


class PricingTest(unittest.TestCase):
    def test_halves_round_up(self):
        self.assertEqual(round_money("2.345"), Decimal("2.35"))
        self.assertEqual(round_money("0.005"), Decimal("0.01"))

    def test_cents_are_kept(self):
        self.assertEqual(round_money("1.25"), Decimal("1.25"))

    def test_bulk_discount_from_threshold(self):
        self.assertEqual(line_total("2.00", 10), Decimal("17.00"))
        self.assertEqual(line_total("2.00", 9), Decimal("18.00"))

    def test_tax(self):
        self.assertEqual(with_tax("10.00"), Decimal("12.00"))
        self.assertEqual(with_tax("0.10", "reduced"), Decimal("0.11"))


if __name__ == "__main__":
    unittest.main()
REPO_FILE_EOF

mkdir -p "$(dirname 'run_checks.sh')"
cat > 'run_checks.sh' <<'REPO_FILE_EOF'
#!/bin/bash
# Run the unit tests of the pricing package.
cd "$(dirname "$0")" && python3 -m unittest discover -s tests -q
REPO_FILE_EOF

mkdir -p "$(dirname '.gitignore')"
cat > '.gitignore' <<'REPO_FILE_EOF'
__pycache__/
*.pyc
REPO_FILE_EOF

mkdir -p "$(dirname 'README.md')"
cat > 'README.md' <<'REPO_FILE_EOF'
# pricing

Price calculations for the storefront.

REPO_FILE_EOF

mkdir -p "$(dirname 'CHANGELOG.md')"
cat > 'CHANGELOG.md' <<'REPO_FILE_EOF'
# Changelog

## 1.0.0
- first release
REPO_FILE_EOF

chmod +x run_checks.sh
git add -A
GIT_AUTHOR_DATE='2024-01-02T10:27:00+0000' GIT_COMMITTER_DATE='2024-01-02T10:27:00+0000' git commit -q -m "Initial import of the pricing package"
git tag v1.0
mkdir -p "$(dirname 'README.md')"
cat > 'README.md' <<'REPO_FILE_EOF'
# pricing

Price calculations for the storefront.

- Add a changelog entry (725).
REPO_FILE_EOF

git add -A
GIT_AUTHOR_DATE='2024-01-03T10:40:00+0000' GIT_COMMITTER_DATE='2024-01-03T10:40:00+0000' git commit -q -m "Add a changelog entry"
mkdir -p "$(dirname 'pricing/__init__.py')"
cat > 'pricing/__init__.py' <<'REPO_FILE_EOF'
"""Price calculations for the storefront."""
__version__ = "1.0.1"
REPO_FILE_EOF

mkdir -p "$(dirname 'CHANGELOG.md')"
cat > 'CHANGELOG.md' <<'REPO_FILE_EOF'
# Changelog

## 1.0.0
- first release

## 1.0.1
- add a formatting helper
REPO_FILE_EOF

git add -A
GIT_AUTHOR_DATE='2024-01-04T10:35:00+0000' GIT_COMMITTER_DATE='2024-01-04T10:35:00+0000' git commit -q -m "Add a formatting helper"
mkdir -p "$(dirname 'README.md')"
cat > 'README.md' <<'REPO_FILE_EOF'
# pricing

Price calculations for the storefront.

- Add a changelog entry (725).
- Record the maintainers (553).
REPO_FILE_EOF

git add -A
GIT_AUTHOR_DATE='2024-01-05T10:55:00+0000' GIT_COMMITTER_DATE='2024-01-05T10:55:00+0000' git commit -q -m "Record the maintainers"
mkdir -p "$(dirname 'README.md')"
cat > 'README.md' <<'REPO_FILE_EOF'
# pricing

Price calculations for the storefront.

- Add a changelog entry (725).
- Record the maintainers (553).
- Add a helper for percentages (163).
REPO_FILE_EOF

git add -A
GIT_AUTHOR_DATE='2024-01-06T10:51:00+0000' GIT_COMMITTER_DATE='2024-01-06T10:51:00+0000' git commit -q -m "Add a helper for percentages"
mkdir -p "$(dirname 'pricing/fmt.py')"
cat > 'pricing/fmt.py' <<'REPO_FILE_EOF'
def euros(amount):
    """1234.5 -> '1,234.50 EUR'."""
    return f"{amount:,.2f} EUR"


def quote_label(amount):
    """Label for a quote line."""
    return f"quote: {amount:.2f}"
REPO_FILE_EOF

git add -A
GIT_AUTHOR_DATE='2024-01-07T10:05:00+0000' GIT_COMMITTER_DATE='2024-01-07T10:05:00+0000' git commit -q -m "Add a code of conduct"
mkdir -p "$(dirname 'README.md')"
cat > 'README.md' <<'REPO_FILE_EOF'
# pricing

Price calculations for the storefront.

- Add a changelog entry (725).
- Record the maintainers (553).
- Add a helper for percentages (163).
- Reword the package description (827).
REPO_FILE_EOF

git add -A
GIT_AUTHOR_DATE='2024-01-08T10:52:00+0000' GIT_COMMITTER_DATE='2024-01-08T10:52:00+0000' git commit -q -m "Reword the package description"
mkdir -p "$(dirname 'pricing/fmt.py')"
cat > 'pricing/fmt.py' <<'REPO_FILE_EOF'
def euros(amount):
    """1234.5 -> '1,234.50 EUR'."""
    return f"{amount:,.2f} EUR"


def quote_label(amount):
    """Label for a quote line."""
    return f"quote: {amount:.2f}"


def bundle_label(amount):
    """Label for a bundle line."""
    return f"bundle: {amount:.2f}"
REPO_FILE_EOF

git add -A
GIT_AUTHOR_DATE='2024-01-09T10:39:00+0000' GIT_COMMITTER_DATE='2024-01-09T10:39:00+0000' git commit -q -m "Add a helper for short amounts"
mkdir -p "$(dirname 'README.md')"
cat > 'README.md' <<'REPO_FILE_EOF'
# pricing

Price calculations for the storefront.

- Add a changelog entry (725).
- Record the maintainers (553).
- Add a helper for percentages (163).
- Reword the package description (827).
- Mention the issue tracker (947).
REPO_FILE_EOF

git add -A
GIT_AUTHOR_DATE='2024-01-10T10:55:00+0000' GIT_COMMITTER_DATE='2024-01-10T10:55:00+0000' git commit -q -m "Mention the issue tracker"
mkdir -p "$(dirname 'README.md')"
cat > 'README.md' <<'REPO_FILE_EOF'
# pricing

Price calculations for the storefront.

- Add a changelog entry (725).
- Record the maintainers (553).
- Add a helper for percentages (163).
- Reword the package description (827).
- Mention the issue tracker (947).
- Add a security contact (349).
REPO_FILE_EOF

git add -A
GIT_AUTHOR_DATE='2024-01-11T10:46:00+0000' GIT_COMMITTER_DATE='2024-01-11T10:46:00+0000' git commit -q -m "Add a security contact"
mkdir -p "$(dirname 'README.md')"
cat > 'README.md' <<'REPO_FILE_EOF'
# pricing

Price calculations for the storefront.

- Add a changelog entry (725).
- Record the maintainers (553).
- Add a helper for percentages (163).
- Reword the package description (827).
- Mention the issue tracker (947).
- Add a security contact (349).
- Explain the tax rates in the README (820).
REPO_FILE_EOF

git add -A
GIT_AUTHOR_DATE='2024-01-12T10:55:00+0000' GIT_COMMITTER_DATE='2024-01-12T10:55:00+0000' git commit -q -m "Explain the tax rates in the README"
mkdir -p "$(dirname 'pricing/fmt.py')"
cat > 'pricing/fmt.py' <<'REPO_FILE_EOF'
def euros(amount):
    """1234.5 -> '1,234.50 EUR'."""
    return f"{amount:,.2f} EUR"


def quote_label(amount):
    """Label for a quote line."""
    return f"quote: {amount:.2f}"


def bundle_label(amount):
    """Label for a bundle line."""
    return f"bundle: {amount:.2f}"


def basket_label(amount):
    """Label for a basket line."""
    return f"basket: {amount:.2f}"
REPO_FILE_EOF

git add -A
GIT_AUTHOR_DATE='2024-01-13T10:12:00+0000' GIT_COMMITTER_DATE='2024-01-13T10:12:00+0000' git commit -q -m "Add a FAQ section"
mkdir -p "$(dirname 'pricing/__init__.py')"
cat > 'pricing/__init__.py' <<'REPO_FILE_EOF'
"""Price calculations for the storefront."""
__version__ = "1.0.2"
REPO_FILE_EOF

mkdir -p "$(dirname 'CHANGELOG.md')"
cat > 'CHANGELOG.md' <<'REPO_FILE_EOF'
# Changelog

## 1.0.0
- first release

## 1.0.1
- add a formatting helper

## 1.0.2
- fix a typo in the readme
REPO_FILE_EOF

git add -A
GIT_AUTHOR_DATE='2024-01-14T10:15:00+0000' GIT_COMMITTER_DATE='2024-01-14T10:15:00+0000' git commit -q -m "Fix a typo in the README"
mkdir -p "$(dirname 'pricing/__init__.py')"
cat > 'pricing/__init__.py' <<'REPO_FILE_EOF'
"""Price calculations for the storefront."""
__version__ = "1.0.3"
REPO_FILE_EOF

mkdir -p "$(dirname 'CHANGELOG.md')"
cat > 'CHANGELOG.md' <<'REPO_FILE_EOF'
# Changelog

## 1.0.0
- first release

## 1.0.1
- add a formatting helper

## 1.0.2
- fix a typo in the readme

## 1.0.3
- bump version
REPO_FILE_EOF

git add -A
GIT_AUTHOR_DATE='2024-01-15T10:51:00+0000' GIT_COMMITTER_DATE='2024-01-15T10:51:00+0000' git commit -q -m "Bump version"
mkdir -p "$(dirname 'README.md')"
cat > 'README.md' <<'REPO_FILE_EOF'
# pricing

Price calculations for the storefront.

- Add a changelog entry (725).
- Record the maintainers (553).
- Add a helper for percentages (163).
- Reword the package description (827).
- Mention the issue tracker (947).
- Add a security contact (349).
- Explain the tax rates in the README (820).
- Note the currency conventions (193).
REPO_FILE_EOF

git add -A
GIT_AUTHOR_DATE='2024-01-16T10:05:00+0000' GIT_COMMITTER_DATE='2024-01-16T10:05:00+0000' git commit -q -m "Note the currency conventions"
mkdir -p "$(dirname 'pricing/rounding.py')"
cat > 'pricing/rounding.py' <<'REPO_FILE_EOF'
from decimal import ROUND_DOWN, Decimal

CENT = Decimal("0.01")


def round_money(value):
    """Round a Decimal (or str/int) to whole cents, halves away from zero."""
    return Decimal(value).quantize(CENT, rounding=ROUND_DOWN)
REPO_FILE_EOF

git add -A
GIT_AUTHOR_DATE='2024-01-17T10:20:00+0000' GIT_COMMITTER_DATE='2024-01-17T10:20:00+0000' git commit -q -m "Round money consistently with the ledger service"
mkdir -p "$(dirname 'README.md')"
cat > 'README.md' <<'REPO_FILE_EOF'
# pricing

Price calculations for the storefront.

- Add a changelog entry (725).
- Record the maintainers (553).
- Add a helper for percentages (163).
- Reword the package description (827).
- Mention the issue tracker (947).
- Add a security contact (349).
- Explain the tax rates in the README (820).
- Note the currency conventions (193).
- Update the changelog (211).
REPO_FILE_EOF

git add -A
GIT_AUTHOR_DATE='2024-01-18T10:19:00+0000' GIT_COMMITTER_DATE='2024-01-18T10:19:00+0000' git commit -q -m "Update the changelog"
mkdir -p "$(dirname 'README.md')"
cat > 'README.md' <<'REPO_FILE_EOF'
# pricing

Price calculations for the storefront.

- Add a changelog entry (725).
- Record the maintainers (553).
- Add a helper for percentages (163).
- Reword the package description (827).
- Mention the issue tracker (947).
- Add a security contact (349).
- Explain the tax rates in the README (820).
- Note the currency conventions (193).
- Update the changelog (211).
- Add examples to the README (823).
REPO_FILE_EOF

git add -A
GIT_AUTHOR_DATE='2024-01-19T10:07:00+0000' GIT_COMMITTER_DATE='2024-01-19T10:07:00+0000' git commit -q -m "Add examples to the README"
