import json
import subprocess
from pathlib import Path

REPO = "/app/notes-api"
EXP = json.loads(Path("/tests/expected.json").read_text())


def git(*args):
    return subprocess.run(["git", "-C", REPO, *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def subject_and_date(ref):
    s, d = git("log", "-1", "--format=%s%x00%cI", ref).split("\0")
    return s, d


def test_main_restored_with_original_commits():
    for i, ref in enumerate(["main", "main~1"]):
        subject = EXP["lost"][1 - i]
        assert subject_and_date(ref) == (subject, EXP["dates"][subject])
    assert subject_and_date("main~2")[0] == EXP["base_tip"]


def test_branch_recreated():
    subject = EXP["branch_subject"]
    assert subject_and_date("experiment/cache") == (subject, EXP["dates"][subject])


def test_stash_turned_into_commit():
    assert git("rev-parse", "wip/staging-config~1") == git("rev-parse", "main")
    assert git("show", f"wip/staging-config:{EXP['stash_file']}") + "\n" == EXP["stash_content"]


def test_main_checked_out_clean():
    assert git("symbolic-ref", "HEAD") == "refs/heads/main"
    assert git("status", "--porcelain") == ""
