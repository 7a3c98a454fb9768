"""A minimal OpenAI-compatible chat client, shared by the generator's LLM mode and the agents.

`ChatClient(opts).complete(messages)` posts to `{base_url}/chat/completions`, retries 429/5xx and
connection errors with exponential backoff, limits concurrent requests, and raises one clear
TermforgeError when the endpoint cannot be reached.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from termforge.errors import TermforgeError


class DrawRejected(Exception):
    """A draw that cannot become a task; `reason` is counted in the run's summary."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class LLMOptions:
    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = 0.7
    max_tokens: int = 6000
    timeout_sec: float = 180.0
    retries: int = 3
    concurrency: int = 8


class ChatClient:
    """Minimal OpenAI-compatible `/chat/completions` client with retries and backoff."""

    def __init__(self, opts: LLMOptions):
        self.opts = opts
        self.url = opts.base_url.rstrip("/") + "/chat/completions"
        self._slots = threading.BoundedSemaphore(max(1, opts.concurrency))

    def complete(self, messages: list[dict[str, str]], *, seed: int | None = None) -> str:
        body: dict[str, Any] = {"model": self.opts.model, "messages": messages,
                                "temperature": self.opts.temperature, "max_tokens": self.opts.max_tokens}
        if seed is not None:
            body["seed"] = seed
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.opts.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        data = json.dumps(body).encode()
        delay = 1.0
        for attempt in range(self.opts.retries + 1):
            req = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
            try:
                with self._slots, urllib.request.urlopen(req, timeout=self.opts.timeout_sec) as resp:
                    payload = json.loads(resp.read())
                return payload["choices"][0]["message"]["content"] or ""
            except urllib.error.HTTPError as exc:
                if exc.code in (429, 500, 502, 503, 504) and attempt < self.opts.retries:
                    time.sleep(delay)
                    delay *= 2
                    continue
                detail = exc.read()[:200].decode(errors="replace")
                raise TermforgeError(f"LLM endpoint {self.url} answered HTTP {exc.code}: {detail}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt < self.opts.retries:
                    time.sleep(delay)
                    delay *= 2
                    continue
                reason = getattr(exc, "reason", exc)
                raise TermforgeError(f"cannot reach the LLM endpoint {self.url}: {reason}") from None
            except (KeyError, IndexError, TypeError, json.JSONDecodeError):
                raise DrawRejected("llm-protocol", "the endpoint's answer is not an OpenAI chat "
                                                   "completion") from None
        raise AssertionError("unreachable")




def chat_backend(opts: LLMOptions):
    """A `messages -> text` model backend for the Terminus-2 loop."""
    client = ChatClient(opts)
    return lambda messages: client.complete(messages)
