import os
import subprocess
from pathlib import Path

import pytest

TOOL = "/app/tools/flatten_json"
CASES = sorted(p.stem for p in Path("/tests/inputs").glob("*.json"))


def run(path):
    return subprocess.run([TOOL, str(path)], capture_output=True, timeout=30, cwd="/")


def test_is_executable():
    assert os.access(TOOL, os.X_OK)


@pytest.mark.parametrize("case", CASES)
def test_conversion(case):
    r = run(Path("/tests/inputs") / f"{case}.json")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode("utf-8") == (Path("/tests/expected") / f"{case}.csv").read_text(encoding="utf-8")


@pytest.mark.parametrize("payload", ['{"a": 1}', '[1, 2]', 'not json'])
def test_rejects_bad_input(tmp_path, payload):
    bad = tmp_path / "bad.json"
    bad.write_text(payload)
    r = run(bad)
    assert r.returncode == 1
    assert r.stderr.strip()
