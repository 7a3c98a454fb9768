"""Hostile tasks against the copy of /logs into the trial directory.

/logs/{agent,verifier,artifacts} are host directories the sandbox writes: whatever it places
there (symlinks to host paths, hard links, FIFOs, sockets, deep trees, entries it swaps while
the host copies) must not make the host read, follow, write or hang on anything outside them.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid

import pytest

from termforge.errors import TaskFormatError
from tests.security.hostile import links_under, make_task, run_hostile, tree_contains

pytestmark = pytest.mark.docker


@pytest.fixture
def host_secret(tmp_path):
    """A host directory the sandbox must never get the host to read: secret.txt holds a token,
    reward.txt says 1 and reward.json says {"reward": 1}."""
    d = tmp_path / "host-secret"
    d.mkdir()
    token = f"HOST-SECRET-{uuid.uuid4().hex}"
    (d / "secret.txt").write_text(token + "\n")
    (d / "reward.txt").write_text("1\n")
    (d / "reward.json").write_text(json.dumps({"reward": 1}))
    snapshot = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in d.iterdir()}
    return d, token, snapshot


def assert_untouched(host_dir, snapshot) -> None:
    now = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in host_dir.iterdir()}
    assert now == snapshot, "a host file was changed from the sandbox"


@pytest.mark.timeout(40)
def test_symlinked_reward_files_are_not_followed_to_the_host(tmp_path, host_secret):
    host_dir, _token, snapshot = host_secret
    # the verifier links its reward files to host files that say 1, then writes 0 through
    # the links (which, inside the sandbox, lead nowhere on the host)
    test = (f"ln -s {host_dir}/reward.txt /logs/verifier/reward.txt\n"
            f"ln -s {host_dir}/reward.json /logs/verifier/reward.json\n"
            f"mkdir -p {host_dir} && echo 0 > /logs/verifier/reward.txt\n")
    task = make_task(tmp_path, "reward-symlink", "true\n", test)
    trial = run_hostile(task, tmp_path / "trial", budget=15)
    assert trial.reward is None  # 1.0 would mean the host read its own file through the link
    assert trial.exception_type == "RewardFileNotFoundError"
    assert {"verifier/reward.txt", "verifier/reward.json"} <= set(trial.skipped)
    for name in ("reward.txt", "reward.json"):
        assert not os.path.lexists(trial.dir / "verifier" / name)
    assert_untouched(host_dir, snapshot)


@pytest.mark.timeout(40)
def test_links_in_artifacts_are_neither_copied_nor_followed(tmp_path, host_secret):
    host_dir, token, snapshot = host_secret
    solve = ("cd /logs/artifacts\n"
             f"ln -s {host_dir}/secret.txt file-link\n"
             f"ln -s {host_dir} dir-link\n"
             "ln -s / root-link\n"
             "ln -s ../../../../../.. up-link\n"
             f"mkdir -p nested/deeper && ln -s {host_dir}/secret.txt nested/deeper/link\n"
             "echo 'real data' > real.txt && ln real.txt hard.txt\n"
             "ln /etc/passwd passwd-hard && echo 'ESCAPED cross-device hard link' "
             "|| echo 'blocked cross-device hard link'\n")
    task = make_task(tmp_path, "artifact-links", solve)
    trial = run_hostile(task, tmp_path / "trial", budget=15)
    assert trial.reward == 1.0
    assert "blocked cross-device hard link" in trial.text("agent/oracle.txt")
    assert links_under(trial.dir) == []
    assert tree_contains(trial.dir, token.encode()) == []
    assert {"artifacts/file-link", "artifacts/dir-link", "artifacts/root-link",
            "artifacts/up-link", "artifacts/nested/deeper/link"} <= set(trial.skipped)
    # what is not a link is copied, as plain files
    assert (trial.dir / "artifacts" / "real.txt").read_text() == "real data\n"
    assert (trial.dir / "artifacts" / "hard.txt").read_text() == "real data\n"
    assert (trial.dir / "artifacts" / "nested" / "deeper").is_dir()
    assert_untouched(host_dir, snapshot)


SWAPPER = r'''
import ctypes, os, sys
host_dir = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
SYS_renameat2, AT_FDCWD, RENAME_EXCHANGE = 316, -100, 2
os.chdir("/logs/artifacts")
N = 40
for i in range(N):
    os.makedirs(f"d{i}")
    for j in range(40):
        with open(f"d{i}/secret.txt" if j == 0 else f"d{i}/f{j}", "w") as f:
            f.write("decoy\n")
    os.symlink(host_dir, f"l{i}")
if os.fork():
    sys.exit(0)
os.setsid()
# swap each real directory with a symlink to the host directory, atomically and forever,
# while the host copies /logs out
while True:
    for i in range(N):
        libc.syscall(SYS_renameat2, AT_FDCWD, f"d{i}".encode(), AT_FDCWD, f"l{i}".encode(),
                     RENAME_EXCHANGE)
'''


@pytest.mark.timeout(60)
def test_symlink_swapped_in_during_copy_out_does_not_leak_host_files(tmp_path, host_secret):
    # A race against the copy: a directory that is real when the host lists it and a symlink
    # to a host directory when the host opens the files in it.
    host_dir, token, snapshot = host_secret
    task = make_task(tmp_path, "copy-out-race", f"python3 /solution/swapper.py {host_dir}\n",
                     extra_files={"solution/swapper.py": SWAPPER})
    for attempt in range(3):
        trial = run_hostile(task, tmp_path / f"trial-{attempt}", budget=20)
        assert trial.reward == 1.0
        assert tree_contains(trial.dir, token.encode()) == [], f"attempt {attempt}"
        assert links_under(trial.dir) == []
    assert_untouched(host_dir, snapshot)


@pytest.mark.timeout(40)
def test_a_very_deep_tree_in_logs_does_not_break_the_trial(tmp_path):
    solve = ("cd /logs/artifacts && python3 -c \"\nimport os\nfor _ in range(1500):\n"
             "    os.mkdir('a'); os.chdir('a')\nopen('bottom.txt', 'w').write('deep')\n\"\n"
             "echo 'top' > /logs/artifacts/top.txt\n")
    task = make_task(tmp_path, "deep-tree", solve)
    trial = run_hostile(task, tmp_path / "trial", budget=20)  # returns, with a result.json
    assert trial.exception_type is None and trial.reward == 1.0
    assert (trial.dir / "artifacts" / "top.txt").read_text() == "top\n"
    assert (trial.dir / "agent" / "oracle.txt").exists()


@pytest.mark.timeout(40)
def test_fifos_and_sockets_in_logs_do_not_hang_the_copy(tmp_path):
    solve = ("mkfifo /logs/agent/fifo /logs/artifacts/pipe\n"
             "(echo 'blocked writer' > /logs/agent/fifo &)\n"  # a writer waiting for a reader
             "python3 -c \"import socket; socket.socket(socket.AF_UNIX).bind('/logs/artifacts/sock')\"\n")
    test = "mkfifo /logs/verifier/reward.txt\n"  # a reward "file" that would block a reader
    task = make_task(tmp_path, "fifos", solve, test)
    trial = run_hostile(task, tmp_path / "trial", budget=15)
    assert trial.exception_type == "RewardFileNotFoundError"
    assert {"agent/fifo", "artifacts/pipe", "artifacts/sock",
            "verifier/reward.txt"} <= set(trial.skipped)
    assert links_under(trial.dir) == []


@pytest.mark.timeout(40)
@pytest.mark.parametrize("folder", ["tests", "solution"])
def test_a_task_folder_linked_to_the_host_is_not_copied_in(tmp_path, host_secret, folder):
    # The task directory itself is hostile: its tests/ (copied in for the verifier) or its
    # solution/ (copied in for the oracle) is a symlink to a host directory.
    host_dir, token, snapshot = host_secret
    (host_dir / "test.sh").write_text("cp /tests/secret.txt /logs/verifier/\n"
                                      "echo 1 > /logs/verifier/reward.txt\n")
    (host_dir / "solve.sh").write_text("cp /solution/secret.txt /logs/agent/\n")
    snapshot = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in host_dir.iterdir()}
    task = make_task(tmp_path, f"linked-{folder}", "true\n")
    shutil.rmtree(task.path / folder)
    (task.path / folder).symlink_to(host_dir)
    with pytest.raises(TaskFormatError, match="symbolic link"):
        run_hostile(task, tmp_path / "trial", budget=15)
    result = json.loads((tmp_path / "trial" / "result.json").read_text())
    assert result["exception_info"]["exception_type"] == "TaskFormatError"
    assert tree_contains(tmp_path / "trial", token.encode()) == []
    assert_untouched(host_dir, snapshot)
