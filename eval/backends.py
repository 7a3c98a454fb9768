"""Model backends for the Terminus-2 loop in evaluation, chosen by one `--model` string:

    oracle                    the task's solution/solve.sh replayed as Terminus-2 turns (OracleBackend)
    nop                       an agent that never acts (the executor's NopAgent): the tests' zero
    openai:URL#MODEL          any OpenAI-compatible /chat/completions endpoint (`openai:URL` alone
                              takes the first model of URL/models)
    CKPT_OR_HF_DIR            a termforge Orbax checkpoint or a Hugging Face Qwen3 directory, run
                              in-process by a batching decoder shared by all concurrent episodes

Every model-driven episode gets its own backend object (`messages -> text`) that counts its calls
and tokens. Sampling is seeded per call: call i of attempt k of task T uses
`call_seed(seed, T, k, i)`, sent as the request's `seed` to an endpoint, so the same `--seed`
gives the same episode in-process and through `termforge serve`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from termforge.errors import ConfigError, TermforgeError

Messages = list[dict[str, str]]
DEFAULT_MAX_TOKENS = 2048


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int | None = None     # per assistant turn; None: 2048 for endpoints, and
                                      # min(2048, context // 4) for local models


def call_seed(seed: int, task: str, attempt: int, call: int) -> int:
    """A 31-bit seed for one model call, a pure function of its coordinates."""
    digest = hashlib.blake2b(f"termforge-eval:{seed}:{task}:{attempt}:{call}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") % (2**31 - 1)


@dataclass
class EpisodeStats:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    dropped_messages: int = 0          # turns dropped to fit the context (local models)
    tokens_known: bool = True

    def to_json(self) -> dict[str, Any]:
        d = {"calls": self.calls, "prompt_tokens": self.prompt_tokens if self.tokens_known else None,
             "completion_tokens": self.completion_tokens if self.tokens_known else None}
        if self.dropped_messages:
            d["dropped_messages"] = self.dropped_messages
        return d


class LocalBackend:
    """One episode's view of an in-process `LocalModel`."""

    def __init__(self, lm, sampling: Sampling, *, seed: int, task: str, attempt: int):
        self.lm, self.sampling = lm, sampling
        self.seed, self.task, self.attempt = seed, task, attempt
        self.stats = EpisodeStats()

    def __call__(self, messages: Messages) -> str:
        s = self.sampling
        r = self.lm.chat(messages, max_tokens=s.max_tokens, temperature=s.temperature, top_p=s.top_p,
                         seed=call_seed(self.seed, self.task, self.attempt, self.stats.calls))
        self.stats.calls += 1
        self.stats.prompt_tokens += r.prompt_tokens
        self.stats.completion_tokens += r.completion_tokens
        self.stats.dropped_messages += r.dropped_messages
        return r.text


# ------------------------------------------------------------------------------ OpenAI-compatible
def normalise_base_url(url: str) -> str:
    url = url.rstrip("/")
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"openai:{url}: expected openai:http(s)://HOST[:PORT][/v1]#MODEL")
    if parsed.path in ("", "/"):
        url += "/v1"
    return url


