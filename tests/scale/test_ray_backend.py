"""The Ray backend on a local cluster (head + 2 one-CPU workers): streams, retries, and the same
tasks, trajectories, eval entries and shards as the local backend for the same seed."""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from pathlib import Path

import pytest

from termforge.errors import ConfigError
from termforge.executor.backend import Call, CallLostError, LocalBackend, RayBackend, open_backend
from termforge.executor.task import tree_digest

from .conftest import run_cli

FAMILIES = ("text.word-frequency", "files.organize-by-extension", "archives.tar-create")
GEN_ARGS = ["--n", "4", "--seed", "0", "--max-steps", "1", "--verify-runs", "1", "--families", ",".join(FAMILIES)]
# wall-clock times a sandbox shows (`ls -l`, `date`)
CLOCK = re.compile(r"\b(?:[A-Z][a-z]{2} +\d{1,2} +\d{2}:\d{2}(?::\d{2})?"
                   r"|\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)")


# ----------------------------------------------------------------------------- streams


def _square(x: int, delay: float = 0.0) -> int:
    time.sleep(delay)
    return x * x


def _boom(x: int) -> int:
    raise ValueError(f"boom {x}")


def _die_once(marker: str) -> str:
    """Kills its worker process the first time (a lost worker), answers the second time."""
    if not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)
    return "ran again"


def _always_die() -> None:
    os._exit(1)


def _backend(kind: str, request):
    if kind == "local":
        return LocalBackend(2)
    request.getfixturevalue("ray_cluster")
    return RayBackend()


@pytest.mark.parametrize("kind", ["local", "ray"])
def test_stream_delivers_every_call_once_and_errors_as_values(kind, request):
    backend = _backend(kind, request)
    pulled = []

    def calls():
        for i in range(8):
            pulled.append(i)
            yield Call(_square, (i,), tag=i) if i != 5 else Call(_boom, (i,), tag=i)

    got, pulled_at_first = {}, None
    with backend.run(calls()) as stream:
        for done in stream:
            pulled_at_first = len(pulled) if pulled_at_first is None else pulled_at_first
            assert done.call.tag not in got
            got[done.call.tag] = (done.value, done.error)
    assert sorted(got) == list(range(8))
    assert all(got[i] == (i * i, None) for i in range(8) if i != 5)
    assert isinstance(got[5][1], ValueError) and str(got[5][1]) == "boom 5"
    assert pulled_at_first <= backend.slots + 1  # back-pressure: the input is read as slots free up


def test_local_stream_is_in_completion_order_and_stop_drains():
    with LocalBackend(2).run([Call(_square, (0, 1.0), tag=0), Call(_square, (1,), tag=1)]) as stream:
        assert [d.call.tag for d in stream] == [1, 0]
    delivered = []
    with LocalBackend(2).run(Call(_square, (i, 0.05), tag=i) for i in range(10)) as stream:
        for done in stream:
            delivered.append(done.call.tag)
            stream.stop()
    assert 1 <= len(delivered) <= 3 and len(set(delivered)) == len(delivered)


def test_local_stream_abort_runs_the_hook():
    aborted = threading.Event()
    with pytest.raises(KeyboardInterrupt):
        with LocalBackend(1).run([Call(_square, (1,))] * 3, on_abort=aborted.set) as stream:
            for _ in stream:
                raise KeyboardInterrupt
    assert aborted.is_set()


def test_ray_retries_a_lost_worker_then_reports_a_lost_call(ray_cluster, tmp_path):
    backend = RayBackend(retries=1)
    calls = [Call(_die_once, (str(tmp_path / "marker"),), name="die-once"),
             Call(_always_die, name="always-die")]
    with backend.run(calls) as stream:
        got = {d.call.name: d for d in stream}
    assert got["die-once"].value == "ran again" and got["die-once"].error is None
    err = got["always-die"].error
    assert isinstance(err, CallLostError) and "lost on the Ray cluster 2 times" in str(err)


def test_ray_requests_clip_to_the_largest_node(ray_cluster):
    backend = RayBackend()
    assert backend.nodes == 2 and backend.cpus == 2 and backend.slots == 4
    assert backend.resources(Call(_square, cpus=0.5, memory_mb=512)) == {"num_cpus": 0.5, "memory": 512 * 2**20}
    assert backend.resources(Call(_square, cpus=8))["num_cpus"] == 1.0


