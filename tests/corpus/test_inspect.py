"""`termforge inspect`: counts, histograms, distributions, samples and the summary line."""

from __future__ import annotations

import json
from collections import Counter

from termforge.corpus_commands import corpus_stats
from termforge.shards import write_shards

from .conftest import make_records, run_cli, write_jsonl


def test_inspect_cli_reports_counts_and_samples(tmp_path):
    recs = make_records(150, seed=2)
    write_shards(iter(recs), tmp_path / "set", 3, seed=0, generator_config_hash="cfg-77")
    r = run_cli("inspect", tmp_path / "set", "--samples", 2, "--json", tmp_path / "stats.json")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for title in ("skill histogram", "source histogram", "difficulty histogram", "lengths per trajectory",
                  "assistant turns histogram", "characters histogram", "tokens histogram", "reward histogram"):
        assert title in out
    assert "cfg-77" in out
    last = out.strip().splitlines()[-1]
    assert last.startswith(f"{tmp_path / 'set'}: 150 records in 3 shards, 37 tasks")
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["records"] == 150 and stats["shards"] == 3 and stats["unique_task_groups"] == 11
    assert stats["skills"] == dict(Counter(s for x in recs for s in x.skills))
    assert stats["sources"] == dict(Counter(x.source for x in recs))
    assert stats["difficulties"] == dict(Counter(x.difficulty for x in recs))
    assert stats["lengths"]["tokens"]["count"] == sum(x.n_tokens is not None for x in recs)
    assert stats["lengths"]["assistant_turns"]["max"] == max(x.n_assistant_turns for x in recs)
    assert stats["reward"]["pass_rate"] == round(sum(x.reward == 1.0 for x in recs) / 150, 4)
    assert len(stats["sample_ids"]) == 2
    for sid in stats["sample_ids"]:
        assert sid in out  # rendered panels carry the trajectory id
    assert "more chars]" in out  # long observations are truncated


def test_inspect_jsonl_and_refusals(tmp_path):
    src = write_jsonl(tmp_path / "a.jsonl", make_records(10, seed=4))
    r = run_cli("inspect", src, "--samples", 0)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1].startswith(f"{src}: 10 records, ")
    (tmp_path / "torn").mkdir()
    (tmp_path / "torn" / "part-00000-of-00002.array_record").write_bytes(b"")
    r = run_cli("inspect", tmp_path / "torn")
    assert r.returncode != 0 and "not a complete shard set: no manifest.json" in r.stderr
    assert "Traceback" not in r.stderr


def test_corpus_stats_distributions():
    recs = make_records(64, seed=9)
    stats = corpus_stats(recs, samples=5, seed=1)
    assert stats["records"] == 64 and len(stats["samples"]) == 5
    again = corpus_stats(recs, samples=5, seed=1)
    assert [x.trajectory_id for x in again["samples"]] == [x.trajectory_id for x in stats["samples"]]
    msgs = stats["lengths"]["messages"]
    assert msgs["min"] <= msgs["p50"] <= msgs["p90"] <= msgs["max"]
    assert sum(msgs["histogram"].values()) == 64
    assert corpus_stats([])["records"] == 0
