"""`termforge gen` pipeline: determinism, resumability, rejection reasons, bad input."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from termforge.errors import ConfigError
from termforge.executor.task import TaskConfig, load_task, tree_digest, write_task
from termforge.executor.verify import PhaseOutcome, VerifyOutcome
from termforge.generator.pipeline import GenOptions, generate, judge, read_index

TEST_SH = "#!/bin/bash\nmkdir -p /logs/verifier\n{body}\n"


def _task(dest: Path, name: str, *, solve: str, test: str, instruction: str | None = None):
    files = {"environment/Dockerfile": "FROM termforge/base:bookworm\nWORKDIR /app\n",
             "solution/solve.sh": f"#!/bin/bash\n{solve}\n",
             "tests/test.sh": TEST_SH.format(body=test)}
    cfg = TaskConfig(name=name, agent_timeout_sec=30.0, verifier_timeout_sec=30.0,
                     termforge={"skills": ["files.create"], "family": "test", "steps": 1})
    return write_task(dest, instruction=instruction or f"Create the file /app/{name}.txt.\n",
                      config=cfg, files=files)


def scripted_drawer(kinds: list[str]):
    """Task i is of kinds[i]: good, trivial, broken, privileged, duplicate, error."""

    def draw(i, rng, dest, name):
        kind = kinds[i]
        token = f"t{i}x{rng.randint(0, 10**9)}"
        good_test = (f"test -f /app/{token} && echo 1 > /logs/verifier/reward.txt "
                     f"|| echo 0 > /logs/verifier/reward.txt")
        if kind == "good":
            return _task(dest, name, solve=f"touch /app/{token}", test=good_test,
                         instruction=f"Create an empty file named {token} in /app: task {i}.\n")
        if kind == "trivial":
            return _task(dest, name, solve="true", test="echo 1 > /logs/verifier/reward.txt")
        if kind == "broken":
            return _task(dest, name, solve="true", test=good_test)
        if kind == "privileged":
            return _task(dest, name, solve=f"sudo touch /app/{token}", test=good_test)
        if kind == "duplicate":
            return _task(dest, name, solve="touch /app/same", test=good_test,
                         instruction="Create an empty file named same in /app, exactly as before.\n")
        raise RuntimeError("family bug")

    return draw


def test_judge():
    def outcome(before, after):
        o = VerifyOutcome(task=None)  # type: ignore[arg-type]
        o.before = PhaseOutcome(before, None, 1.0, [], "")
        o.after = PhaseOutcome(after, None, 1.0, [], "")
        return o

    assert judge([outcome(0.0, 1.0), outcome(0.0, 1.0)]) == ("verified", None, None)
    assert judge([outcome(0.0, 1.0), outcome(0.0, 0.0)])[1] == "flaky"
    assert judge([outcome(1.0, 1.0)])[1] == "trivial"
    assert judge([outcome(0.0, 0.0)])[1] == "broken"


@pytest.mark.docker
def test_rejection_reasons_are_counted(tmp_path, docker_ready):
    kinds = ["good", "trivial", "broken", "privileged", "duplicate", "duplicate", "error", "good"]
    opts = GenOptions(mode="skill", n=len(kinds), out=tmp_path / "run", jobs=2, verify_runs=1)
    records = generate(opts, drawer=scripted_drawer(kinds))
    got = [(r["status"], r["reason"]) for r in records]
    assert got == [("verified", None), ("rejected", "trivial"), ("rejected", "broken"),
                   ("rejected", "privileged"), ("rejected", "broken"), ("rejected", "duplicate"),
                   ("rejected", "draw-error"), ("verified", None)]
    kept = sorted(p.name for p in (tmp_path / "run" / "tasks").iterdir())
    assert kept == [records[0]["id"], records[7]["id"]]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["totals"]["verified"] == 2 and summary["totals"]["rejected:duplicate"] == 1
    assert summary["per_skill"]["files.create"]["generated"] == 7
    assert not (tmp_path / "run" / ".staging").exists()


@pytest.mark.docker
def test_decontamination_against_eval_tasks(tmp_path, docker_ready):
    evals = tmp_path / "eval"
    _task(evals / "e1", "e1", solve="true", test="true",
          instruction="Create an empty file named t1x in /app: this is the held out evaluation task.\n")
    def similar(i, rng, dest, name):
        return _task(dest, name, solve="touch /app/q", test="true",
                     instruction="Create an empty file named t1x in /app: this is the held out evaluation task.\n")

    records = generate(GenOptions(mode="skill", n=1, out=tmp_path / "run", verify_runs=1,
                                  decontaminate=(evals,)), drawer=similar)
    assert records[0]["reason"] == "contaminated" and "e1" in records[0]["detail"]


@pytest.mark.docker
def test_same_seed_same_tasks_whatever_the_jobs(tmp_path, docker_ready):
    runs = []
    for jobs in (1, 2):
        out = tmp_path / f"jobs{jobs}"
        records = generate(GenOptions(mode="skill", n=5, out=out, seed=11, jobs=jobs, verify_runs=1))
        runs.append({r["id"]: (r["status"], r["family"], tree_digest(out / r["path"], exclude=(".termforge",))
                               if r["status"] == "verified" else None) for r in records})
    assert runs[0] == runs[1]
    assert sum(s == "verified" for s, _, _ in runs[0].values()) >= 4


@pytest.mark.docker
def test_interrupted_run_resumes_without_duplicates(tmp_path, docker_ready):
    out = tmp_path / "run"
    kinds = ["good"] * 6

    class Stop(Exception):
        pass

    seen = []

    def stop_after_two(rec):
        seen.append(rec.id)
        if len(seen) == 2:
            raise Stop

    opts = GenOptions(mode="skill", n=6, out=out, verify_runs=1, jobs=1)
    with pytest.raises(Stop):
        generate(opts, drawer=scripted_drawer(kinds), on_record=stop_after_two)
    assert not (out / ".staging").exists() or not any((out / ".staging").iterdir())
    first = read_index(out)
    assert 1 <= len(first) <= 2
    # a torn line from a crash mid-write is ignored and repaired
    with open(out / "index.jsonl", "a") as f:
        f.write('{"id": "skill-s0-0000')
    records = generate(opts, drawer=scripted_drawer(kinds))
    ids = [json.loads(line)["id"] for line in (out / "index.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 6
    assert [r["status"] for r in records] == ["verified"] * 6
    assert len(list((out / "tasks").iterdir())) == 6
    for r in records:
        load_task(out / r["path"])


def test_bad_input(tmp_path):
    with pytest.raises(ConfigError, match="unknown skill 'nonsense'"):
        generate(GenOptions(mode="skill", n=1, out=tmp_path / "a", skills=("nonsense",)))
    with pytest.raises(ConfigError, match="unknown generation mode"):
        generate(GenOptions(mode="magic", n=1, out=tmp_path / "b"))
    generate(GenOptions(mode="skill", n=0, out=tmp_path / "c", seed=1))
    with pytest.raises(ConfigError, match="seed=1"):
        generate(GenOptions(mode="skill", n=0, out=tmp_path / "c", seed=2))


def test_cli_bad_skill_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "termforge.cli", "gen", "--n", "2", "--out",
                           str(tmp_path / "o"), "--skills", "nonsense"], capture_output=True, text=True)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "unknown skill 'nonsense'" in lines[0]


def test_family_selection(tmp_path):
    from termforge.generator.pipeline import select_families
    from termforge.generator.registry import all_families

    fams = all_families()
    some = tuple(sorted(fams)[:2])
    assert set(select_families(fams, some, ())) == set(some)
    assert not set(select_families(fams, (), some)) & set(some)
    with pytest.raises(ConfigError, match="unknown task family 'nope'"):
        select_families(fams, ("nope",), ())
    with pytest.raises(ConfigError, match="no task family left"):
        select_families(fams, some, some)