# ----------------------------------------------------------------------------- bad input


def test_bad_backend_input_is_one_clear_line(tmp_path):
    cases = [(["--backend", "ray", "--ray-address", "127.0.0.1:1"], "cannot reach the Ray cluster at 127.0.0.1:1"),
             (["--backend", "spark"], "unknown --backend 'spark'"),
             (["--ray-address", "127.0.0.1:1"], "--ray-address needs --backend ray"),
             (["--backend", "ray", "--ray-address", "nonsense"], "expected HOST:PORT")]
    for args, message in cases:
        r = run_cli("gen", "--n", "1", "--out", tmp_path / "o", *args, timeout=120)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert r.returncode == 2 and len(lines) == 1 and message in lines[0], (args, r.stderr)


def test_ray_not_installed_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(ConfigError, match=r"--backend ray needs the ray package: pip install"):
        open_backend("ray")


def test_in_process_model_is_refused_on_ray(ray_cluster, tmp_path, example_copies):
    from termforge.eval.backends import ModelSpec, Provider
    from termforge.eval.runner import run_eval

    provider = Provider(ModelSpec("local", "ckpt"), "tiny", lm=object())
    with pytest.raises(ConfigError, match="termforge serve"):
        run_eval(example_copies("hello-file"), tmp_path / "run", provider, backend=RayBackend())


# ----------------------------------------------------------------------------- same results as local


def _task_set(gen_dir: Path) -> dict[str, tuple]:
    """id -> (status, reason, family, content hash of a kept task)."""
    from termforge.generator.pipeline import read_index

    return {r["id"]: (r["status"], r["reason"], r["family"],
                      tree_digest(gen_dir / r["path"], exclude=(".termforge",)) if r["status"] == "verified" else None)
            for r in read_index(gen_dir).values()}


def _trajectories(run_dir: Path) -> dict[str, dict]:
    """trajectory_id -> the record as a run on any backend must reproduce it: every field but its
    creation time, the prompt, and the keystrokes typed. (Observations carry the sandbox's clock,
    and under load a slow command earns the oracle an extra "still running" turn: turn lists may
    differ between any two runs, on one backend too.)"""
    out = {}
    for path in sorted((run_dir / "trajectories").glob("*.jsonl")):
        rec = json.loads(path.read_text())
        del rec["created"], rec["n_assistant_turns"]
        messages = rec.pop("messages")
        rec["prompt"] = [CLOCK.sub("<clock>", m["content"]) for m in messages[:2]]
        rec["typed"] = [c["keystrokes"] for m in messages if m["role"] == "assistant"
                        for c in json.loads(m["content"])["commands"] if c["keystrokes"]]
        out[rec["trajectory_id"]] = rec
    return out


@pytest.mark.docker
def test_gen_and_collect_on_ray_equal_local(ray_cluster, docker_ready, tmp_path):
    """The CLI on the Ray cluster and the Python API on local threads: same tasks, same episodes."""
    from termforge.executor.collect import CollectOptions, collect
    from termforge.executor.verify import find_tasks
    from termforge.generator.compose import DEFAULT_STEPS
    from termforge.generator.pipeline import GenOptions, generate

    local_dir, ray_dir = tmp_path / "local", tmp_path / "ray"
    generate(GenOptions(mode="skill", n=4, out=local_dir / "gen", seed=0, families=FAMILIES, jobs=2,
                        verify_runs=1, steps={1: DEFAULT_STEPS[1]}))
    collect(find_tasks([local_dir / "gen" / "tasks"]), local_dir / "collect", CollectOptions(jobs=2))
    ray_args = ["--backend", "ray", "--ray-address", ray_cluster.address]
    r = run_cli("gen", *GEN_ARGS, "--out", ray_dir / "gen", *ray_args)
    assert r.returncode == 0, r.stderr
    r = run_cli("collect", ray_dir / "gen" / "tasks", "--out", ray_dir / "collect", *ray_args)
    assert r.returncode == 0, r.stderr
    assert "backend: ray at" in r.stderr and "2 node(s)" in r.stderr

    local, ray_ = _task_set(tmp_path / "local" / "gen"), _task_set(tmp_path / "ray" / "gen")
    assert ray_ == local and len(local) == 4
    assert sum(s == "verified" for s, *_ in local.values()) >= 3
    trajectories = _trajectories(tmp_path / "local" / "collect")
    assert _trajectories(tmp_path / "ray" / "collect") == trajectories
    assert len(trajectories) == sum(s == "verified" for s, *_ in local.values())
    assert all(t["reward"] == 1.0 for t in trajectories.values())
    # a trial directory from a worker lands in place, its paths pointing at the driver's copies
    trial = next((tmp_path / "ray" / "collect" / "trials").iterdir())
    result = json.loads((trial / "result.json").read_text())
    assert result["trial_uri"] == trial.resolve().as_uri()
    assert Path(result["task_id"]["path"]).parent == (tmp_path / "ray" / "gen" / "tasks").resolve()
    assert (trial / "verifier" / "test-stdout.txt").is_file()


