"""Curation filters (each counted), dedupe, decontamination and balancing on synthetic records."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from termforge.errors import ConfigError
from termforge.executor.task import TaskConfig, write_task
from termforge.generator.curate import CurateOptions, curate
from termforge.records import TrajectoryRecord


def turn(keys, complete=False):
    return json.dumps({"analysis": "looking", "plan": "do it", "task_complete": complete,
                       "commands": [{"keystrokes": k, "duration": 0.5} for k in keys]})


def record(rid, *, task="t", keys=("ls\n",), reward=1.0, domain="files", skills=("files.find",),
           instruction="Do the thing in /app.", observation="file1\nroot@x:/app#", extra=None):
    msgs = [{"role": "system", "content": "sys"}, {"role": "user", "content": instruction}]
    msgs += [{"role": "assistant", "content": extra or turn(keys)},
             {"role": "user", "content": observation},
             {"role": "assistant", "content": turn([], True)}]
    return TrajectoryRecord(trajectory_id=rid, task_id=task, task_group_id=task, messages=msgs,
                            source="skill", skills=list(skills), domain=domain, reward=reward)


def write(path, recs):
    path.write_text("".join(r.to_json() + "\n" for r in recs))
    return path


def test_every_filter_is_counted(tmp_path):
    evals = tmp_path / "eval"
    write_task(evals / "e", instruction="Reverse every line of /app/secret/input.txt into /app/out.txt "
                                        "keeping the order of the lines exactly as they were.\n",
               config=TaskConfig(name="eval/e"), files={"environment/Dockerfile": "FROM x\n",
                                                        "tests/test.sh": "true\n"})
    recs = [
        record("good", task="a", keys=["find /app -name '*.log'\n"]),
        record("failed", task="b", reward=0.0),
        record("malformed", task="c", extra="I will now run ls"),
        record("priv", task="d", keys=["sudo rm -rf /var/log\n"]),
        record("garbage", task="e", observation="\x00\x01\x02\x03\x04\x05\x06ok\x07\x08"),
        record("flood", task="f", observation="\n".join(["same line"] * 200)),
        record("long", task="g", keys=["echo " + "x" * 50_000 + "\n"]),
        record("dup", task="a", keys=["find /app -name '*.log'\n"]),
        record("near", task="a", keys=["find /app -name '*.log'\n", "ls\n"]),
        record("contam", task="h", keys=["rev /app/secret/input.txt > /app/out.txt\n"],
               instruction="Reverse every line of /app/secret/input.txt into /app/out.txt keeping "
                           "the order of the lines exactly as they were."),
        record("other", task="i", keys=["du -sh /var/cache\n"], domain="sysadmin"),
    ]
    src = write(tmp_path / "in.jsonl", recs)
    opts = CurateOptions(max_tokens=5000, near_dup_threshold=0.5, decontaminate=(evals,))
    report = curate([src], tmp_path / "out", opts)
    assert report["dropped"] == {"failed": 1, "malformed": 1, "privileged": 1, "nonsense": 2,
                                 "over_length": 1, "duplicate": 1, "near_duplicate": 1, "contaminated": 1}
    kept = [json.loads(line)["trajectory_id"]
            for line in (tmp_path / "out" / "curated.jsonl").read_text().splitlines()]
    assert kept == ["good", "other"]
    assert report["input"] == 11 and report["kept"] == 2
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["dropped"]["nonsense"] == 2 and saved["examples"]["privileged"][0].startswith("priv")


def test_keep_failed_and_parse_error_budget(tmp_path):
    src = write(tmp_path / "in.jsonl", [record("f", reward=0.0),
                                        record("m", task="m", extra="oops not json")])
    report = curate([src], tmp_path / "o", CurateOptions(keep_failed=True, max_parse_errors=1))
    assert report["kept"] == 2


def test_balancing_caps_the_over_represented(tmp_path):
    recs = [record(f"a{i}", task=f"a{i}", keys=[f"cmd{i} --flag {i * 7}\n"], domain="files") for i in range(40)]
    recs += [record(f"b{i}", task=f"b{i}", keys=[f"other{i} {i * 13}\n"], domain="git") for i in range(10)]
    recs += [record("c0", task="c0", keys=["solo\n"], domain="build")]
    src = write(tmp_path / "in.jsonl", recs)
    report = curate([src], tmp_path / "o", CurateOptions(balance="uniform", balance_slack=1.0, seed=3))
    after = report["histogram_after"]
    assert after["files"] == 17 and after["git"] == 10 and after["build"] == 1  # cap = ceil(51/3)
    assert report["balance"]["capped"] == {"files": {"had": 40, "kept": 17}}
    assert "build" in report["balance"]["under_represented"]
    again = curate([src], tmp_path / "o2", CurateOptions(balance="uniform", balance_slack=1.0, seed=3))
    assert (tmp_path / "o" / "curated.jsonl").read_text() == (tmp_path / "o2" / "curated.jsonl").read_text()
    assert again["kept"] == report["kept"]
    weights = tmp_path / "w.json"
    weights.write_text(json.dumps({"files": 1, "git": 1, "build": 0}))
    report = curate([src], tmp_path / "o3", CurateOptions(balance=str(weights), balance_slack=1.0))
    assert report["histogram_after"].get("build", 0) == 0


def test_bad_input(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"trajectory_id": "x"}\n')
    with pytest.raises(ConfigError, match="bad.jsonl:1"):
        curate([bad], tmp_path / "o")
    with pytest.raises(ConfigError, match="no such file"):
        curate([tmp_path / "absent"], tmp_path / "o")
    proc = subprocess.run([sys.executable, "-m", "termforge.cli", "curate", str(bad), "--out",
                           str(tmp_path / "o")], capture_output=True, text=True)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "bad.jsonl:1" in lines[0]
