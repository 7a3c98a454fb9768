"""A repository whose checks pass at v1.0 and break at one commit somewhere later."""
import json

INIT = '"""Price calculations for the storefront."""\n__version__ = "1.0.0"\n'
ROUNDING = '''from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def round_money(value):
    """Round a Decimal (or str/int) to whole cents, halves away from zero."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
'''
DISCOUNT = '''from decimal import Decimal

from .rounding import round_money

BULK_THRESHOLD = 10
BULK_RATE = Decimal("0.15")


def line_total(unit_price, qty):
    """Unit price times quantity, with the bulk discount from BULK_THRESHOLD items on."""
    total = Decimal(unit_price) * qty
    if qty >= BULK_THRESHOLD:
        total -= total * BULK_RATE
    return round_money(total)
'''
TAX = '''from decimal import Decimal

from .rounding import round_money

RATES = {"standard": Decimal("0.20"), "reduced": Decimal("0.05"), "zero": Decimal("0")}


def with_tax(amount, kind="standard"):
    """Amount plus VAT of the given kind, rounded to cents."""
    return round_money(Decimal(amount) * (1 + RATES[kind]))
'''
FMT = '''def euros(amount):
    """1234.5 -> '1,234.50 EUR'."""
    return f"{amount:,.2f} EUR"
'''
TESTS = '''import unittest
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
'''
CHECKS = '''#!/bin/bash
# Run the unit tests of the pricing package.
cd "$(dirname "$0")" && python3 -m unittest discover -s tests -q
'''
BUGS = [
    ("pricing/rounding.py", ROUNDING.replace("ROUND_HALF_UP", "ROUND_HALF_EVEN"),
     "Use banker's rounding in round_money"),
    ("pricing/rounding.py", ROUNDING.replace('Decimal("0.01")', 'Decimal("0.1")'),
     "Simplify the CENT constant"),
    ("pricing/discount.py", DISCOUNT.replace("qty >= BULK_THRESHOLD", "qty > BULK_THRESHOLD"),
     "Tidy up the bulk discount condition"),
    ("pricing/rounding.py", ROUNDING.replace("ROUND_HALF_UP", "ROUND_DOWN"),
     "Round money consistently with the ledger service"),
]
NOISE_SUBJECTS = [
    "Document the release process", "Add a changelog entry", "Fix a typo in the README",
    "Explain the tax rates in the README", "Bump version", "Add contributor notes",
    "Describe the test command", "Note supported Python versions", "Add a formatting helper",
    "Reword the package description", "Add examples to the README", "Mention the issue tracker",
    "Add a code of conduct", "Clarify the rounding policy", "Add an editorconfig",
    "Add a helper for percentages", "Record the maintainers", "Add a security contact",
    "Describe the discount rules", "Add a helper for short amounts",
    "Note the currency conventions", "Add a FAQ section", "Update the changelog",
]
WORDS = "cart basket invoice quote refund coupon voucher bundle subtotal receipt".split()


def _write(path, text):
    tag = "REPO_FILE_EOF"
    assert tag not in text
    return f"mkdir -p \"$(dirname '{path}')\"\ncat > '{path}' <<'{tag}'\n{text}{tag}\n"


def generate(rng):
    n_noise = rng.randint(10, 22)
    bug_at = rng.randint(2, n_noise - 2)  # number of noise commits before the bug
    bug_file, bug_text, bug_subject = rng.choice(BUGS)
    subjects = rng.sample(NOISE_SUBJECTS, n_noise)
    readme = ["# pricing", "", "Price calculations for the storefront.", ""]
    changelog = ["# Changelog", "", "## 1.0.0", "- first release"]
    fmt = FMT
    version = [1, 0, 0]
    helpers = rng.sample(WORDS, len(WORDS))
    script = ["#!/bin/bash", "set -euo pipefail", "mkdir -p /app/pricing && cd /app/pricing",
              "git init -q -b main .", "git config user.name 'Release Bot'",
              "git config user.email 'release-bot@example.com'"]
    day = [1]

    def commit(subject):
        d = day[0]
        day[0] += 1
        stamp = f"2024-{1 + d // 28:02d}-{1 + d % 28:02d}T10:{rng.randint(0, 59):02d}:00+0000"
        script.append("git add -A")
        script.append(f"GIT_AUTHOR_DATE='{stamp}' GIT_COMMITTER_DATE='{stamp}' "
                      f"git commit -q -m \"{subject}\"")

    for path, text in [("pricing/__init__.py", INIT), ("pricing/rounding.py", ROUNDING),
                       ("pricing/discount.py", DISCOUNT), ("pricing/tax.py", TAX),
                       ("pricing/fmt.py", FMT), ("tests/test_pricing.py", TESTS),
                       ("run_checks.sh", CHECKS), (".gitignore", "__pycache__/\n*.pyc\n"),
                       ("README.md", "\n".join(readme) + "\n"),
                       ("CHANGELOG.md", "\n".join(changelog) + "\n")]:
        script.append(_write(path, text))
    script.append("chmod +x run_checks.sh")
    commit("Initial import of the pricing package")
    script.append("git tag v1.0")
    for i, subject in enumerate(subjects):
        if i == bug_at:
            script.append(_write(bug_file, bug_text))
            commit(bug_subject)
        kind = rng.randrange(4)
        if kind == 0 and helpers:
            w = helpers.pop()
            fmt += f'\n\ndef {w}_label(amount):\n    """Label for a {w} line."""\n    return f"{w}: {{amount:.2f}}"\n'
            script.append(_write("pricing/fmt.py", fmt))
        elif kind == 1:
            version[2] += 1
            v = ".".join(map(str, version))
            script.append(_write("pricing/__init__.py", INIT.replace("1.0.0", v)))
            changelog += ["", f"## {v}", f"- {subject.lower()}"]
            script.append(_write("CHANGELOG.md", "\n".join(changelog) + "\n"))
        else:
            readme.append(f"- {subject} ({rng.randint(100, 999)}).")
            script.append(_write("README.md", "\n".join(readme) + "\n"))
        commit(subject)
    return {
        "environment/rootfs/tmp/build/make_repo.sh": "\n".join(script) + "\n",
        "tests/expected.json": json.dumps({"bad_subject": bug_subject, "bad_file": bug_file,
                                           "tip_subject": subjects[-1]}, indent=1) + "\n",
    }
