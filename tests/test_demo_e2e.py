"""The shortened end-to-end demo, as a new user runs it: `termforge demo --minutes 5`.

Run by `.ci/run` after the fast suite (`pytest -q tests/test_demo_e2e.py --demo`). It asserts that
every stage ran, that the report holds the before/after numbers the evaluation measured, and that
a second run reuses every cached stage. The learning-signal threshold belongs to the full demo
(15 minutes), not to this check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from termforge.demo import STAGES
from tests.executor.conftest import docker_ready  # noqa: F401  (shared fixture)

pytestmark = pytest.mark.demo


def _demo(out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="160")
    return subprocess.run([sys.executable, "-m", "termforge.cli", "demo", "--out", str(out), "--minutes", "5",
                           *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                          timeout=3600)


def test_short_demo_runs_every_stage_and_reports(tmp_path, docker_ready):
    out = tmp_path / "demo"
    t0 = time.monotonic()
    proc = _demo(out)
    first_run_s = time.monotonic() - t0
    assert proc.returncode == 0, proc.stdout[-3000:]

    for stage in STAGES:  # every stage finished and recorded its settings key and summary
        marker = json.loads((out / ".stages" / f"{stage}.json").read_text())
        assert marker["key"] and "value" in marker, stage
    report = json.loads((out / "report.json").read_text())
    for phase in ("before", "after"):
        r = report[phase]
        assert 0.0 <= r["success"] <= 1.0 and r["stderr"] >= 0.0 and r["n_trials"] > 0, (phase, r)
        measured = json.loads(Path(report["eval_reports"][phase]).read_text())  # the number is the eval's own
        assert (r["success"], r["n_trials"]) == (measured["success"], measured["n_trials"])
    assert report["before"]["n_trials"] == report["after"]["n_trials"]
    assert report["training"]["steps"] > 0 and report["training"]["last_loss"] < report["training"]["first_loss"]
    assert sum(v["verified"] for v in report["tasks"].values()) > 0
    for name in ("report.md", "loss.png", "success_by_category.png", "train/hf/config.json",
                 "train/hf/model.safetensors"):
        assert (out / name).exists(), name
    assert "Held-out success after training" in (out / "report.md").read_text()

    t0 = time.monotonic()
    again = _demo(out)  # everything cached: nothing is recomputed
    assert again.returncode == 0, again.stdout[-3000:]
    assert again.stdout.count("cached") >= len(STAGES), again.stdout
    assert time.monotonic() - t0 < max(60.0, first_run_s / 5)
