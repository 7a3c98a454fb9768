"""Trials: Harbor result.json, reward files, timeouts, logs copied out."""

from __future__ import annotations

import json

import pytest

from termforge.executor.agents import NopAgent, OracleAgent
from termforge.executor.task import load_task
from termforge.executor.trial import parse_reward, reward_of, run_trial

from .conftest import make_task

pytestmark = pytest.mark.docker


def test_oracle_and_nop_on_an_example(tmp_path, example_task, docker_ready):
    task = load_task(example_task("csv-region-totals"))
    ok = run_trial(task, OracleAgent(), tmp_path / "oracle")
    nop = run_trial(task, NopAgent(), tmp_path / "nop")
    assert reward_of(ok) == 1.0 and ok["exception_info"] is None
    assert reward_of(nop) == 0.0 and nop["exception_info"] is None
    on_disk = json.loads((tmp_path / "oracle" / "result.json").read_text())
    assert on_disk["task_name"] == "termforge-examples/csv-region-totals"
    assert on_disk["agent_info"]["name"] == "oracle"
    assert on_disk["verifier_result"]["rewards"]["reward"] == 1.0
    for phase in ("environment_setup", "agent_setup", "agent_execution", "verifier"):
        assert on_disk[phase]["started_at"] <= on_disk[phase]["finished_at"]
    assert (tmp_path / "oracle" / "verifier" / "test-stdout.txt").read_text().count("passed") >= 1
    assert (tmp_path / "oracle" / "agent" / "oracle.txt").exists()
    assert (tmp_path / "oracle" / "config.json").exists()


def test_tests_arrive_only_after_the_agent(tmp_path, docker_ready):
    root = make_task(tmp_path, "peek", solve="ls /tests > /app/seen 2>&1; echo $? >> /app/seen",
                     test="if grep -q 'No such file' /app/seen; then r=1; else r=0; fi; "
                          "echo $r > /logs/verifier/reward.txt")
    assert reward_of(run_trial(load_task(root), OracleAgent(), tmp_path / "trial")) == 1.0


def test_reward_json_and_missing_reward(tmp_path, docker_ready):
    root = make_task(tmp_path, "rj", solve="true",
                     test='echo \'{"reward": 0.5, "style": 1}\' > /logs/verifier/reward.json')
    r = run_trial(load_task(root), OracleAgent(), tmp_path / "t1")
    assert r["verifier_result"]["rewards"] == {"reward": 0.5, "style": 1.0}
    root = make_task(tmp_path, "nothing", solve="true", test="echo no reward written")
    r = run_trial(load_task(root), OracleAgent(), tmp_path / "t2")
    assert r["verifier_result"] is None
    assert r["exception_info"]["exception_type"] == "RewardFileNotFoundError"


def test_agent_timeout_still_runs_verifier(tmp_path, docker_ready):
    root = make_task(tmp_path, "slow-agent", solve="echo started > /app/s; sleep 600",
                     test="test -f /app/s && echo 1 > /logs/verifier/reward.txt", agent_timeout_sec=2.0)
    r = run_trial(load_task(root), OracleAgent(), tmp_path / "t")
    assert r["exception_info"]["exception_type"] == "AgentTimeoutError"
    assert "agent_timeout" in r["termforge"]["limits_hit"]
    assert reward_of(r) == 1.0


def test_verifier_timeout_recorded(tmp_path, docker_ready):
    root = make_task(tmp_path, "slow-tests", solve="true", test="sleep 600",
                     verifier_timeout_sec=2.0)
    r = run_trial(load_task(root), OracleAgent(), tmp_path / "t")
    assert r["exception_info"]["exception_type"] == "VerifierTimeoutError"
    assert "verifier_timeout" in r["termforge"]["limits_hit"]


def test_parse_reward_variants(tmp_path):
    (tmp_path / "reward.txt").write_text(" 1\n")
    assert parse_reward(tmp_path) == ({"reward": 1.0}, None)
    (tmp_path / "reward.txt").write_text("")
    assert parse_reward(tmp_path)[1][0] == "RewardFileEmptyError"
    (tmp_path / "reward.txt").write_text("yes")
    assert parse_reward(tmp_path)[1][0] == "VerifierOutputParseError"
    (tmp_path / "reward.txt").unlink()
    (tmp_path / "reward.json").write_text('{"a": 1, "b": 0}')
    assert parse_reward(tmp_path) == ({"a": 1.0, "b": 0.0, "reward": 0.5}, None)
    (tmp_path / "reward.json").write_text('[1]')
    assert parse_reward(tmp_path)[1][0] == "VerifierOutputParseError"
