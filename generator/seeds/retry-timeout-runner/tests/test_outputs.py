import json
import shutil
import subprocess
from pathlib import Path

import pytest

STATE = Path("/var/lib/etl")


def shard_processes():
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes()
            except OSError:
                continue
            if b"process-shard" in cmd:
                found.append(int(d.name))
    return found


@pytest.fixture(scope="module")
def run():
    shutil.rmtree(STATE, ignore_errors=True)  # fresh shard state, whatever ran before
    STATE.mkdir(parents=True)
    r = subprocess.run(["/opt/etl/run_all.sh"], capture_output=True, text=True, timeout=150)
    return r, json.loads((STATE / "state.json").read_text())


def test_results_table(run):
    got = Path("/opt/etl/results.tsv").read_text().splitlines()
    assert got == Path("/tests/expected_results.tsv").read_text().splitlines()


def test_exit_status(run):
    assert run[0].returncode == 1


def test_parallel_but_bounded(run):
    assert 2 <= run[1]["max_parallel"] <= 4


def test_attempts_really_made(run):
    want = {ln.split("\t")[0]: int(ln.split("\t")[2])
            for ln in Path("/tests/expected_results.tsv").read_text().splitlines()}
    assert run[1]["attempts"] == want


def test_nothing_left_running(run):
    assert shard_processes() == []
