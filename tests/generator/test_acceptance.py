"""Acceptance: 200 skill-mode tasks with seed 0 — ≥ 95 % verified, ≥ 14 categories, no near-duplicates.

Slow (about 10 minutes on 2 cores): run with --runslow.
"""

from __future__ import annotations

import itertools

import pytest

from termforge.executor.task import load_task
from termforge.generator.dedupe import NearDupIndex
from termforge.generator.pipeline import GenOptions, generate
from termforge.generator.taxonomy import load_taxonomy


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_200_skill_tasks_seed_0(tmp_path, docker_ready):
    records = generate(GenOptions(mode="skill", n=200, out=tmp_path / "run", seed=0, jobs=4, verify_runs=1))
    verified = [r for r in records if r["status"] == "verified"]
    rejected = {r["id"]: (r["reason"], r.get("detail")) for r in records if r["status"] != "verified"}
    assert len(records) == 200
    assert len(verified) >= 190, rejected
    categories = {r["category"] for r in verified}
    assert len(categories) >= 14 and categories <= set(load_taxonomy().categories), categories
    texts = {}
    for r in verified:
        task = load_task(tmp_path / "run" / r["path"])
        texts[r["id"]] = task.instruction + "\n" + (task.solution_dir / "solve.sh").read_text()
    index = NearDupIndex(threshold=0.8)
    sigs = {k: index.hasher.signature(v) for k, v in texts.items()}
    from termforge.generator.dedupe import jaccard

    worst = max((jaccard(sigs[a], sigs[b]), a, b) for a, b in itertools.combinations(sigs, 2))
    assert worst[0] < 0.8, worst
