"""Statistics against hand-computed values; causes; TB2 network detection; decontamination; reports."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from termforge.eval import metrics
from termforge.eval.decontam import CorpusIndex, check_tasks
from termforge.eval.report import write_compare, write_report
from termforge.eval.runner import classify
from termforge.eval.tb2 import classify_network, network_errors, scan_downloads

from eval_helpers import write_tb2_task


def E(task, reward, cause=None, category="c", difficulty="easy", **kw):
    cause = cause or ("passed" if reward == 1.0 else "wrong_result")
    return {"task": task, "reward": reward, "cause": cause, "category": category, "difficulty": difficulty, **kw}


# ------------------------------------------------------------------ pass@k
@pytest.mark.parametrize("n,c,k,expected", [
    (5, 2, 1, 2 / 5),
    (5, 2, 2, 1 - 3 / 10),          # 1 - C(3,2)/C(5,2)
    (5, 2, 3, 1 - 1 / 10),          # 1 - C(3,3)/C(5,3)
    (5, 2, 4, 1.0),                 # n - c < k
    (5, 0, 3, 0.0),
    (10, 3, 5, 1 - 21 / 252),       # 1 - C(7,5)/C(10,5)
    (1, 1, 1, 1.0),
])
def test_pass_at_k_hand_values(n, c, k, expected):
    assert metrics.pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)
    assert metrics.pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k), abs=1e-12)


def test_pass_at_k_rejects_bad_k():
    with pytest.raises(ValueError):
        metrics.pass_at_k(3, 1, 4)


def test_pass_at_k_table_averages_tasks():
    es = [E("a", 1.0), E("a", 0.0), E("a", 0.0), E("b", 0.0), E("b", 0.0), E("b", 1.0), E("c", 1.0)]
    table = metrics.pass_at_k_table(es)
    # a and b: n=3 c=1 -> pass@1 1/3, pass@2 2/3, pass@3 1; c: n=1 c=1 -> pass@1 = 1 (only k=1)
    assert table["1"] == pytest.approx((1 / 3 + 1 / 3 + 1) / 3)
    assert table["2"] == pytest.approx(2 / 3)
    assert table["3"] == pytest.approx(1.0)
    assert set(table) == {"1", "2", "3"}


# ------------------------------------------------------------------ success, stderr, bootstrap
def test_success_stderr_by_task():
    es = [E("a", 1.0), E("a", 1.0), E("b", 0.0), E("b", 0.0), E("c", 1.0), E("c", 0.0)]
    s = metrics.success_summary(es)
    assert s["success"] == pytest.approx(0.5)           # task means 1, 0, 0.5
    assert s["stderr"] == pytest.approx(0.5 / math.sqrt(3))  # sd(ddof=1) of [1, 0, .5] = 0.5
    assert (s["n_trials"], s["n_tasks"], s["n_passed"]) == (6, 3, 3)


def test_bootstrap_fixed_seed_hand_values():
    assert metrics.bootstrap_ci([0.25, 0.25, 0.25]) == [0.25, 0.25]
    # two tasks 0 and 1: resampled means are 0, .5, 1 with probability 1/4, 1/2, 1/4
    assert metrics.bootstrap_ci([0.0, 1.0]) == [0.0, 1.0]
    vals = [1, 0, 1, 1, 0, 1, 0, 1, 1, 1]
    ci = metrics.bootstrap_ci(vals)
    assert ci == metrics.bootstrap_ci(vals)  # fixed seed: reproducible
    rng = np.random.default_rng(0)  # the documented procedure, re-implemented
    means = np.asarray(vals, float)[rng.integers(0, 10, size=(10_000, 10))].mean(axis=1)
    assert ci == pytest.approx(list(np.quantile(means, [0.025, 0.975])))
    assert ci[0] < 0.7 < ci[1]


def test_needs_network_excluded_from_denominator():
    es = [E("a", 1.0), E("b", 0.0), E("n1", None, "needs_network"), E("n2", 0.0, "needs_network"),
          E("x", None, "infrastructure_error")]
    s = metrics.summarize(es)
    assert s["success"] == pytest.approx(1 / 3)  # a, b, x (infrastructure errors count as 0)
    assert (s["n_tasks"], s["n_trials"], s["n_trials_total"]) == (3, 3, 5)
    assert s["excluded"] == {"needs_network": 2}
    assert s["failure_causes"]["needs_network"] == 2 and s["failure_causes"]["passed"] == 1


def test_breakdowns():
    es = [E("a", 1.0, category="git", difficulty="easy"), E("b", 0.0, category="git", difficulty="hard"),
          E("c", 1.0, category="files", difficulty="hard")]
    s = metrics.summarize(es)
    cats = {r["category"]: r for r in s["per_category"]}
    assert cats["git"]["success"] == 0.5 and cats["git"]["n_tasks"] == 2 and cats["files"]["success"] == 1.0
    diff = {r["difficulty"]: r for r in s["per_difficulty"]}
    assert diff["hard"]["success"] == 0.5 and diff["easy"]["n_trials"] == 1


# ------------------------------------------------------------------ paired comparison
def test_sign_test_hand_values():
    assert metrics.sign_test(5, 1) == pytest.approx(2 * (1 + 6) / 64)   # 0.21875
    assert metrics.sign_test(6, 0) == pytest.approx(2 / 64)
    assert metrics.sign_test(0, 0) == 1.0
    assert metrics.sign_test(3, 3) == 1.0
    assert metrics.sign_test(10, 2) == pytest.approx(2 * (1 + 12 + 66) / 4096)


def test_paired_bootstrap_hand_values():
    zero = metrics.paired_bootstrap([0.0, 0.0, 0.0])
    assert zero == {"ci95": [0.0, 0.0], "p_value": 1.0}
    ones = metrics.paired_bootstrap([1.0, 1.0])
    assert ones["ci95"] == [1.0, 1.0] and ones["p_value"] == pytest.approx(2 / 10_001)
    mixed = metrics.paired_bootstrap([1.0, -1.0])  # mean diff resamples: -1, 0, 1 (1/4, 1/2, 1/4)
    assert mixed["ci95"] == [-1.0, 1.0] and mixed["p_value"] == 1.0


def test_compare_runs_pairs_by_task():
    a = [E("t1", 0.0), E("t2", 0.0), E("t3", 1.0), E("t4", 1.0), E("only-a", 1.0),
         E("net", 0.0, "needs_network")]
    b = [E("t1", 1.0), E("t2", 1.0), E("t3", 1.0), E("t4", 0.0), E("only-b", 0.0), E("net", 1.0)]
    c = metrics.compare_runs(a, b)
    assert c["n_tasks"] == 4 and c["only_in_a"] == ["only-a"] and c["only_in_b"] == ["net", "only-b"]
    assert (c["wins"], c["losses"], c["ties"]) == (2, 1, 1)
    assert c["success_a"] == 0.5 and c["success_b"] == 0.75 and c["difference"] == pytest.approx(0.25)
    assert c["sign_test_p_value"] == pytest.approx(1.0)  # 2 wins vs 1 loss: 2 * (1 + 3) / 8 = 1
    assert c["ci95"][0] <= 0.25 <= c["ci95"][1]


# ------------------------------------------------------------------ failure causes
def _result(reward=None, exc=None, **meta):
    return {"verifier_result": None if reward is None else {"rewards": {"reward": reward}},
            "exception_info": None if exc is None else {"exception_type": exc, "exception_message": "m"},
            "agent_result": {"metadata": meta} if meta else None}


@pytest.mark.parametrize("result,network,cause", [
    (_result(1.0, stop_reason="completed"), False, "passed"),
    (_result(0.0, stop_reason="completed", n_assistant_turns=4), False, "wrong_result"),
    (_result(0.0), False, "wrong_result"),  # the nop agent: the tests decided
    (_result(0.0, stop_reason="max_turns", n_assistant_turns=4, parse_errors=1), False, "never_completed"),
    (_result(0.0, stop_reason="max_turns", n_assistant_turns=4, parse_errors=2), False, "parse_errors"),
    (_result(0.0, "AgentTimeoutError", stop_reason="timeout"), False, "timeout"),
    (_result(None, "VerifierTimeoutError"), False, "timeout"),
    (_result(0.0, stop_reason="model_error", error="boom"), False, "infrastructure_error"),
    (_result(None, "SandboxTerminatedError"), False, "infrastructure_error"),
    (_result(None, "RewardFileNotFoundError"), False, "infrastructure_error"),
    (_result(0.0, stop_reason="completed"), True, "needs_network"),
    (_result(1.0), True, "passed"),
])
def test_classify(result, network, cause):
    assert classify(result, network)[0] == cause


# ------------------------------------------------------------------ TB2: network
def test_network_error_lines():
    out = ("+ curl -LsSf https://astral.sh/uv/install.sh\ncurl: (6) Could not resolve host: astral.sh\n"
           "/tests/test.sh: line 3: /root/.local/bin/env: No such file or directory\n"
           "/tests/test.sh: line 4: uvx: command not found\n")
    hits = network_errors(out)
    assert len(hits) == 3 and "Could not resolve host" in hits[0]
    assert network_errors("Err:1 http://deb.debian.org bookworm InRelease\n  Temporary failure resolving 'deb'")
    assert network_errors("ERROR: No matching distribution found for pytest==8.4.1")
    assert network_errors("OSError: [Errno 101] Network is unreachable")
    assert not network_errors("FAILED test_outputs.py::test_ok - AssertionError: expected 3\n1 failed")


def test_scan_and_classify_network(tmp_path):
    task = write_tb2_task(tmp_path)
    found = scan_downloads(task)
    assert any("tests/test.sh:2: downloads a URL" == f for f in found)
    assert any("uvx" in f for f in found)
    trial = tmp_path / "trial"
    (trial / "verifier").mkdir(parents=True)
    (trial / "verifier" / "test-stdout.txt").write_text("curl: (6) Could not resolve host: astral.sh\n")
    v = classify_network(trial, _result(0.0), found)
    assert v.needs_network and "Could not resolve host" in v.evidence[0]
    (trial / "verifier" / "test-stdout.txt").write_text("1 failed\n")
    assert not classify_network(trial, _result(0.0), found).needs_network           # a plain failure
    assert classify_network(trial, _result(None, "RewardFileNotFoundError"), found).needs_network
    assert not classify_network(trial, _result(None, "RewardFileNotFoundError"), []).needs_network
    build = {"exception_info": {"exception_type": "TermforgeError",
                                "exception_message": "Dockerfile: image build failed: Temporary failure "
                                                     "resolving 'deb.debian.org'"}}
    assert classify_network(trial, build, []).needs_network


def test_offline_tasks_have_no_download_evidence():
    from eval_helpers import EXAMPLES

    for task in EXAMPLES.iterdir():
        assert scan_downloads(task) == [], task


# ------------------------------------------------------------------ decontamination
def test_corpus_index_overlap(tmp_path):
    from termforge.executor.task import load_task
    from eval_helpers import EXAMPLES

    hello = load_task(EXAMPLES / "hello-file")
    csv = load_task(EXAMPLES / "csv-region-totals")
    rec = {"messages": [{"role": "system", "content": "sys"},
                        {"role": "user", "content": f"Task:\n{hello.instruction.strip()}\n\nCurrent terminal state:\n$"},
                        {"role": "assistant", "content": "{}"}]}
    path = tmp_path / "corpus.jsonl"
    path.write_text(json.dumps(rec) + "\n" + json.dumps({"text": "unrelated words about nothing at all here"}) + "\n")
    idx = CorpusIndex.load(path)
    assert idx.documents == 2
    assert idx.overlap(hello.instruction) == 1.0 and idx.overlap(csv.instruction) == 0.0
    assert check_tasks([hello, csv], idx) == [{"task": hello.name, "overlap": 1.0}]
    idx.save(tmp_path / "index.json")
    again = CorpusIndex.load(tmp_path / "index.json")
    assert again.hashes == idx.hashes and again.n == 8
    assert CorpusIndex.load(EXAMPLES).overlap(csv.instruction) == 1.0  # a folder of tasks


# ------------------------------------------------------------------ reports
def _run_dir(root, name, rows):
    d = root / name
    d.mkdir()
    (d / "index.jsonl").write_text("".join(json.dumps({"id": f"{t}__a{k}", "attempt": k, **E(t, r, category=c)}) + "\n"
                                           for k, (t, r, c) in enumerate(rows)))
    (d / "run.json").write_text(json.dumps({"model": name}))
    return d


def test_write_report_and_compare(tmp_path):
    from termforge.eval.runner import read_index

    a = _run_dir(tmp_path, "before", [("t1", 0.0, "git"), ("t2", 0.0, "git"), ("t3", 1.0, "files")])
    b = _run_dir(tmp_path, "after", [("t1", 1.0, "git"), ("t2", 1.0, "git"), ("t3", 1.0, "files")])
    rep = write_report(b, list(read_index(b).values()))
    on_disk = json.loads((b / "report.json").read_text())
    for key in ("success", "stderr", "ci95", "n_trials", "n_tasks", "pass_at_k", "per_category",
                "per_difficulty", "failure_causes"):
        assert key in on_disk
    assert on_disk["success"] == 1.0 and on_disk["model"] == "after"
    assert rep["plots"] == ["success_by_category.png", "pass_at_k.png"]
    for png in rep["plots"]:
        assert (b / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "needs network" in (b / "report.md").read_text() or "needs_network" in (b / "report.md").read_text()
    cmp = write_compare(a, b, tmp_path / "cmp")
    assert cmp["difference"] == pytest.approx(2 / 3) and (cmp["wins"], cmp["losses"]) == (2, 0)
    assert cmp["sign_test_p_value"] == pytest.approx(0.5)
    assert (tmp_path / "cmp" / "compare.png").exists() and (tmp_path / "cmp" / "compare.md").exists()
