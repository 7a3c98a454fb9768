"""`termforge train` end to end on CPU: exact resume after SIGKILL, checkpoint items, metrics, export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from termforge.jaxtrain.train_config import TRAIN_CONFIG_DIR

EXE = str(Path(sys.executable).parent / "termforge")
TINY = TRAIN_CONFIG_DIR / "tiny.yaml"


def train_env(cache_dir: Path, devices: int = 1, **extra: str) -> dict[str, str]:
    """Subprocess environment: CPU, a shared persistent compilation cache (later runs skip XLA)."""
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_COORDINATOR_ADDRESS")}
    env.update(JAX_PLATFORMS="cpu", COLUMNS="300", JAX_COMPILATION_CACHE_DIR=str(cache_dir),
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0", JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
    if devices > 1:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    env.update(extra)
    return env


def small_run_args(corpus: dict, steps: int = 20) -> list[str]:
    """tiny.yaml shrunk for tests: 1 layer, vocab 512, two short stages, eval and checkpoints every 10."""
    sets = [f"data.shards={corpus['shards']}", f"data.tokenizer={corpus['tokenizer']}",
            f"data.eval_shards={corpus['eval']}", f"train.steps={steps}", "model_overrides.vocab_size=512",
            "model_overrides.num_hidden_layers=1", "curriculum.0.steps=6", "curriculum.0.seq_len=128",
            "curriculum.0.batch_size=4", "curriculum.1.seq_len=192", "curriculum.1.batch_size=2",
            "checkpoint.every=10", "train.eval_every=10", "train.eval_batches=1", "data.read_threads=1"]
    return [a for s in sets for a in ("--set", s)]


# Shared by test_train_mesh.py and test_train_distributed.py through these memoised helpers (a fixture
# imported into another module would run again there).
_SHARED: dict = {}


def _once(key, make):
    if key not in _SHARED:
        _SHARED[key] = make()
    return _SHARED[key]


def get_corpus(tmp_path_factory) -> dict:
    from termforge.jaxtrain.synthetic import make_corpus

    return _once("corpus", lambda: make_corpus(tmp_path_factory.mktemp("train_corpus"), n_records=48, n_eval=8,
                                               vocab_size=400))


def get_jax_cache(tmp_path_factory) -> Path:
    return _once("jax_cache", lambda: tmp_path_factory.mktemp("jax_cache"))


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    return get_corpus(tmp_path_factory)


@pytest.fixture(scope="session")
def jax_cache(tmp_path_factory):
    return get_jax_cache(tmp_path_factory)


def run_train(args: list[str], out: Path, env: dict[str, str], timeout: int = 400) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, "train", str(TINY), "--out", str(out), "--no-progress", *args], capture_output=True,
                          text=True, env=env, timeout=timeout)


def losses(run_dir: Path) -> list[tuple[int, float, float | None]]:
    out = []
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        r = json.loads(line)
        out.append((r["step"], r["loss"], r.get("eval_loss")))
    return out


def _make_runs(tmp_path_factory) -> dict:
    corpus, jax_cache = get_corpus(tmp_path_factory), get_jax_cache(tmp_path_factory)
    d = tmp_path_factory.mktemp("resume")
    args = small_run_args(corpus)
    straight = run_train(args, d / "straight", train_env(jax_cache))
    assert straight.returncode == 0, straight.stderr[-3000:]
    killed = run_train(args, d / "resumed", train_env(jax_cache, TERMFORGE_TRAIN_CRASH_AT_STEP="10"))
    assert killed.returncode == -9, (killed.returncode, killed.stderr[-3000:])  # SIGKILL after step 10
    steps_before = sorted(int(p.name) for p in (d / "resumed" / "checkpoints").iterdir() if p.name.isdigit())
    resumed = run_train(args, d / "resumed", train_env(jax_cache))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    return {"dir": d, "straight": straight, "resumed": resumed, "steps_before": steps_before}


def get_runs(tmp_path_factory) -> dict:
    """Straight 20 steps; 10 steps then SIGKILL; a fresh process resuming for 10 more."""
    return _once("runs", lambda: _make_runs(tmp_path_factory))


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    return get_runs(tmp_path_factory)


def test_resume_after_sigkill_is_bit_identical(runs):
    d = runs["dir"]
    assert runs["steps_before"] == [10]
    summary = json.loads((d / "resumed" / "summary.json").read_text())
    assert summary["resumed_from"] == 10 and summary["steps_this_run"] == 10 and summary["steps"] == 20
    a, b = losses(d / "straight"), losses(d / "resumed")
    assert [s for s, _, _ in a] == list(range(1, 21)) and [s for s, _, _ in b] == list(range(1, 21))
    assert a == b  # every loss and eval loss, bitwise (floats compared exactly)
    assert a[-1][2] is not None and a[9][2] is not None  # eval at 10 and at the end
    # the final parameters, bitwise: the exported float32 safetensors are byte-identical
    assert (d / "straight" / "hf" / "model.safetensors").read_bytes() == (d / "resumed" / "hf" / "model.safetensors").read_bytes()
    assert "resumed" in runs["resumed"].stderr and "at step 10" in runs["resumed"].stderr


def test_run_dir_contents_and_summary_line(runs):
    d = runs["dir"] / "straight"
    out = runs["straight"].stdout.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("trained 20 steps (single-step 6x4x128, multi-step 14x2x192)")
    assert "tok/s" in out[0] and "mfu" in out[0] and "padding efficiency" in out[0]
    recs = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
    for key in ("step", "loss", "lr", "grad_norm", "tokens_per_s", "mfu", "padding_efficiency", "tokens_seen", "stage"):
        assert key in recs[0], key
    assert recs[0]["stage"] == "single-step" and recs[-1]["stage"] == "multi-step"
    assert recs[-1]["loss"] < recs[0]["loss"]
    assert 0 < recs[-1]["padding_efficiency"] <= 1 and recs[-1]["lr"] > 0
    import importlib.util

    if importlib.util.find_spec("tensorboardX"):  # optional dependency
        assert list((d / "tb").glob("events.out.tfevents.*"))  # TensorBoard events
    assert sorted(p.name for p in (d / "checkpoints" / "20").iterdir() if not p.name.startswith("_")) == [
        "commit_success.txt", "data_iter", "meta", "model", "opt_state"]
    meta = json.loads((d / "checkpoints" / "20" / "meta" / "metadata").read_text())
    assert meta["step"] == 20 and meta["stage_name"] == "multi-step" and meta["tokens_seen"] == recs[-1]["tokens_seen"]
    assert meta["train_config"]["train"]["steps"] == 20 and meta["model_config"]["num_hidden_layers"] == 1
    assert list((d / "checkpoints" / "20" / "data_iter").glob("process_0-of-1.json"))
    for name in ("config.json", "model.safetensors", "generation_config.json", "tokenizer.json", "tokenizer_config.json"):
        assert (d / "hf" / name).exists(), name


def test_export_reads_the_training_checkpoint(runs, tmp_path):
    d = runs["dir"] / "straight"
    res = subprocess.run([EXE, "export", str(d / "checkpoints"), str(tmp_path / "hf")], capture_output=True,
                         text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "hf" / "model.safetensors").read_bytes() == (d / "hf" / "model.safetensors").read_bytes()
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["vocab_size"] == 512


@pytest.mark.slow  # the mesh test starts from the HF export too (test_train_mesh.py)
@pytest.mark.parametrize("source", ["hf", "run_dir"])
def test_init_from_hf_dir_or_run_dir(runs, corpus, jax_cache, tmp_path, source):
    """--init-from loads the trained weights: the first loss is the trained model's, not a random one's."""
    d = runs["dir"] / "straight"
    init = d / "hf" if source == "hf" else d  # a run dir means its latest checkpoint
    args = small_run_args(corpus, steps=1) + ["--set", "checkpoint.enabled=false", "--set", "checkpoint.export_hf=false",
                                              "--set", "optimizer.warmup_steps=0", "--init-from", str(init)]
    res = run_train(args, tmp_path / "ft", train_env(jax_cache))
    assert res.returncode == 0, res.stderr[-3000:]
    first = losses(tmp_path / "ft")[0][1]
    random_first, trained_last = losses(d)[0][1], losses(d)[-1][1]
    assert first < random_first - 0.5 and abs(first - trained_last) < 1.0
    assert f"init {init if source == 'hf' else init / 'checkpoints'}" in res.stderr
