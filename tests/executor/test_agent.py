"""Terminus-2 loop: strict parsing, protocol turns, limits, the oracle backend, collect and replay."""

from __future__ import annotations

import json

import pytest

from termforge.executor.agent import (LoopConfig, TerminusAgent, parse_response, run_episode)
from termforge.executor.base_image import BASE_IMAGE
from termforge.executor.collect import CollectOptions, ReplayBackend, collect, read_index
from termforge.executor.limits import SandboxLimits
from termforge.executor.oracle import keystrokes_for, split_commands
from termforge.executor.sandbox import Sandbox
from termforge.executor.task import load_task
from termforge.executor.trial import reward_of, run_trial
from termforge.records import TrajectoryRecord

from .conftest import make_task


def turn(commands=(), complete=False, analysis="a", plan="p"):
    return json.dumps({"analysis": analysis, "plan": plan, "task_complete": complete,
                       "commands": [{"keystrokes": k, "duration": d} for k, d in commands]})


class Scripted:
    """A model backend that answers from a list (and repeats the last answer)."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.seen = []

    def __call__(self, messages):
        self.seen.append(messages[-1]["content"])
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


# ------------------------------------------------------------------ parsing (no Docker)

def test_parse_valid_and_defaults():
    t, errors, warnings = parse_response(turn([("ls\n", 0.5)]))
    assert t and not errors and not warnings
    assert t.commands[0].keystrokes == "ls\n" and t.commands[0].duration == 0.5
    t, _, _ = parse_response('{"analysis": "", "plan": "", "commands": [{"keystrokes": "x"}]}')
    assert t.commands[0].duration == 1.0 and t.task_complete is False


@pytest.mark.parametrize("text,error", [
    ("no json at all", "No valid JSON"),
    ('{"analysis": "a", "plan": "p"}', "Missing required field: commands"),
    ('{"analysis": "a", "plan": "p", "commands": "ls"}', "must be a list"),
    ('{"analysis": "a", "plan": "p", "commands": [{"duration": 1}]}', "keystrokes"),
    ('{"analysis": "a", "plan": "p", "commands": [], "task_complete": "maybe"}', "task_complete"),
    ('{"analysis": "a", "plan": "p", "commands": [}', "Invalid JSON"),
])
def test_parse_errors(text, error):
    t, errors, _ = parse_response(text)
    assert t is None and any(error in e for e in errors), errors


def test_parse_warnings_extra_text_and_long_duration():
    t, errors, warnings = parse_response("Sure:\n" + turn([("sleep 1\n", 500)]) + "\nthanks")
    assert t and not errors
    assert any("Extra text" in w for w in warnings) and any("capped" in w for w in warnings)
    assert t.commands[0].duration == 60.0
    t, _, _ = parse_response('{"analysis": "{x}", "plan": "}", "commands": [], "task_complete": "true"}')
    assert t.task_complete is True


def test_split_commands_and_safe_keystrokes():
    script = ("#!/bin/bash\nset -euo pipefail\n# c\ncd /app\nfor i in 1 2; do\n  echo $i\ndone\n"
              "cat > f <<'EOF'\na\tb\nEOF\necho a \\\n  b\n")
    cmds = split_commands(script)
    assert cmds == ["cd /app", "for i in 1 2; do\n  echo $i\ndone", "cat > f <<'EOF'\na\tb\nEOF",
                    "echo a \\\n  b"]
    assert keystrokes_for("ls") == "ls\n"
    assert "base64 -d" in keystrokes_for(cmds[2]) and "source" in keystrokes_for("echo hi!")


# ------------------------------------------------------------------ the loop in a sandbox

@pytest.mark.docker
def test_protocol_turns(tmp_path, docker_ready):
    task = load_task(make_task(tmp_path, "proto", solve="true", test="true"))
    backend = Scripted([
        "I think I should list files",                        # parse error
        "Here: " + turn([("echo hi\n", 0.3)]),                 # extra text: warning
        turn([("echo one\n", 0.3)], complete=True),            # asks to complete once
        turn([("echo two\n", 0.3)]),                           # ...then does not confirm
        turn(complete=True), turn(complete=True),              # confirmed
    ])
    with Sandbox(BASE_IMAGE, SandboxLimits()) as sb:
        ep = run_episode(sb, task, backend, config=LoopConfig(max_turns=10), log_dir=tmp_path / "log")
    assert ep.stop_reason == "completed" and ep.completed
    assert ep.n_assistant_turns == 6 and ep.parse_errors == 1
    assert backend.seen[1].startswith("Previous response had parsing errors")
    assert "Extra text" in backend.seen[2] and "hi" in backend.seen[2]
    assert "Are you sure" in backend.seen[3]
    assert "Are you sure" not in backend.seen[4] and "two" in backend.seen[4]
    assert "Are you sure" in backend.seen[5]
    assert ep.messages[-1]["role"] == "assistant"
    logged = json.loads((tmp_path / "log" / "episode.json").read_text())
    assert logged["stop_reason"] == "completed" and len(logged["turns"]) == 6


@pytest.mark.docker
def test_never_completes_and_hung_command(tmp_path, docker_ready):
    task = load_task(make_task(tmp_path, "hang", solve="true", test="true"))
    backend = Scripted([turn([("sleep 1000\n", 0.5)]), turn([("C-c", 0.3), ("echo back\n", 0.3)]),
                        turn([("seq -f 'flood line %g xxxxxxxxxxxxxxxx' 3000\n", 1.5)]), turn([("echo still\n", 0.2)])])
    with Sandbox(BASE_IMAGE, SandboxLimits()) as sb:
        ep = run_episode(sb, task, backend, config=LoopConfig(max_turns=5))
    assert ep.stop_reason == "max_turns" and not ep.completed
    assert "^C" in backend.seen[2] and "back" in backend.seen[2]
    flood = backend.seen[3]
    assert len(flood.encode()) <= 10_000 + 300 and "omitted" in flood


@pytest.mark.docker
def test_time_budget_and_model_errors(tmp_path, docker_ready):
    task = load_task(make_task(tmp_path, "slow", solve="true", test="true"))
    with Sandbox(BASE_IMAGE, SandboxLimits()) as sb:
        ep = run_episode(sb, task, Scripted([turn([("sleep 30\n", 30)])]),
                         config=LoopConfig(max_turns=50, max_seconds=2.0))
        assert ep.stop_reason == "timeout" and ep.seconds < 10

        def broken(messages):
            raise ConnectionError("endpoint down")

        ep = run_episode(sb, task, broken)
        assert ep.stop_reason == "model_error" and "endpoint down" in ep.error


@pytest.mark.docker
def test_terminus_agent_in_a_trial_records_timeout(tmp_path, docker_ready):
    task = load_task(make_task(tmp_path, "t", solve="true", test="echo 0 > /logs/verifier/reward.txt",
                               agent_timeout_sec=2.0))
    agent = TerminusAgent(Scripted([turn([("sleep 20\n", 20)])]))
    result = run_trial(task, agent, tmp_path / "trial")
    assert result["exception_info"]["exception_type"] == "AgentTimeoutError"
    assert result["agent_result"]["metadata"]["stop_reason"] == "timeout"
    assert (tmp_path / "trial" / "episode" / "episode.json").exists()


# ------------------------------------------------------------------ oracle trajectories

@pytest.mark.docker
def test_collect_oracle_trajectories_replay_and_resume(tmp_path, example_task, docker_ready):
    tasks = [example_task("make-fix-build"), example_task("archive-checksums")]
    out = tmp_path / "run"

    class Stop(Exception):
        pass

    def stop(entry):
        raise Stop

    with pytest.raises(Stop):
        collect(tasks, out, CollectOptions(attempts=2, jobs=1), on_record=stop)
    assert len(read_index(out)) == 1
    entries = collect(tasks, out, CollectOptions(attempts=2, jobs=2))
    assert len(entries) == 4 and len({e["id"] for e in entries}) == 4
    lines = (out / "index.jsonl").read_text().splitlines()
    assert len(lines) == 4
    for e in entries:
        assert e["reward"] == 1.0 and e["stop_reason"] == "completed"
        rec = TrajectoryRecord.from_json((out / e["trajectory"]).read_text(), where=e["trajectory"])
        assert rec.reward == 1.0 and rec.model_name == "oracle"
        roles = [m["role"] for m in rec.messages]
        assert roles[:2] == ["system", "user"] and roles[-1] == "assistant"
        assert all(a != b for a, b in zip(roles[2:], roles[3:]))  # strictly alternating
        assert json.loads(rec.messages[-1]["content"])["task_complete"] is True
    # every kept trajectory replays: its commands re-run in a fresh container reach reward 1
    for e in entries[:2]:
        rec = TrajectoryRecord.from_json((out / e["trajectory"]).read_text())
        task = load_task(next(t for t in tasks if load_task(t).name == rec.task_id))
        result = run_trial(task, TerminusAgent(ReplayBackend(rec.messages)), tmp_path / f"replay-{e['id']}")
        assert reward_of(result) == 1.0


@pytest.mark.docker
def test_terse_oracle_sends_the_same_commands_with_fixed_narration(tmp_path, example_task, docker_ready):
    from termforge.executor.oracle import _TERSE, OracleBackend

    task_dir = example_task("archive-checksums")
    full = collect([task_dir], tmp_path / "full", CollectOptions())
    terse = collect([task_dir], tmp_path / "terse", CollectOptions(oracle_style="terse"))
    assert full[0]["reward"] == terse[0]["reward"] == 1.0

    def turns(run, entry):
        rec = TrajectoryRecord.from_json((tmp_path / run / entry["trajectory"]).read_text())
        return [json.loads(m["content"]) for m in rec.messages if m["role"] == "assistant"]

    full_turns, terse_turns = turns("full", full[0]), turns("terse", terse[0])
    assert [t["commands"] for t in terse_turns] == [t["commands"] for t in full_turns]
    narrations = set(_TERSE.values())
    assert all((t["analysis"], t["plan"]) in narrations for t in terse_turns)
    assert any((t["analysis"], t["plan"]) not in narrations for t in full_turns)
    with pytest.raises(ValueError, match="oracle style must be one of"):
        OracleBackend(load_task(task_dir), style="chatty")
