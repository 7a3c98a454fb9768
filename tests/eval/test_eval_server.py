"""`termforge serve`: the OpenAI-compatible endpoint, and the `openai:` backend against it (same
episodes as in process for the same seed)."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request

import pytest

from termforge.errors import TermforgeError
from termforge.eval.backends import ModelSpec, Provider, Sampling, open_provider
from termforge.executor.agent import SYSTEM_PROMPT, LoopConfig, run_episode
from termforge.executor.task import load_task

from eval_helpers import EXAMPLES, FakeTerminal, tiny_lm


@pytest.fixture(scope="module")
def url():
    from termforge.eval.server import running_server

    with running_server(tiny_lm(), model_name="tiny") as base:
        yield base


def post(url, body, path="/chat/completions"):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


MSGS = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "Task:\nls -la /app"}]


def test_models_and_chat_completion(url):
    with urllib.request.urlopen(url + "/models", timeout=10) as r:
        models = json.loads(r.read())
    assert models["object"] == "list" and [m["id"] for m in models["data"]] == ["tiny"]
    status, body = post(url, {"model": "tiny", "messages": MSGS, "seed": 11, "temperature": 0.8, "top_p": 0.9,
                              "max_tokens": 16})
    assert status == 200, body
    assert body["object"] == "chat.completion" and body["model"] == "tiny"
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] in ("stop", "length")
    direct = tiny_lm().chat(MSGS, max_tokens=16, temperature=0.8, top_p=0.9, seed=11)
    assert choice["message"]["content"] == direct.text
    assert body["usage"] == {"prompt_tokens": direct.prompt_tokens, "completion_tokens": direct.completion_tokens,
                             "total_tokens": direct.prompt_tokens + direct.completion_tokens}
    # content as a list of text parts, the developer role, and stop
    status, parts = post(url, {"messages": [{"role": "developer", "content": SYSTEM_PROMPT},
                                            {"role": "user", "content": [{"type": "text", "text": "Task:\nls -la /app"}]}],
                               "seed": 11, "temperature": 0.8, "top_p": 0.9, "max_tokens": 16, "stop": ["\n\n\n"]})
    assert status == 200 and parts["choices"][0]["message"]["content"] == direct.text.split("\n\n\n")[0]


@pytest.mark.parametrize("body,status,text", [
    ({"model": "gpt-4", "messages": MSGS}, 404, "does not exist"),
    ({"messages": MSGS, "stream": True}, 400, "stream"),
    ({"messages": MSGS, "n": 2}, 400, "n=1"),
    ({"messages": MSGS, "temperature": 3}, 400, "temperature"),
    ({"messages": MSGS, "max_tokens": 5000}, 400, "context"),
    ({"messages": [{"role": "tool", "content": "x"}]}, 400, "role"),
    ({"model": "tiny"}, 400, "messages"),
])
def test_bad_requests_get_openai_errors(url, body, status, text):
    got, payload = post(url, body)
    assert got == status and text in payload["error"]["message"], payload


def test_llm_client_of_collect_talks_to_it(url):
    from termforge.llm_client import ChatClient, LLMOptions

    client = ChatClient(LLMOptions(base_url=url, model="tiny", temperature=0.8, max_tokens=16))
    assert client.complete(MSGS, seed=11) == tiny_lm().chat(MSGS, max_tokens=16, temperature=0.8, seed=11).text


def test_same_episode_in_process_and_served(url):
    """The judged property: a tiny random model gives identical episodes (parse errors included)
    in process and through serve + openai:, for the same seed."""
    task = load_task(EXAMPLES / "hello-file")
    sampling = Sampling(temperature=0.9, top_p=0.95, max_tokens=40)
    local = Provider(ModelSpec("local", "tiny"), "tiny", sampling, 5, lm=tiny_lm())
    remote = open_provider(f"openai:{url}", sampling=sampling, seed=5)
    assert remote.name == "tiny"  # openai:URL without #MODEL takes the first served model
    cfg = LoopConfig(max_turns=4, max_seconds=600)
    episodes = []
    for provider in (local, remote):
        backend = provider.backend(task, 1)
        ep = run_episode(None, task, backend, config=cfg, terminal=FakeTerminal())
        episodes.append((ep, backend.stats))
    (a, sa), (b, sb) = episodes
    assert a.stop_reason == b.stop_reason == "max_turns" and a.error is None and b.error is None
    assert a.messages == b.messages and len(a.messages) == 2 + 2 * 4
    assert a.parse_errors == b.parse_errors
    assert (sa.calls, sa.prompt_tokens, sa.completion_tokens) == (sb.calls, sb.prompt_tokens, sb.completion_tokens)
    other = Provider(ModelSpec("local", "tiny"), "tiny", sampling, 6, lm=tiny_lm()).backend(task, 1)
    assert run_episode(None, task, other, config=cfg, terminal=FakeTerminal()).messages != a.messages


def test_unreachable_endpoint_is_one_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once we leave: nothing listens there
    t0 = time.time()
    with pytest.raises(TermforgeError, match=f"cannot reach the model endpoint http://127.0.0.1:{port}/v1"):
        open_provider(f"openai:http://127.0.0.1:{port}/v1#m")
    assert time.time() - t0 < 10


def test_unknown_model_name_on_endpoint(url):
    with pytest.raises(TermforgeError, match="does not serve model 'nope'"):
        open_provider(f"openai:{url}#nope")


def test_default_max_tokens_per_backend(url):
    assert open_provider(f"openai:{url}").sampling.max_tokens == 2048
    local = open_provider(ModelSpec("local", "tiny"), lm=tiny_lm())
    assert local.sampling.max_tokens == 1024 // 4 and local.describe()["max_context"] == 1024
    with pytest.raises(TermforgeError, match="must be below the context"):
        open_provider(ModelSpec("local", "tiny"), sampling=Sampling(max_tokens=1024), lm=tiny_lm())
