"""Bad input through the real CLI: exit status 2, exactly one stderr line, no traceback; and
`termforge serve` as a process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from eval_helpers import EXAMPLES, REPO, TERMFORGE, docker_ready, run_cli, tiny_model_dirs, write_tb2_task  # noqa: F401


def one_error_line(r: subprocess.CompletedProcess, *fragments: str) -> None:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in r.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


def test_empty_task_dir(tmp_path):
    (tmp_path / "tasks").mkdir()
    r = run_cli(["eval", tmp_path / "tasks", "--model", "nop", "--out", tmp_path / "run"])
    one_error_line(r, "holds no task directories")


def test_unreachable_endpoint(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = run_cli(["eval", EXAMPLES / "hello-file", "--model", f"openai:http://127.0.0.1:{port}/v1#m",
                 "--out", tmp_path / "run"])
    one_error_line(r, "cannot reach the model endpoint", str(port))
    assert not (tmp_path / "run").exists()


def test_checkpoint_of_the_wrong_architecture(tmp_path):
    llama = tmp_path / "llama"
    llama.mkdir()
    (llama / "config.json").write_text(json.dumps({
        "model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 32, "hidden_size": 8,
        "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2}))
    r = run_cli(["eval", EXAMPLES / "hello-file", "--model", llama, "--out", tmp_path / "run"])
    one_error_line(r, "not a Qwen3 causal LM")
    not_a_model = tmp_path / "notes"
    not_a_model.mkdir()
    r = run_cli(["eval", EXAMPLES / "hello-file", "--model", not_a_model, "--out", tmp_path / "run"])
    one_error_line(r, "no checkpoint steps")
    r = run_cli(["serve", llama, "--port", "0"])
    one_error_line(r, "not a Qwen3 causal LM")


def test_missing_model_path_and_bad_compare(tmp_path):
    r = run_cli(["eval", EXAMPLES / "hello-file", "--model", tmp_path / "nope", "--out", tmp_path / "run"])
    one_error_line(r, "no such checkpoint or Hugging Face directory")
    r = run_cli(["eval-compare", tmp_path, tmp_path])
    one_error_line(r, "not an eval run directory")


@pytest.mark.docker
def test_registry_image_without_a_map(docker_ready, tmp_path):
    task = write_tb2_task(tmp_path)
    r = run_cli(["eval", task, "--model", "oracle", "--out", tmp_path / "run"])
    one_error_line(r, "ghcr.io/laude-institute/t-bench/python-3-13:20250620", "--base-image-map")


@pytest.mark.slow  # ~15-50 s: a fresh process imports JAX, loads the model and compiles
def test_serve_process_answers_and_stops():
    hf = tiny_model_dirs()["hf"]
    env = dict(os.environ, JAX_PLATFORMS="cpu", COLUMNS="200")
    proc = subprocess.Popen(TERMFORGE + ["serve", str(hf), "--port", "0", "--model-name", "tiny",
                                         "--max-context", "1024"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving tiny at http://127.0.0.1:"), (line, proc.stderr.read() if proc.poll() else "")
        url = line.split(" at ")[1].split()[0]
        with urllib.request.urlopen(url + "/models", timeout=30) as r:
            assert json.loads(r.read())["data"][0]["id"] == "tiny"
        body = {"model": "tiny", "messages": [{"role": "user", "content": "ls"}], "max_tokens": 4, "seed": 1}
        req = urllib.request.Request(url + "/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            out = json.loads(r.read())
        assert out["usage"]["completion_tokens"] <= 4
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rest, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, err
    assert "serve: stopped after 1 requests" in rest
