#!/bin/bash
set -euo pipefail
cd /app/catalog
git config user.name >/dev/null || git config user.name "Oracle"
git config user.email >/dev/null || git config user.email oracle@example.com
git checkout -q main
git merge --no-ff --no-edit feature/bulk-pricing || true
python3 - <<'PY'
import configparser
import io
import re
import subprocess
from pathlib import Path


def show(ref, path):
    return subprocess.run(["git", "show", f"{ref}:{path}"], check=True, capture_output=True,
                          text=True).stdout


def section(text, name):
    m = re.search(rf"^\[{name}\]\n(?:(?!\[).*\n?)*", text, re.M)
    return m.group(0).rstrip("\n") + "\n"


ours, theirs = show("main", "config/settings.ini"), show("feature/bulk-pricing", "config/settings.ini")
Path("config/settings.ini").write_text(section(ours, "database") + "\n" + section(theirs, "pricing"))

base = show("main", "catalog/prices.py")
feat = show("feature/bulk-pricing", "catalog/prices.py")
start = feat.index("\n\ndef bulk_discount")
Path("catalog/prices.py").write_text(base.rstrip("\n") + "\n" + feat[start:])

log_main = show("main", "CHANGELOG.md").rstrip("\n").splitlines()
log_feat = show("feature/bulk-pricing", "CHANGELOG.md").rstrip("\n").splitlines()
Path("CHANGELOG.md").write_text("\n".join(log_main + log_feat[-1:]) + "\n")
PY
git add config/settings.ini catalog/prices.py CHANGELOG.md
GIT_EDITOR=true git commit -q --no-edit
./check.sh
