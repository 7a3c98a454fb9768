"""LLM mode against a local OpenAI-compatible HTTP server started by the test (loopback only)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from termforge.errors import TermforgeError
from termforge.generator.llm import LLMOptions, parse_answer, DrawRejected
from termforge.generator.pipeline import GenOptions, generate, read_index

GOOD = {
    "name": "count-lines",
    "instruction": "Count the lines of /app/data/poem.txt and write the number to /app/count.txt.",
    "difficulty": "easy", "category": "text", "skills": ["text.sort", "not.a.skill"],
    "files": {"/app/data/poem.txt": "roses\nviolets\nsugar\n"},
    "setup": ["chmod 644 /app/data/poem.txt"],
    "solution": "wc -l < /app/data/poem.txt | tr -d ' ' > /app/count.txt",
    "tests": "from pathlib import Path\n\ndef test_count():\n    assert Path('/app/count.txt').read_text().strip() == '3'\n",
}


class FakeOpenAI:
    """Serves /v1/chat/completions from a list of (status, content) answers, in order."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "body": body,
                                       "auth": self.headers.get("Authorization")})
                status, content = outer.answers.pop(0)
                payload = json.dumps({"id": "x", "object": "chat.completion", "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop"}]}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_parse_answer_strictness():
    assert parse_answer("Sure!\n```json\n" + json.dumps(GOOD) + "\n```\nDone.")["name"] == "count-lines"
    assert parse_answer("text " + json.dumps({"a": 1}) + " text") == {"a": 1}
    with pytest.raises(DrawRejected) as info:
        parse_answer("I cannot do that.")
    assert info.value.reason == "llm-unparsable"


@pytest.mark.docker
def test_llm_mode_end_to_end(tmp_path, docker_ready, monkeypatch):
    monkeypatch.setenv("FAKE_KEY", "sk-test")
    bad_tests = dict(GOOD, tests="assert True")
    privileged = dict(GOOD, solution="sudo true; " + GOOD["solution"], name="p")
    second = dict(GOOD, instruction="Write the number of lines of /app/data/poem.txt into /app/n.txt.",
                  solution="wc -l < /app/data/poem.txt | tr -d ' ' > /app/n.txt",
                  tests="from pathlib import Path\n\ndef test_n():\n"
                        "    assert Path('/app/n.txt').read_text().strip() == '3'\n")
    server = FakeOpenAI([
        (200, "Here you go:\n```json\n" + json.dumps(GOOD) + "\n```"),
        (200, "no json here"),
        (200, json.dumps(bad_tests)),
        (200, json.dumps(privileged)),
        (503, "overloaded"), (200, json.dumps(second)),   # one retry, then an answer
    ])
    try:
        opts = GenOptions(mode="llm", n=5, out=tmp_path / "run", verify_runs=1,
                          llm=LLMOptions(base_url=server.url, model="fake-model", api_key_env="FAKE_KEY"))
        records = generate(opts)
    finally:
        server.close()
    assert [(r["status"], r["reason"]) for r in records] == [
        ("verified", None), ("rejected", "llm-unparsable"), ("rejected", "llm-invalid"),
        ("rejected", "privileged"), ("verified", None)]
    req = server.requests[0]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sk-test"
    assert req["body"]["model"] == "fake-model"
    assert req["body"]["messages"][0]["role"] == "system" and "JSON" in req["body"]["messages"][0]["content"]
    assert len(server.requests) == 6
    assert records[0]["skills"] == ["text.sort"]  # unknown skills are dropped


def test_unreachable_endpoint_keeps_what_was_generated(tmp_path):
    out = tmp_path / "run"
    server = FakeOpenAI([(200, "garbage")])
    url = server.url
    llm = LLMOptions(base_url=url, model="m", retries=0)
    generate(GenOptions(mode="llm", n=1, out=out, llm=llm, verify_runs=1))
    server.close()  # the endpoint goes away
    before = (out / "index.jsonl").read_text()
    with pytest.raises(TermforgeError, match="cannot reach the LLM endpoint"):
        generate(GenOptions(mode="llm", n=3, out=out, llm=llm, verify_runs=1))
    assert (out / "index.jsonl").read_text() == before
    assert list(read_index(out)) == ["llm-s0-00000"]