class OpenAIChat:
    """A small OpenAI-compatible client: /chat/completions with seed/top_p/stop, /models, retries."""

    def __init__(self, base_url: str, model: str | None = None, *, api_key_env: str = "OPENAI_API_KEY",
                 timeout: float = 600.0, retries: int = 3, concurrency: int = 16):
        self.base_url = normalise_base_url(base_url)
        self.model = model
        self.api_key_env, self.timeout, self.retries = api_key_env, timeout, retries
        self.concurrency = max(1, concurrency)
        self._slots = threading.BoundedSemaphore(self.concurrency)

    def __getstate__(self) -> dict[str, Any]:  # it travels to Ray workers: a fresh semaphore there
        return {k: v for k, v in self.__dict__.items() if k != "_slots"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._slots = threading.BoundedSemaphore(self.concurrency)

    def _headers(self) -> dict[str, str]:
        h = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            h["Authorization"] = f"Bearer {key}"
        return h

    def _request(self, path: str, body: dict | None, *, retries: int, timeout: float) -> dict:
        url = self.base_url + path
        data = None if body is None else json.dumps(body).encode()
        delay = 0.5
        for attempt in range(retries + 1):
            req = urllib.request.Request(url, data=data, headers=self._headers(),
                                         method="GET" if body is None else "POST")
            try:
                with self._slots, urllib.request.urlopen(req, timeout=timeout) as resp:
                    return json.loads(resp.read())
            except urllib.error.HTTPError as exc:
                if exc.code in (429, 500, 502, 503, 504) and attempt < retries:
                    time.sleep(delay)
                    delay *= 2
                    continue
                detail = " ".join(exc.read()[:300].decode(errors="replace").split())
                raise TermforgeError(f"model endpoint {url} answered HTTP {exc.code}: {detail}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                if attempt < retries:
                    time.sleep(delay)
                    delay *= 2
                    continue
                reason = getattr(exc, "reason", exc)
                raise TermforgeError(f"cannot reach the model endpoint {url}: {reason}") from None
            except json.JSONDecodeError:
                raise TermforgeError(f"model endpoint {url} did not answer JSON") from None
        raise AssertionError("unreachable")

    def models(self, *, retries: int = 1, timeout: float = 10.0) -> list[str]:
        payload = self._request("/models", None, retries=retries, timeout=timeout)
        try:
            return [str(m["id"]) for m in payload["data"]]
        except (KeyError, TypeError):
            raise TermforgeError(f"{self.base_url}/models is not an OpenAI model list") from None

    def probe(self) -> str:
        """Check the endpoint answers and knows the model; returns the model name."""
        names = self.models()
        if self.model is None:
            if not names:
                raise TermforgeError(f"{self.base_url}/models lists no model; name one with openai:URL#MODEL")
            self.model = names[0]
        elif names and self.model not in names:
            raise TermforgeError(f"{self.base_url} does not serve model {self.model!r} (it serves: "
                                 f"{', '.join(names[:5])})")
        return self.model

    def complete(self, messages: Messages, *, temperature: float, top_p: float, max_tokens: int,
                 seed: int | None = None, stop: list[str] | None = None) -> tuple[str, dict]:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": temperature,
                                "top_p": top_p, "max_tokens": max_tokens}
        if seed is not None:
            body["seed"] = seed
        if stop:
            body["stop"] = stop
        payload = self._request("/chat/completions", body, retries=self.retries, timeout=self.timeout)
        try:
            text = payload["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise TermforgeError(f"{self.base_url}/chat/completions did not answer a chat completion") from None
        return text, payload.get("usage") or {}


class OpenAIBackend:
    """One episode's view of an OpenAI-compatible endpoint."""

    def __init__(self, client: OpenAIChat, sampling: Sampling, *, seed: int, task: str, attempt: int):
        self.client, self.sampling = client, sampling
        self.seed, self.task, self.attempt = seed, task, attempt
        self.stats = EpisodeStats()

    def __call__(self, messages: Messages) -> str:
        s = self.sampling
        text, usage = self.client.complete(messages, temperature=s.temperature, top_p=s.top_p,
                                           max_tokens=s.max_tokens,
                                           seed=call_seed(self.seed, self.task, self.attempt, self.stats.calls))
        self.stats.calls += 1
        if isinstance(usage.get("prompt_tokens"), int) and isinstance(usage.get("completion_tokens"), int):
            self.stats.prompt_tokens += usage["prompt_tokens"]
            self.stats.completion_tokens += usage["completion_tokens"]
        else:
            self.stats.tokens_known = False
        return text


# ------------------------------------------------------------------------------ the --model string
@dataclass(frozen=True)
class ModelSpec:
    kind: str                 # oracle | nop | openai | local
    text: str
    url: str | None = None
    model: str | None = None
    path: Path | None = None


def parse_model_spec(spec: str) -> ModelSpec:
    spec = spec.strip()
    if spec in ("oracle", "nop"):
        return ModelSpec(spec, spec)
    if spec.startswith("openai:"):
        rest = spec[len("openai:"):]
        url, _, model = rest.partition("#")
        return ModelSpec("openai", spec, url=normalise_base_url(url), model=model or None)
    p = Path(spec)
    if not p.exists():
        raise ConfigError(f"--model {spec}: no such checkpoint or Hugging Face directory "
                          "(or use oracle, nop, openai:URL#MODEL)")
    return ModelSpec("local", spec, path=p)


@dataclass
class Provider:
    """What the runner asks for an agent per attempt; `close()` frees the model."""

    spec: ModelSpec
    name: str
    sampling: Sampling = field(default_factory=Sampling)
    seed: int = 0
    lm: Any = None               # LocalModel
    client: OpenAIChat | None = None

    def backend(self, task, attempt: int):
        """The `messages -> text` backend of one attempt (None for nop)."""
        kind = self.spec.kind
        if kind == "nop":
            return None
        if kind == "oracle":
            from termforge.executor.oracle import OracleBackend

            return OracleBackend(task, seed=attempt)
        if kind == "openai":
            return OpenAIBackend(self.client, self.sampling, seed=self.seed, task=task.name, attempt=attempt)
        return LocalBackend(self.lm, self.sampling, seed=self.seed, task=task.name, attempt=attempt)

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"model": self.spec.text, "kind": self.spec.kind, "name": self.name}
        if self.spec.kind in ("openai", "local"):
            d.update(temperature=self.sampling.temperature, top_p=self.sampling.top_p,
                     max_tokens=self.sampling.max_tokens, seed=self.seed)
        if self.lm is not None:
            d.update(max_context=self.lm.max_context, slots=self.lm.decoder.slots)
        return d

    def close(self) -> None:
        if self.lm is not None:
            self.lm.close()


def open_provider(spec: str | ModelSpec, *, sampling: Sampling = Sampling(), seed: int = 0,
                  tokenizer: str | None = None, slots: int | None = None, max_context: int | None = None,
                  api_key_env: str = "OPENAI_API_KEY", concurrency: int = 16, lm=None) -> Provider:
    """Resolve `--model` and check it works (endpoint reachable, checkpoint loadable) up front."""
    from termforge.eval.engine import DEFAULT_SLOTS

    ms = spec if isinstance(spec, ModelSpec) else parse_model_spec(spec)
    if ms.kind in ("oracle", "nop"):
        return Provider(ms, ms.kind, sampling, seed)
    if ms.kind == "openai":
        if sampling.max_tokens is None:
            sampling = dataclasses.replace(sampling, max_tokens=DEFAULT_MAX_TOKENS)
        client = OpenAIChat(ms.url, ms.model, api_key_env=api_key_env, concurrency=concurrency)
        name = client.probe()
        return Provider(ms, name, sampling, seed, client=client)
    if lm is None:
        from termforge.eval.engine import load_local_model

        lm = load_local_model(ms.path, tokenizer=tokenizer, slots=slots or DEFAULT_SLOTS,
                              max_context=max_context)
    if sampling.max_tokens is None:
        sampling = dataclasses.replace(sampling, max_tokens=min(DEFAULT_MAX_TOKENS, lm.max_context // 4))
    if sampling.max_tokens >= lm.max_context:
        raise ConfigError(f"--max-tokens {sampling.max_tokens} must be below the context of "
                          f"{lm.max_context} tokens (--max-context)")
    return Provider(ms, lm.name, sampling, seed, lm=lm)
