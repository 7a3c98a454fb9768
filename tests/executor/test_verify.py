"""Verification: reward 0 before and 1 after the solution, in fresh containers, in parallel."""

from __future__ import annotations

import json

import pytest

from termforge.errors import TaskFormatError, TermforgeError
from termforge.executor.verify import find_tasks, verify_tasks

from .conftest import EXAMPLES, make_task

pytestmark = pytest.mark.docker


def test_examples_verify_in_parallel(tmp_path, example_task, docker_ready):
    paths = [example_task(p.name) for p in find_tasks([EXAMPLES])]
    assert len(paths) >= 5
    outcomes = verify_tasks(paths, jobs=3, trials_dir=tmp_path / "trials")
    assert [o.reason for o in outcomes] == ["verified"] * len(paths)
    for p in paths:
        record = json.loads((p / ".termforge" / "verify.json").read_text())
        assert record["verified"] is True
        assert record["before"]["reward"] == 0.0 and record["after"]["reward"] == 1.0
        assert record["image_id"].startswith("sha256:")
    assert (tmp_path / "trials" / f"{paths[0].name}__after" / "result.json").exists()


def test_fresh_container_per_phase(tmp_path, docker_ready):
    # The nop phase leaves no trace for the oracle phase: a marker written at build time is
    # removed by the solution; the test requires it gone and the solution's own file present.
    root = make_task(tmp_path, "fresh", solve="rm /app/marker; echo done > /app/out",
                     test="if [ ! -e /app/marker ] && [ -f /app/out ]; then echo 1; else echo 0; fi "
                          "> /logs/verifier/reward.txt",
                     dockerfile="FROM termforge/base:bookworm\nRUN mkdir -p /app && touch /app/marker\n")
    [o] = verify_tasks([root], jobs=2)
    assert o.verified, o.reason


def test_trivial_and_broken_tasks_are_rejected(tmp_path, docker_ready):
    trivial = make_task(tmp_path, "trivial", solve="true", test="echo 1 > /logs/verifier/reward.txt")
    broken = make_task(tmp_path, "broken", solve="echo wrong > /app/x",
                       test="grep -q right /app/x && r=1 || r=0; echo $r > /logs/verifier/reward.txt")
    errs = make_task(tmp_path, "errs", solve="true", test="exit 0")
    outcomes = {o.task.name: o for o in verify_tasks([trivial, broken, errs], jobs=2)}
    assert outcomes["trivial"].reason.startswith("trivial")
    assert outcomes["broken"].reason.startswith("broken")
    assert "RewardFileNotFoundError" in outcomes["errs"].reason
    assert not any(o.verified for o in outcomes.values())
    assert json.loads((broken / ".termforge" / "verify.json").read_text())["verified"] is False


def test_bad_inputs_fail_before_any_container(tmp_path):
    with pytest.raises(TermforgeError, match="no such task"):
        find_tasks([tmp_path / "absent"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(TermforgeError, match="holds no task"):
        find_tasks([tmp_path / "empty"])
    bad = make_task(tmp_path, "nosolution", solve="true", test="true")
    (bad / "solution" / "solve.sh").unlink()
    with pytest.raises(TaskFormatError, match="solve.sh"):
        verify_tasks([bad])
