"""Shared helpers of the eval tests (a plain module, not a conftest: tests/jaxtrain imports its own
`conftest` by name). Expensive things are built once per process and cached here."""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "tasks"
PYTHON = sys.executable
TERMFORGE = [PYTHON, "-m", "termforge.cli"]


def _tmpdir(prefix: str) -> Path:
    d = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, d, True)
    return d


@functools.cache
def _tiny_model():
    """A tokenizer trained on the Terminus-2 prompt and a tiny random Qwen3 (weights std ~0.08 so
    argmax is not a coin toss) saved as a Hugging Face directory."""
    import jax
    from flax import nnx

    from termforge.executor.agent import SYSTEM_PROMPT
    from termforge.jaxtrain.config import load_config
    from termforge.jaxtrain.hf import to_pretrained
    from termforge.jaxtrain.model import Qwen3ForCausalLM
    from termforge.jaxtrain.tokenizer import train_tokenizer

    root = _tmpdir("tf-eval-model-")
    texts = [SYSTEM_PROMPT] * 4 + [
        f"Task:\nCreate /app/file{i}.txt with `ls -la /app` and echo {i} | grep {i % 7}\n" for i in range(120)]
    info = train_tokenizer(texts=texts, vocab_size=512, out_dir=root / "tok")
    cfg = load_config("qwen3-tiny", vocab_size=info["vocab_size"], max_position_embeddings=2048)
    model = Qwen3ForCausalLM(cfg, rngs=nnx.Rngs(7))
    state = nnx.state(model, nnx.Param)
    nnx.update(model, jax.tree.map(lambda x: x * 4.0 if x.ndim > 1 else x, state))
    to_pretrained(model, root / "hf", tokenizer_dir=root / "tok")
    return model, root


def tiny_model_dirs() -> dict[str, Path]:
    _model, root = _tiny_model()
    return {"root": root, "tok": root / "tok", "hf": root / "hf"}


@functools.cache
def tiny_checkpoint() -> Path:
    """The same model as a termforge Orbax checkpoint (with its tokenizer)."""
    from termforge.jaxtrain.checkpoint import save_model

    model, root = _tiny_model()
    save_model(root / "ckpt", model, meta={"source": {"kind": "test"}}, tokenizer_dir=root / "tok")
    return root / "ckpt"


@functools.cache
def tiny_lm():
    """One in-process LocalModel of the tiny model for the whole session (slots 4, context 1024)."""
    from termforge.eval.engine import LocalModel
    from termforge.jaxtrain.tokenizer import load_tokenizer

    model, root = _tiny_model()
    lm = LocalModel(model, load_tokenizer(root / "hf"), name="hf", slots=4, max_context=1024, chunk=8)
    atexit.register(lm.close)
    return lm


class FakeTerminal:
    """Stands in for the tmux session: deterministic screens, no Docker."""

    def __init__(self):
        self.n = 0
        self.sent = []

    def read_new(self) -> str:
        self.n += 1
        return f"New Terminal Output:\nroot@sandbox:/app# (screen {self.n})"

    def execute(self, keystrokes) -> str:
        self.sent.append(keystrokes)
        return self.read_new()


@pytest.fixture
def docker_ready():
    from termforge.executor.base_image import BASE_IMAGE
    from termforge.executor.docker_env import client
    from termforge.executor.images import image_exists

    client()  # a clear error when the daemon is down: a failure, not a skip
    assert image_exists(BASE_IMAGE), f"{BASE_IMAGE} missing: run `termforge base-image`"


def run_cli(args: list[str], timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    e = dict(os.environ, COLUMNS="200", JAX_PLATFORMS="cpu", **(env or {}))
    return subprocess.run(TERMFORGE + [str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                          cwd=REPO, env=e)


def entries(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (Path(run_dir) / "index.jsonl").read_text().splitlines() if line.strip()]


def write_tb2_task(root: Path, name: str = "tb2-network-task") -> Path:
    """A Terminal-Bench-2.0-style task: registry base image, tests that install uv from the internet."""
    d = root / name
    (d / "environment").mkdir(parents=True)
    (d / "tests").mkdir()
    (d / "solution").mkdir()
    (d / "instruction.md").write_text("Write the word ok into /app/ok.txt.\n")
    (d / "task.toml").write_text(
        'version = "1.0"\n\n[metadata]\ndifficulty = "easy"\ncategory = "software-engineering"\n'
        'tags = ["tb2"]\n\n[verifier]\ntimeout_sec = 60.0\n\n[agent]\ntimeout_sec = 60.0\n\n'
        '[environment]\nbuild_timeout_sec = 120.0\ncpus = 1\nmemory = "1G"\n')
    (d / "environment" / "Dockerfile").write_text(
        "FROM ghcr.io/laude-institute/t-bench/python-3-13:20250620\nWORKDIR /app\n")
    (d / "solution" / "solve.sh").write_text("#!/bin/bash\necho ok > /app/ok.txt\n")
    (d / "tests" / "test.sh").write_text(
        "#!/bin/bash\n"
        "curl -LsSf --max-time 5 https://astral.sh/uv/0.9.5/install.sh | sh\n"
        "source $HOME/.local/bin/env\n"
        "uvx -p 3.13 -w pytest==8.4.1 pytest /tests/test_outputs.py -rA\n"
        "if [ $? -eq 0 ]; then echo 1 > /logs/verifier/reward.txt; else echo 0 > /logs/verifier/reward.txt; fi\n")
    (d / "tests" / "test_outputs.py").write_text(
        "from pathlib import Path\n\ndef test_ok():\n    assert Path('/app/ok.txt').read_text().strip() == 'ok'\n")
    return d
