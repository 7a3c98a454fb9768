"""`termforge serve`: an OpenAI-compatible endpoint for a local Qwen3 model (FastAPI + uvicorn).

    POST /v1/chat/completions   model, messages, temperature (default 1), top_p (default 1),
                                max_tokens / max_completion_tokens, stop, seed, n=1; no streaming
    GET  /v1/models             the one served model
    GET  /health

Requests from all clients share one `BatchDecoder` (continuous batching), so concurrent
episodes (Harbor's Terminus-2, `termforge eval --model openai:...`) decode together. With a
`seed`, the answer is a pure function of the request (see termforge.eval.engine), identical to
the in-process backend's. Prompts longer than the context are shortened the same way as in
process (oldest turns dropped, system + first user message kept) -- a termforge extension where
OpenAI would answer 400; `usage.prompt_tokens` tells what was sent to the model.
"""

# no `from __future__ import annotations`: FastAPI must resolve the request model defined in create_app

import socket
import threading
import time
import uuid
from contextlib import contextmanager
from typing import Any, Iterator

from termforge.errors import TermforgeError

DEFAULT_MAX_TOKENS = 1024


def _text(content: Any) -> str:
    """OpenAI message content: a string or a list of parts ({"type": "text", "text": ...})."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for p in content:
            if isinstance(p, dict) and p.get("type") in ("text", "input_text"):
                parts.append(str(p.get("text", "")))
            elif isinstance(p, str):
                parts.append(p)
            else:
                raise ValueError("only text content parts are supported")
        return "".join(parts)
    raise ValueError("message content must be a string or a list of text parts")


def create_app(lm, *, model_name: str | None = None):
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, ConfigDict

    name = model_name or lm.name
    created = int(time.time())
    app = FastAPI(title="termforge", docs_url=None, redoc_url=None, openapi_url=None)

    class ChatRequest(BaseModel):
        model_config = ConfigDict(extra="allow")
        model: str | None = None
        messages: list[dict[str, Any]]
        temperature: float | None = None
        top_p: float | None = None
        max_tokens: int | None = None
        max_completion_tokens: int | None = None
        stop: str | list[str] | None = None
        seed: int | None = None
        n: int | None = 1
        stream: bool | None = False

    def error(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None):
        return JSONResponse(status_code=status, content={"error": {"message": message, "type": kind,
                                                                    "param": None, "code": code}})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        return error(400, f"invalid request: {where}: {first.get('msg', 'bad value')}")

    @app.get("/health")
    def health():
        return {"status": "ok", "model": name}

    @app.get("/v1/models")
    def models():
        return {"object": "list", "data": [{"id": name, "object": "model", "created": created,
                                            "owned_by": "termforge"}]}

    @app.post("/v1/chat/completions")
    def chat_completions(req: ChatRequest):
        if req.model not in (None, "", name):
            return error(404, f"the model {req.model!r} does not exist; this server serves {name!r}",
                         code="model_not_found")
        if req.stream:
            return error(400, "stream=true is not supported by termforge serve")
        if (req.n or 1) != 1:
            return error(400, "only n=1 is supported")
        messages = []
        try:
            for m in req.messages:
                role = m.get("role")
                role = "system" if role == "developer" else role
                if role not in ("system", "user", "assistant"):
                    return error(400, f"unsupported message role {m.get('role')!r}")
                messages.append({"role": role, "content": _text(m.get("content"))})
        except ValueError as exc:
            return error(400, str(exc))
        if not messages:
            return error(400, "messages must not be empty")
        temperature = 1.0 if req.temperature is None else float(req.temperature)
        top_p = 1.0 if req.top_p is None else float(req.top_p)
        if temperature < 0 or temperature > 2 or not 0 < top_p <= 1:
            return error(400, "need 0 <= temperature <= 2 and 0 < top_p <= 1")
        max_tokens = req.max_completion_tokens or req.max_tokens or DEFAULT_MAX_TOKENS
        if max_tokens < 1:
            return error(400, "max_tokens must be at least 1")
        if max_tokens >= lm.max_context:
            return error(400, f"max_tokens {max_tokens} must be below the context of {lm.max_context} tokens")
        stop = [req.stop] if isinstance(req.stop, str) else list(req.stop or [])
        try:
            r = lm.chat(messages, max_tokens=max_tokens, temperature=temperature, top_p=top_p,
                        seed=req.seed, stop=stop[:4])
        except TermforgeError as exc:
            return error(400, str(exc))
        except Exception as exc:  # noqa: BLE001
            return error(500, f"{type(exc).__name__}: {exc}", kind="server_error")
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": name,
            "system_fingerprint": f"termforge-s{lm.decoder.slots}-c{lm.max_context}",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": r.text},
                         "finish_reason": r.finish_reason, "logprobs": None}],
            "usage": {"prompt_tokens": r.prompt_tokens, "completion_tokens": r.completion_tokens,
                      "total_tokens": r.prompt_tokens + r.completion_tokens},
        }

    return app


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise TermforgeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _server(app, sock: socket.socket, log_level: str = "warning"):
    import uvicorn

    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False,
                            timeout_keep_alive=30, lifespan="off")
    return uvicorn.Server(config)


def serve_forever(lm, *, host: str = "127.0.0.1", port: int = 8000, model_name: str | None = None,
                  on_ready=None, log_level: str = "warning") -> None:
    """Serve until interrupted (Ctrl-C / SIGTERM)."""
    sock = bind(host, port)
    server = _server(create_app(lm, model_name=model_name), sock, log_level)
    if on_ready is not None:
        on_ready(sock.getsockname()[1])
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


@contextmanager
def running_server(lm, *, host: str = "127.0.0.1", port: int = 0, model_name: str | None = None) -> Iterator[str]:
    """Serve in a background thread; yields the base URL (http://host:port/v1)."""
    sock = bind(host, port)
    server = _server(create_app(lm, model_name=model_name), sock)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="serve", daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and thread.is_alive() and time.time() < deadline:
        time.sleep(0.02)
    if not server.started:
        sock.close()
        raise TermforgeError("the model server did not start")
    try:
        yield f"http://{host}:{sock.getsockname()[1]}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
