import configparser
import json
import subprocess
from pathlib import Path

REPO = Path("/app/catalog")
EXP = json.loads(Path("/tests/expected.json").read_text())


def git(*args):
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def by_subject(subject):
    hits = [ln.split(" ", 1)[0] for ln in git("log", "--all", "--format=%H %s").splitlines()
            if ln.split(" ", 1)[1] == subject]
    assert len(hits) == 1, subject
    return hits[0]


def test_merge_commit_on_main():
    assert git("symbolic-ref", "HEAD") == "refs/heads/main"
    parents = git("rev-parse", "HEAD^@").split()
    assert parents == [by_subject(EXP["main_tip"]), by_subject(EXP["feature_tip"])]


def test_settings_resolved():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "config" / "settings.ini")
    assert cfg.sections() == ["database", "pricing"]
    assert dict(cfg["database"]) == EXP["database"]
    assert dict(cfg["pricing"]) == EXP["pricing"]


def test_changelog():
    lines = (REPO / "CHANGELOG.md").read_text().splitlines()
    i = lines.index("## Unreleased")
    assert [ln for ln in lines[i + 1:] if ln.strip()] == EXP["changelog"]


def test_prices_has_both_functions_in_order():
    text = (REPO / "catalog" / "prices.py").read_text()
    assert 0 < text.index("def apply_coupon(") < text.index("def bulk_discount(")


def test_no_conflict_markers_and_clean():
    for f in git("ls-files").splitlines():
        text = (REPO / f).read_text(errors="replace")
        for marker in ("<<<<<<<", ">>>>>>>", "\n=======\n"):
            assert marker not in text, f
    assert git("status", "--porcelain") == ""
    assert not (REPO / ".git" / "MERGE_HEAD").exists()


def test_checks_pass():
    r = subprocess.run(["./check.sh"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
