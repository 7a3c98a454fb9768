"""Two JAX processes on localhost (gloo collectives on CPU) train like one process with two devices,
each process reading only its own share of the data."""

from __future__ import annotations

import json
import socket
import subprocess

import pytest
from test_train_resume import EXE, TINY, get_corpus, get_jax_cache, train_env

STEPS = 4


def _args(corpus: dict) -> list[str]:
    sets = [f"data.shards={corpus['shards']}", f"data.tokenizer={corpus['tokenizer']}", f"train.steps={STEPS}",
            "model_overrides.vocab_size=512", "model_overrides.num_hidden_layers=1", "curriculum=[]",
            "train.seq_len=128", "train.batch_size=4", "data.num_readers=2", "mesh.fsdp=-1", "checkpoint.every=0",
            "checkpoint.export_hf=false",
            "data.read_threads=1"]
    return [a for s in sets for a in ("--set", s)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _losses(run_dir):
    return [json.loads(line)["loss"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return get_corpus(tmp_path_factory)


@pytest.fixture(scope="module")
def jax_cache(tmp_path_factory):
    return get_jax_cache(tmp_path_factory)


def test_two_processes_match_one_process(corpus, jax_cache, tmp_path):
    cmd = [EXE, "train", str(TINY), "--no-progress", *_args(corpus)]
    port = _free_port()
    procs = [subprocess.Popen(cmd + ["--out", str(tmp_path / "multi")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              env=train_env(jax_cache, JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}",
                                            JAX_NUM_PROCESSES="2", JAX_PROCESS_ID=str(i)))
             for i in range(2)]
    single = subprocess.run(cmd + ["--out", str(tmp_path / "single")], capture_output=True, text=True,
                            env=train_env(jax_cache, devices=2), timeout=500)
    outs = []
    for p in procs:
        try:
            outs.append(p.communicate(timeout=500))
        finally:
            p.kill()
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-4000:]
    assert single.returncode == 0, single.stderr[-4000:]
    assert "2 processes" in outs[0][1] and "2 cpu devices" in outs[0][1]
    # process 0 reports (gloo itself may print a connection line)
    assert outs[0][0].strip().splitlines()[-1].startswith(f"trained {STEPS} steps (main {STEPS}x4x128)")
    assert "trained" not in outs[1][0]

    multi, one = _losses(tmp_path / "multi"), _losses(tmp_path / "single")
    assert len(multi) == len(one) == STEPS
    for a, b in zip(multi, one):
        assert abs(a - b) < 1e-5, (multi, one)
    # each process ran (and checkpointed) only its own reader
    data_iter = tmp_path / "multi" / "checkpoints" / str(STEPS) / "data_iter"
    states = {i: json.loads((data_iter / f"process_{i}-of-2.json").read_text()) for i in range(2)}
    assert list(states[0]["readers"]) == ["0"] and list(states[1]["readers"]) == ["1"]
    summary = json.loads((tmp_path / "multi" / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["distributed"] == "explicit"
