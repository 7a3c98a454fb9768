import subprocess
from pathlib import Path

REPO = "/app/project"


def git(*args):
    return subprocess.run(["git", "-C", REPO, *args], capture_output=True, text=True, check=True).stdout


def test_file_restored_with_last_content():
    assert Path(REPO, "config/settings.ini").read_text() == "[server]\nport = 9090\nworkers = 4\n"


def test_committed():
    assert git("log", "-1", "--format=%s").strip() == "Restore settings.ini"
    assert "config/settings.ini" in git("ls-files")
    assert git("status", "--porcelain").strip() == ""