@pytest.mark.docker
def test_eval_and_verify_on_ray_equal_local(ray_cluster, docker_ready, tmp_path, example_copies):
    from termforge.eval.backends import open_provider
    from termforge.eval.runner import EvalOptions, run_eval
    from termforge.executor.verify import verify_tasks

    tasks = example_copies("hello-file", "csv-region-totals")
    runs = {}
    for name, backend in (("local", LocalBackend(2)), ("ray", RayBackend())):
        entries = run_eval(tasks, tmp_path / name, open_provider("oracle"), EvalOptions(), backend=backend)
        runs[name] = [(e["id"], e["cause"], e["turns"]) for e in entries]
        outcomes = verify_tasks(tasks, trials_dir=tmp_path / f"{name}-trials", backend=backend)
        assert [o.reason for o in outcomes] == ["verified"] * 2
    assert runs["ray"] == runs["local"] and {c for _, c, _ in runs["local"]} == {"passed"}
    assert sorted(p.name for p in (tmp_path / "ray-trials").iterdir()) == \
        sorted(p.name for p in (tmp_path / "local-trials").iterdir())


def test_shards_written_by_ray_workers_equal_local(ray_cluster, tmp_path):
    from termforge.corpus_commands import shard_writes_on
    from termforge.records import TrajectoryRecord
    from termforge.shards import write_shards

    records = [TrajectoryRecord(trajectory_id=f"t{i}", task_id=f"task{i % 7}", task_group_id="g",
                                messages=[{"role": "user", "content": "x" * i}, {"role": "assistant", "content": "{}"}],
                                source="skill", skills=[f"s{i % 3}"], domain="d", difficulty="easy",
                                model_name="m", reward=1.0, n_assistant_turns=1) for i in range(200)]
    local = write_shards(iter(records), tmp_path / "local", 5, seed=3)
    ray_ = write_shards(iter(records), tmp_path / "ray", 5, seed=3, run_writes=shard_writes_on(RayBackend()))
    assert [s["sha256"] for s in ray_["shards"]] == [s["sha256"] for s in local["shards"]]
    assert ray_["total_records"] == 200 and (tmp_path / "ray" / "manifest.json").is_file()
    assert sorted(p.name for p in (tmp_path / "ray").iterdir()) == sorted(p.name for p in (tmp_path / "local").iterdir())


@pytest.mark.docker
@pytest.mark.parametrize("sig", ["SIGTERM", pytest.param("SIGINT", marks=pytest.mark.slow)])
def test_interrupted_ray_run_removes_its_sandboxes(ray_cluster, docker_ready, tmp_path, sig):
    import signal
    import subprocess

    from tests.executor.conftest import make_task

    from .conftest import TERMFORGE

    task = make_task(tmp_path, f"interrupt-{sig.lower()}", solve="sleep 600", test="sleep 600",
                     agent_timeout_sec=600.0)
    ours = {"name": f"termforge-interrupt-{sig.lower()}-"}
    proc = subprocess.Popen([*TERMFORGE, "verify", str(task), "--backend", "ray", "--ray-address", ray_cluster.address],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(docker_ready.containers.list(filters=ours)) < 2:
        time.sleep(0.2)
    assert len(docker_ready.containers.list(filters=ours)) == 2
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "interrupted" in err and "Traceback" not in err
    deadline = time.monotonic() + 30  # each cancelled Ray task removes its sandbox on its way out
    while time.monotonic() < deadline and docker_ready.containers.list(all=True, filters=ours):
        time.sleep(0.5)
    assert docker_ready.containers.list(all=True, filters=ours) == []
