"""Nemotron-Terminal-Corpus import, export to JSONL/Parquet, and loading the export with `datasets`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from termforge.adapters import import_corpus, row_to_record, stable_trajectory_id
from termforge.errors import TermforgeError
from termforge.jaxtrain.data import open_shards

from .conftest import run_cli

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

PROMPT = ("You are an AI assistant tasked with solving command-line tasks in a Linux environment.\n\n"
          "Task Description:\nCount the lines of /app/data.csv.\n\nCurrent terminal state:\nroot@box:/app# ")


def _turn(i: int, done: bool) -> str:
    return "<think>hmm</think> " + json.dumps({"analysis": f"a{i}", "plan": f"p{i}", "commands": [
        {"keystrokes": "wc -l data.csv\n", "duration": 0.1}], "task_complete": done})


def nemotron_row(i: int, *, subset="dataset_adapters", domain="code", turns=2, **extra) -> dict:
    msgs = [{"role": "user", "content": PROMPT + f"#{i}"}]
    for t in range(turns):
        msgs.append({"role": "assistant", "content": _turn(t, t == turns - 1)})
        if t < turns - 1:
            msgs.append({"role": "user", "content": f"New Terminal Output:\n{i * 7 + t} data.csv\n"})
    row = {"messages": msgs, "trajectory_id": f"task_{i}__X{i:04d}", "task_group_id": f"task_{i}",
           "model_name": "deepseek-ai/DeepSeek-V3.2", "subset": subset, "domain": domain,
           "n_tokens": 1000 + i, "n_trained_tokens": 400 + i, "n_assistant_turns": turns}
    row.update(extra)
    return row


@pytest.fixture
def corpus(tmp_path) -> Path:
    root = tmp_path / "Nemotron-Terminal-Corpus"
    adapters = root / "dataset_adapters" / "code.jsonl"
    adapters.parent.mkdir(parents=True)
    rows = [nemotron_row(i, domain=["code", "math", "swe"][i % 3]) for i in range(12)]
    del rows[3]["trajectory_id"]  # -> stable hash of the messages
    rows[4].update(task_id="t-4", reward=1.0, skills=["python", "csv"])
    rows[5]["messages"][0]["content"] = [{"type": "text", "text": "part one "}, {"type": "text", "text": "two"}]
    adapters.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    skill = root / "synthetic_tasks" / "skill_based" / "easy" / "data_processing" / "data_filtered.parquet"
    skill.parent.mkdir(parents=True)
    srows = [nemotron_row(100 + i, subset="skill_based", domain="data_processing", turns=3) for i in range(8)]
    pq.write_table(pa.Table.from_pylist(srows), skill)
    return root


def test_import_maps_nemotron_rows(corpus):
    recs = list(import_corpus([corpus], created="2026-01-01T00:00:00+00:00"))
    assert len(recs) == 20
    by_id = {r.trajectory_id: r for r in recs}
    r0 = by_id["task_0__X0000"]
    assert (r0.source, r0.task_id, r0.task_group_id, r0.domain, r0.skills) == ("adapter", "task_0", "task_0", "code", ["code"])
    assert (r0.model_name, r0.n_tokens, r0.n_assistant_turns, r0.reward, r0.difficulty) == (
        "deepseek-ai/DeepSeek-V3.2", 1000, 2, 0.0, "unknown")
    hashed = [r for r in recs if r.trajectory_id.startswith("msg-")]
    assert len(hashed) == 1 and hashed[0].trajectory_id == stable_trajectory_id(hashed[0].messages)
    assert hashed[0].task_group_id == "task_3"
    # stable across imports
    assert [r.trajectory_id for r in import_corpus([corpus])] == [r.trajectory_id for r in recs]
    r4 = by_id["task_4__X0004"]
    assert (r4.task_id, r4.reward, r4.skills) == ("t-4", 1.0, ["python", "csv"])
    assert by_id["task_5__X0005"].messages[0]["content"] == "part one two"
    s = by_id["task_100__X0100"]
    assert (s.difficulty, s.domain, s.skills, s.n_assistant_turns) == ("easy", "data_processing", ["data_processing"], 3)
    assert row_to_record(nemotron_row(1, subset="skill_based_medium"), where="w", created="c").difficulty == "medium"


def test_import_shard_export_round_trip_and_datasets_loads(tmp_path, corpus, monkeypatch):
    imported = tmp_path / "imported.jsonl"
    r = run_cli("import-corpus", corpus, "--out", imported, "--default-reward", "1.0")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("imported 20 trajectories from 2 file(s)")
    r = run_cli("shard", imported, "--out", tmp_path / "shards", "--num-shards", 3)
    assert r.returncode == 0, r.stderr
    shard_records = sorted(open_shards(tmp_path / "shards").records(), key=lambda x: x.trajectory_id)
    assert len(shard_records) == 20 and {x.reward for x in shard_records} == {1.0}
    for fmt in ("jsonl", "parquet"):
        out = tmp_path / f"export.{fmt}"
        r = run_cli("export-corpus", tmp_path / "shards", "--out", out)
        assert r.returncode == 0, r.stderr
        assert f"exported 20 records from {tmp_path / 'shards'} (3 shards)" in r.stdout
        back = sorted(import_corpus([out]), key=lambda x: x.trajectory_id)
        assert back == shard_records  # export -> import is exact, both formats

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    datasets = pytest.importorskip("datasets")
    for builder, fmt in (("json", "jsonl"), ("parquet", "parquet")):
        ds = datasets.load_dataset(builder, data_files=str(tmp_path / f"export.{fmt}"), split="train",
                                   cache_dir=str(tmp_path / "hf-cache"))
        assert ds.num_rows == 20
        assert {"messages", "trajectory_id", "task_group_id", "model_name", "domain", "n_tokens", "skills",
                "reward", "source"} <= set(ds.column_names)
        row = next(x for x in ds if x["trajectory_id"] == shard_records[0].trajectory_id)
        assert row["messages"] == shard_records[0].messages
        assert row["n_tokens"] == shard_records[0].n_tokens


@pytest.mark.parametrize("line,expect", [
    ('{"messages": [{"role": "user", "content": "hi"}, {"role": "tool", "content": "x"}]}',
     r"code.jsonl:14: messages\[1\].role 'tool' is not system, user or assistant"),
    ('{"messages": []}', r"code.jsonl:14: messages must be a non-empty list"),
    ('{"messages": [{"role": "user", "content": "hi"}], "reward": "high"}', r"code.jsonl:14: reward must be a number"),
    ('not json', r"code.jsonl:14: not UTF-8 JSON"),
])
def test_import_bad_row_one_line(tmp_path, corpus, line, expect):
    path = corpus / "dataset_adapters" / "code.jsonl"
    path.write_text(path.read_text() + line + "\n")
    r = run_cli("import-corpus", path, "--out", tmp_path / "o.jsonl")
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    import re

    assert re.search(expect, lines[0]), lines[0]
    assert not (tmp_path / "o.jsonl").exists()
    assert [p for p in os.listdir(tmp_path) if p.startswith(".o.jsonl")] == []


def test_import_errors(tmp_path):
    bad = tmp_path / "x.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(TermforgeError, match="x.parquet: not a readable Parquet file"):
        list(import_corpus([bad]))
    (tmp_path / "y.txt").write_text("")
    with pytest.raises(TermforgeError, match="y.txt: unknown corpus format"):
        list(import_corpus([tmp_path / "y.txt"]))
    pq.write_table(pa.Table.from_pylist([{"messages": [{"role": "robot", "content": "x"}]}]), tmp_path / "r.parquet")
    with pytest.raises(TermforgeError, match=r"r.parquet:row 0: messages\[0\].role 'robot'"):
        list(import_corpus([tmp_path / "r.parquet"]))
