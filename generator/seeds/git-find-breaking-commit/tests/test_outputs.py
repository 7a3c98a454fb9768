import json
import subprocess
from pathlib import Path

REPO = "/app/pricing"
EXP = json.loads(Path("/tests/expected.json").read_text())


def git(*args):
    return subprocess.run(["git", "-C", REPO, *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def commit_by_subject(subject):
    hits = [line.split(" ", 1)[0] for line in git("log", "--all", "--format=%H %s").splitlines()
            if line.split(" ", 1)[1] == subject]
    assert len(hits) == 1, (subject, hits)
    return hits[0]


def test_culprit_recorded():
    got = Path("/app/first_bad_commit.txt").read_text().strip()
    assert got == commit_by_subject(EXP["bad_subject"])


def test_one_revert_on_top_of_old_tip():
    tip = commit_by_subject(EXP["tip_subject"])
    assert git("rev-parse", "HEAD~1") == tip, "expected exactly one new commit on top of main"
    assert git("rev-parse", "HEAD^@").split() == [tip], "the new commit must not be a merge"
    bad = commit_by_subject(EXP["bad_subject"])
    assert git("diff", "--name-only", "HEAD~1", "HEAD").split() == [EXP["bad_file"]]
    assert git("diff", f"{bad}~1", "HEAD", "--", EXP["bad_file"]) == ""


def test_on_main_and_clean():
    assert git("symbolic-ref", "HEAD") == "refs/heads/main"
    assert git("status", "--porcelain") == ""
    assert not (Path(REPO) / ".git" / "BISECT_LOG").exists()


def test_checks_pass():
    r = subprocess.run(["./run_checks.sh"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
