"""`termforge eval` end to end in Docker: oracle 1.0 / nop 0.0 on the example tasks, resume, a
crashing episode that loses nothing, TB2 tasks that need the network, and the tiny model through
both backends giving the same episodes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from termforge.errors import ImageMissingError
from termforge.eval.backends import ModelSpec, Provider, Sampling
from termforge.eval.runner import EvalOptions, run_eval
from termforge.executor.trial import TrialOptions

from eval_helpers import EXAMPLES, docker_ready, entries, run_cli, tiny_lm, write_tb2_task  # noqa: F401

pytestmark = pytest.mark.docker
TB2_IMAGE = "ghcr.io/laude-institute/t-bench/python-3-13:20250620"


def test_oracle_scores_one_and_nop_zero_through_the_cli(docker_ready, tmp_path):
    oracle, nop = tmp_path / "oracle", tmp_path / "nop"
    r = run_cli(["eval", EXAMPLES, "--model", "oracle", "--out", oracle, "--jobs", "3"])
    assert r.returncode == 0, r.stderr
    assert "eval oracle: success 100.0%" in r.stdout.splitlines()[-1]
    report = json.loads((oracle / "report.json").read_text())
    assert report["success"] == 1.0 and report["n_tasks"] == 6 and report["n_trials"] == 6
    assert report["pass_at_k"] == {"1": 1.0} and report["failure_causes"]["passed"] == 6
    assert {row["category"] for row in report["per_category"]} == {
        "archives", "build", "data", "files", "git", "sysadmin"}
    for name in ("report.md", "success_by_category.png", "pass_at_k.png", "run.json"):
        assert (oracle / name).exists(), name
    result = json.loads((oracle / "trials" / "termforge-examples-hello-file__a0" / "result.json").read_text())
    assert result["verifier_result"]["rewards"]["reward"] == 1.0
    assert result["termforge"]["eval"]["cause"] == "passed"
    assert result["agent_info"]["model_info"] == {"name": "oracle", "provider": "oracle"}
    assert all(e["turns"] >= 2 and e["stop_reason"] == "completed" for e in entries(oracle))

    r = run_cli(["eval", EXAMPLES, "--model", "nop", "--out", nop, "--jobs", "3"])
    assert r.returncode == 0, r.stderr
    report = json.loads((nop / "report.json").read_text())
    assert report["success"] == 0.0 and report["n_trials"] == 6 and report["failure_causes"]["wrong_result"] == 6

    before = (nop / "index.jsonl").read_text()
    r = run_cli(["eval", EXAMPLES, "--model", "nop", "--out", nop])  # resume: nothing left to run
    assert r.returncode == 0 and (nop / "index.jsonl").read_text() == before
    r = run_cli(["eval", EXAMPLES, "--model", "oracle", "--out", nop])
    assert r.returncode == 2 and "holds a run with model='nop'" in r.stderr

    r = run_cli(["eval-compare", nop, oracle, "--out", tmp_path / "cmp"])
    assert r.returncode == 0, r.stderr
    cmp = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert cmp["difference"] == 1.0 and cmp["wins"] == 6 and cmp["sign_test_p_value"] == pytest.approx(1 / 32)
    assert (tmp_path / "cmp" / "compare.png").exists()
    assert "B − A = +100.0 points on 6 paired tasks" in r.stdout


class CrashingProvider(Provider):
    """csv: the backend cannot even be built; log: the model dies mid-episode; hello: the oracle."""

    def backend(self, task, attempt):
        from termforge.executor.oracle import OracleBackend

        if "csv" in task.name:
            raise RuntimeError("backend construction exploded")
        if "log-error" in task.name:
            def dying(messages):
                raise RuntimeError("model server vanished")
            return dying
        return OracleBackend(task, seed=attempt)


def test_a_crashing_episode_never_loses_the_others(docker_ready, tmp_path):
    tasks = [EXAMPLES / n for n in ("csv-region-totals", "log-error-report", "hello-file")]
    provider = CrashingProvider(ModelSpec("oracle", "crashy"), "crashy")
    got = {e["task"].split("/")[-1]: e for e in run_eval(tasks, tmp_path, provider, EvalOptions(jobs=3))}
    assert got["hello-file"]["cause"] == "passed"
    assert got["csv-region-totals"]["cause"] == "infrastructure_error"
    assert "backend construction exploded" in got["csv-region-totals"]["detail"]
    assert got["log-error-report"]["cause"] == "infrastructure_error"
    assert "model server vanished" in got["log-error-report"]["detail"]
    assert len(entries(tmp_path)) == 3
    result = json.loads((tmp_path / "trials" / "termforge-examples-csv-region-totals__a0" / "result.json").read_text())
    assert result["exception_info"]["exception_type"] == "RuntimeError"
    # resume with --retry-errors reruns just the two errors, now with a healthy oracle
    healthy = Provider(ModelSpec("oracle", "crashy"), "crashy")
    again = run_eval(tasks, tmp_path, healthy, EvalOptions(jobs=2, retry_errors=True))
    assert [e["cause"] for e in again] == ["passed"] * 3 and len(entries(tmp_path)) == 5


def test_tb2_task_that_needs_the_network(docker_ready, tmp_path):
    tb2 = write_tb2_task(tmp_path / "tasks")
    provider = Provider(ModelSpec("oracle", "oracle"), "oracle")
    with pytest.raises(ImageMissingError, match="--base-image-map"):
        run_eval([tb2], tmp_path / "run0", provider)
    opts = EvalOptions(trial_options=TrialOptions(image_map={TB2_IMAGE: "termforge/base:bookworm"}))
    [e] = run_eval([tb2], tmp_path / "run", provider, opts)
    assert e["cause"] == "needs_network" and e["reward"] == 0.0
    assert any("Could not resolve host" in x for x in e["network_evidence"])
    from termforge.eval.report import write_report

    report = write_report(tmp_path / "run", [e, {"task": "other", "reward": 0.0, "cause": "wrong_result",
                                                 "category": "x", "difficulty": "easy"}])
    assert report["excluded"] == {"needs_network": 1} and report["n_tasks"] == 1 and report["success"] == 0.0
    skip = EvalOptions(skip_network_tasks=True, trial_options=opts.trial_options)
    [s] = run_eval([tb2], tmp_path / "run-skip", provider, skip)
    assert s["cause"] == "needs_network" and s["detail"].startswith("not run")


def _fixed_hostname(monkeypatch):
    """The prompt shows `root@<hostname>`, and Docker names each container randomly: pin the
    hostname so that two runs see the same screens (the executor does not set one)."""
    import termforge.executor.sandbox as sbx

    real = sbx.client

    class Containers:
        def __init__(self, inner):
            self._inner = inner

        def __getattr__(self, name):
            return getattr(self._inner, name)

        def run(self, *args, **kwargs):
            kwargs.setdefault("hostname", "sandbox")
            return self._inner.run(*args, **kwargs)

    class Client:
        def __init__(self, inner):
            self._inner = inner
            self.containers = Containers(inner.containers)

        def __getattr__(self, name):
            return getattr(self._inner, name)

    monkeypatch.setattr(sbx, "client", lambda: Client(real()))


def test_tiny_model_same_episodes_in_process_and_served(docker_ready, tmp_path, monkeypatch):
    from termforge.eval.backends import open_provider
    from termforge.eval.server import running_server

    _fixed_hostname(monkeypatch)
    sampling = Sampling(temperature=0.9, top_p=0.95, max_tokens=40)
    opts = EvalOptions(max_turns=3)
    task = [EXAMPLES / "hello-file"]
    local = Provider(ModelSpec("local", "tiny"), "tiny", sampling, seed=3, lm=tiny_lm())
    [a] = run_eval(task, tmp_path / "local", local, opts)
    with running_server(tiny_lm(), model_name="tiny") as url:
        remote = open_provider(f"openai:{url}#tiny", sampling=sampling, seed=3)
        [b] = run_eval(task, tmp_path / "served", remote, opts)
    ep = [json.loads((tmp_path / run / "trials" / "termforge-examples-hello-file__a0" / "episode" / "episode.json")
                     .read_text()) for run in ("local", "served")]
    assert "root@sandbox:/app#" in ep[0]["messages"][1]["content"]
    assert ep[0]["messages"] == ep[1]["messages"] and len(ep[0]["messages"]) == 8
    assert a["cause"] == b["cause"] and a["cause"] in ("parse_errors", "never_completed", "wrong_result")
    for k in ("turns", "parse_errors", "calls", "prompt_tokens", "completion_tokens", "reward"):
        assert a[k] == b[k], k
    assert a["prompt_tokens"] > 0 and a["calls"] == 3
