"""In-process generation for evaluation and serving: a local Qwen3 model behind a batching decoder.

    lm = load_local_model("ckpt_or_hf_dir", slots=4, max_context=8192)
    out = lm.chat(messages, max_tokens=512, temperature=0.7, top_p=0.95, seed=17)
    out.text, out.prompt_tokens, out.completion_tokens, out.finish_reason

`BatchDecoder` is continuous batching over a fixed number of cache *slots*: a server thread takes
pending requests from any number of caller threads, prefills each new prompt into a free slot
(one request at a time, prompt padded to a power-of-two bucket) and advances every occupied slot
together, `chunk` tokens per jitted call. Requests join and leave between chunks.

Determinism. Every request samples with its own key, `fold_in(key(seed), step)`, and all shapes
are fixed (the decode step always runs all `slots` rows; a prefill always runs one row), so a
request's tokens depend only on its prompt, its sampling parameters, its seed and the decoder
shape (`slots`, `max_context`) -- not on which other requests happen to share the batch, nor on
timing. The same seed therefore gives the same text in-process and through `termforge serve`.

Context. `LocalModel.chat` keeps the prompt within `max_context - max_tokens` tokens by dropping
the oldest turns after the first user message (system + first user message are always kept);
when even that does not fit, the middle of the token sequence is cut.
"""

from __future__ import annotations

import functools
import os
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from termforge.errors import ConfigError, TermforgeError

DEFAULT_SLOTS = 4
DEFAULT_MAX_CONTEXT = 8192
DEFAULT_CHUNK = 16
MIN_BUCKET = 64


# ------------------------------------------------------------------------------ jitted kernels
def _sample_rows(logits, seeds, steps, temperature, top_p, greedy):
    """Next token per row [batch] from logits [batch, vocab]; row r uses key fold_in(key(seeds[r]), steps[r]).

    Row-local semantics only (a row's token never depends on another row): greedy rows take the
    argmax; top_p >= 1 samples from the full distribution; otherwise from the nucleus. The vocab
    sort is skipped when no row needs a nucleus, which gives the same tokens.
    """
    import jax
    import jax.numpy as jnp

    logits = logits.astype(jnp.float32)  # [batch, vocab]
    scaled = logits / jnp.maximum(temperature, jnp.float32(1e-6))[:, None]  # [batch, vocab]

    def nucleus(scaled):
        ordered = jnp.sort(scaled, axis=-1)[:, ::-1]  # [batch, vocab] descending
        probs = jax.nn.softmax(ordered, axis=-1)
        mass_before = jnp.cumsum(probs, axis=-1) - probs  # [batch, vocab]
        kept = jnp.maximum(jnp.sum(mass_before < top_p[:, None], axis=-1), 1)  # [batch] nucleus size
        threshold = jnp.take_along_axis(ordered, (kept - 1)[:, None], axis=-1)  # [batch, 1]
        cut = jnp.where(scaled >= threshold, scaled, -jnp.inf)
        return jnp.where((top_p >= 1.0)[:, None], scaled, cut)

    needs = jnp.any((top_p < 1.0) & ~greedy)
    masked = jax.lax.cond(needs, nucleus, lambda x: x, scaled)  # [batch, vocab]

    def draw(lg, seed, step):
        return jax.random.categorical(jax.random.fold_in(jax.random.key(seed), step), lg)

    sampled = jax.vmap(draw)(masked, seeds, steps)  # [batch]
    return jnp.where(greedy, jnp.argmax(logits, axis=-1), sampled).astype(jnp.int32)


@functools.cache
def _kernels():
    import jax
    import jax.numpy as jnp
    from flax import nnx

    @functools.partial(jax.jit, static_argnames=("graphdef",), donate_argnames=("cache",))
    def prefill(graphdef, state, cache, tokens, length, slot, seed, temperature, top_p, greedy):
        """tokens [1, bucket] (right-padded, `length` real) -> cache with row `slot` filled, first token."""
        model = nnx.merge(graphdef, state)
        bucket = tokens.shape[1]
        max_len = cache["kv_segment_ids"].shape[1]
        row = model.init_cache(1, max_len)
        idx = jnp.arange(bucket, dtype=jnp.int32)[None]  # [1, bucket]
        seg = (idx < length).astype(jnp.int32)  # [1, bucket] 0 = padding
        logits, row = model(tokens, idx, seg, cache=row)  # [1, bucket, vocab]
        row["index"] = jnp.reshape(length, (1,)).astype(jnp.int32)  # next slot: after the prompt
        last = jax.lax.dynamic_index_in_dim(logits[0], length - 1, axis=0, keepdims=True)  # [1, vocab]
        first = _sample_rows(last, seed[None], jnp.zeros((1,), jnp.int32), temperature[None], top_p[None],
                             greedy[None])[0]
        cache = jax.tree.map(lambda big, small: jax.lax.dynamic_update_index_in_dim(big, small, slot, 0),
                             cache, row)
        return cache, first

    @functools.partial(jax.jit, static_argnames=("graphdef", "n"), donate_argnames=("cache",))
    def decode(graphdef, state, cache, tok, pos, seeds, steps, temperature, top_p, greedy, *, n):
        """Feed tok [slots] and sample n more tokens per row -> out [slots, n]."""
        model = nnx.merge(graphdef, state)
        slots = tok.shape[0]

        def body(i, carry):
            cache, tok, pos, steps, out = carry
            logits, cache = model(tok[:, None], pos[:, None], cache=cache)  # [slots, 1, vocab]
            nxt = _sample_rows(logits[:, 0], seeds, steps, temperature, top_p, greedy)  # [slots]
            out = out.at[:, i].set(nxt)
            return cache, nxt, pos + 1, steps + 1, out

        out = jnp.zeros((slots, n), jnp.int32)
        cache, tok, pos, steps, out = jax.lax.fori_loop(0, n, body, (cache, tok, pos, steps, out))
        return cache, out

    return prefill, decode


# ------------------------------------------------------------------------------ decoder
@dataclass
class Generation:
    tokens: list[int]
    finish_reason: str  # stop | length
    prompt_tokens: int
    seconds: float


@dataclass
class _Request:
    prompt: list[int]
    max_new_tokens: int
    temperature: float
    top_p: float
    seed: int
    stop_ids: frozenset[int]
    future: Future
    tokens: list[int] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    slot: int = -1


def _bucket(n: int, max_len: int) -> int:
    b = MIN_BUCKET
    while b < n:
        b *= 2
    return min(b, max_len)


def seed32(seed: int | None) -> int:
    """A seed as a non-negative int32 (what jax.random.key takes on every backend)."""
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "little")
    return int(seed) % (2**31 - 1)


class BatchDecoder:
    """Continuous batching over `slots` KV-cache rows of `max_len` tokens (see the module doc)."""

    def __init__(self, model, *, slots: int = DEFAULT_SLOTS, max_len: int = DEFAULT_MAX_CONTEXT,
                 chunk: int = DEFAULT_CHUNK, pad_id: int = 0, eos_ids: Sequence[int] = ()):
        from flax import nnx

        if slots < 1 or max_len < 2 or chunk < 1:
            raise ConfigError(f"decoder needs slots >= 1, max_len >= 2, chunk >= 1 (got {slots}, {max_len}, {chunk})")
        self.model = model
        self.slots, self.max_len, self.chunk = slots, max_len, chunk
        self.pad_id = pad_id
        self.eos_ids = frozenset(int(e) for e in eos_ids)
        self.graphdef, self.state = nnx.split(model)
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._active: list[_Request | None] = [None] * slots
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.stats = {"requests": 0, "generated_tokens": 0, "prefill_tokens": 0, "decode_steps": 0,
                      "decode_seconds": 0.0, "prefill_seconds": 0.0, "busy_rows": 0}

    # -- public
    def submit(self, prompt: Sequence[int], *, max_new_tokens: int, temperature: float = 0.0, top_p: float = 1.0,
               seed: int | None = 0, stop_ids: Sequence[int] = ()) -> Future:
        fut: Future = Future()
        prompt = [int(t) for t in prompt]
        if not prompt:
            fut.set_exception(ConfigError("empty prompt"))
            return fut
        if max_new_tokens < 1 or len(prompt) + max_new_tokens > self.max_len:
            fut.set_exception(ConfigError(
                f"prompt of {len(prompt)} tokens + max_tokens {max_new_tokens} exceeds the context of "
                f"{self.max_len} tokens"))
            return fut
        if not 0.0 < top_p <= 1.0 or temperature < 0:
            fut.set_exception(ConfigError(f"need temperature >= 0 and 0 < top_p <= 1 (got {temperature}, {top_p})"))
            return fut
        req = _Request(prompt, int(max_new_tokens), float(temperature), float(top_p), seed32(seed),
                       frozenset(int(s) for s in stop_ids) | self.eos_ids, fut)
        with self._lock:
            if self._closed:
                raise TermforgeError("the decoder is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="batch-decoder", daemon=True)
                self._thread.start()
            self._queue.put(req)
        return fut

    def generate(self, prompt: Sequence[int], **kwargs) -> Generation:
        return self.submit(prompt, **kwargs).result()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            thread = self._thread
        self._queue.put(None)
        if thread is not None:
            thread.join(timeout=60)

    # -- server thread
    def _loop(self) -> None:
        import jax.numpy as jnp
        import numpy as np

        prefill, decode = _kernels()
        cache = self.model.init_cache(self.slots, self.max_len)
        B = self.slots
        tok = np.zeros(B, np.int32)
        pos = np.zeros(B, np.int32)
        seeds = np.zeros(B, np.int32)
        steps = np.zeros(B, np.int32)
        temp = np.ones(B, np.float32)
        top_p = np.ones(B, np.float32)
        greedy = np.ones(B, bool)
        stopping = False
        while True:
            # admit waiting requests into free slots (block only when nothing is running)
            while not stopping and None in self._active:
                try:
                    busy = any(r is not None for r in self._active)
                    req = self._queue.get(block=not busy, timeout=None if busy else 0.5)
                except queue.Empty:
                    if not any(r is not None for r in self._active):
                        continue
                    break
                if req is None:
                    stopping = True
                    break
                if req.future.set_running_or_notify_cancel() is False:
                    continue
                slot = self._active.index(None)
                try:
                    t0 = time.perf_counter()
                    bucket = _bucket(len(req.prompt), self.max_len)
                    toks = np.full((1, bucket), self.pad_id, np.int32)
                    toks[0, :len(req.prompt)] = req.prompt
                    cache, first = prefill(self.graphdef, self.state, cache, jnp.asarray(toks),
                                           jnp.int32(len(req.prompt)), jnp.int32(slot), jnp.int32(req.seed),
                                           jnp.float32(req.temperature), jnp.float32(req.top_p),
                                           jnp.bool_(req.temperature <= 0.0))
                    first = int(first)
                    self.stats["prefill_seconds"] += time.perf_counter() - t0
                    self.stats["prefill_tokens"] += len(req.prompt)
                except Exception as exc:  # noqa: BLE001 - a failed request must not stop the server
                    req.future.set_exception(exc)
                    cache = self.model.init_cache(self.slots, self.max_len)  # donated: rebuild
                    for r in self._active:
                        if r is not None:
                            r.future.set_exception(RuntimeError("decoder reset after a failed prefill"))
                    self._active = [None] * B
                    continue
                req.slot = slot
                self.stats["requests"] += 1
                if self._emit(req, [first]):
                    continue
                self._active[slot] = req
                tok[slot], pos[slot], seeds[slot], steps[slot] = first, len(req.prompt), req.seed, 1
                temp[slot], top_p[slot], greedy[slot] = req.temperature, req.top_p, req.temperature <= 0.0
            if not any(r is not None for r in self._active):
                if stopping:
                    self._drain()
                    return
                continue
            t0 = time.perf_counter()
            try:
                cache, out = decode(self.graphdef, self.state, cache, jnp.asarray(tok), jnp.asarray(pos),
                                    jnp.asarray(seeds), jnp.asarray(steps), jnp.asarray(temp), jnp.asarray(top_p),
                                    jnp.asarray(greedy), n=self.chunk)
                out = np.asarray(out)
            except Exception as exc:  # noqa: BLE001
                for r in self._active:
                    if r is not None:
                        r.future.set_exception(exc)
                self._active = [None] * B
                cache = self.model.init_cache(self.slots, self.max_len)
                continue
            self.stats["decode_seconds"] += time.perf_counter() - t0
            self.stats["decode_steps"] += self.chunk
            self.stats["busy_rows"] += self.chunk * sum(r is not None for r in self._active)
            tok[:] = out[:, -1]
            pos += self.chunk
            steps += self.chunk
            for slot, req in enumerate(self._active):
                if req is not None and self._emit(req, out[slot].tolist()):
                    self._active[slot] = None

    def _drain(self) -> None:
        while True:
            try:
                req = self._queue.get_nowait()
            except queue.Empty:
                return
            if req is not None and req.future.set_running_or_notify_cancel():
                req.future.set_exception(TermforgeError("the decoder was closed"))

    def _emit(self, req: _Request, new: list[int]) -> bool:
        """Append new tokens; finish the request (True) at a stop id or its token limit."""
        for t in new:
            req.tokens.append(int(t))
            if t in req.stop_ids or len(req.tokens) >= req.max_new_tokens:
                reason = "stop" if t in req.stop_ids else "length"
                self.stats["generated_tokens"] += len(req.tokens)
                req.future.set_result(Generation(list(req.tokens), reason, len(req.prompt),
                                                 time.perf_counter() - req.started))
                return True
        return False


# ------------------------------------------------------------------------------ local model
@dataclass
class ChatResult:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    dropped_messages: int = 0


class LocalModel:
    """A Qwen3 model, its tokenizer and a `BatchDecoder`: chat messages in, text out."""

    def __init__(self, model, tokenizer, *, name: str = "local", slots: int = DEFAULT_SLOTS,
                 max_context: int | None = None, chunk: int = DEFAULT_CHUNK):
        self.model, self.tokenizer, self.name = model, tokenizer, name
        cfg = model.config
        limit = int(cfg.max_position_embeddings)
        self.max_context = min(max_context or DEFAULT_MAX_CONTEXT, limit)
        eos = set()
        for tok in ("<|im_end|>", "<|endoftext|>"):
            tid = tokenizer.convert_tokens_to_ids(tok)
            if isinstance(tid, int) and tid >= 0 and tid != getattr(tokenizer, "unk_token_id", None):
                eos.add(tid)
        if tokenizer.eos_token_id is not None:
            eos.add(int(tokenizer.eos_token_id))
        if cfg.eos_token_id is not None:
            eos.update((cfg.eos_token_id,) if isinstance(cfg.eos_token_id, int) else cfg.eos_token_id)
        self.eos_ids = sorted(e for e in eos if 0 <= e < cfg.vocab_size)
        pad = tokenizer.pad_token_id
        self.decoder = BatchDecoder(model, slots=slots, max_len=self.max_context, chunk=chunk,
                                    pad_id=int(pad) if pad is not None and pad < cfg.vocab_size else 0,
                                    eos_ids=self.eos_ids)
        self._tok_lock = threading.Lock()  # HF fast tokenizers are not safe to share across threads

    def encode_chat(self, messages: list[dict[str, str]]) -> list[int]:
        with self._tok_lock:
            ids = self.tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=True)
        if hasattr(ids, "keys"):
            ids = ids["input_ids"]
        return [int(i) for i in ids]

    def fit_prompt(self, messages: list[dict[str, str]], max_tokens: int) -> tuple[list[int], int]:
        """Token ids of the longest suffix of turns that fits, always keeping the leading system
        message and first user message; (ids, number of messages dropped)."""
        budget = self.max_context - max_tokens
        if budget < 1:
            raise ConfigError(f"max_tokens {max_tokens} leaves no room for a prompt in a context of "
                              f"{self.max_context} tokens")
        ids = self.encode_chat(messages)
        if len(ids) <= budget:
            return ids, 0
        head = 0
        for m in messages:  # system messages and the first user message are pinned
            head += 1
            if m.get("role") == "user":
                break
        rest = messages[head:]
        starts = [i for i, m in enumerate(rest) if m.get("role") == "assistant"] + [len(rest)]

        def candidate(j: int) -> list[dict[str, str]]:  # drop rest[:starts[j]]: resume at an assistant turn
            return messages[:head] + rest[starts[j]:]

        lo, hi = 1, len(starts) - 1  # the fewest dropped turns that fit (token count shrinks with j)
        best: tuple[list[int], int] | None = None
        while lo <= hi:
            mid = (lo + hi) // 2
            cand = self.encode_chat(candidate(mid))
            if len(cand) <= budget:
                best, hi = (cand, starts[mid]), mid - 1
            else:
                lo = mid + 1
        if best is not None:
            return best
        # even the pinned messages are too long: keep the start and the end (generation prompt)
        ids = self.encode_chat(messages[:head] + ([rest[-1]] if rest and rest[-1].get("role") == "user" else []))
        keep_tail = min(256, budget // 2)
        return ids[: budget - keep_tail] + ids[len(ids) - keep_tail:], len(rest)

    def chat(self, messages: list[dict[str, str]], *, max_tokens: int = 512, temperature: float = 0.0,
             top_p: float = 1.0, seed: int | None = 0, stop: Sequence[str] | str | None = None) -> ChatResult:
        max_tokens = max(1, min(int(max_tokens), self.max_context - 1))
        ids, dropped = self.fit_prompt(messages, max_tokens)
        gen = self.decoder.generate(ids, max_new_tokens=max_tokens, temperature=temperature, top_p=top_p,
                                    seed=seed)
        out = [t for t in gen.tokens if t not in self.decoder.eos_ids]
        with self._tok_lock:
            text = self.tokenizer.decode(out, skip_special_tokens=True)
        reason = gen.finish_reason
        stops = [stop] if isinstance(stop, str) else list(stop or [])
        cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=-1)
        if cut >= 0:
            text, reason = text[:cut], "stop"
        return ChatResult(text, len(ids), len(gen.tokens), reason, dropped)

    def close(self) -> None:
        self.decoder.close()


def is_model_path(spec: str) -> bool:
    return Path(spec).exists()


def load_local_model(path: str | os.PathLike, *, tokenizer: str | os.PathLike | None = None,
                     slots: int = DEFAULT_SLOTS, max_context: int | None = None, chunk: int = DEFAULT_CHUNK,
                     dtype: str | None = None, name: str | None = None) -> LocalModel:
    """A termforge Orbax checkpoint or a Hugging Face Qwen3 directory, with its tokenizer."""
    from termforge.jaxtrain.config import Qwen3Config
    from termforge.jaxtrain.tokenizer import load_tokenizer

    path = Path(path)
    if not path.is_dir():
        raise ConfigError(f"{path}: model not found (give a termforge checkpoint or a Hugging Face directory)")
    if (path / "config.json").is_file():
        Qwen3Config.from_hf_json(path)  # the architecture check, before anything heavy is imported
        tok_dir = Path(tokenizer) if tokenizer else path
        tok = load_tokenizer(tok_dir)
        from termforge.jaxtrain.hf import from_pretrained

        model = from_pretrained(path, dtype=dtype)
    else:
        from termforge.jaxtrain import checkpoint

        _step, meta = checkpoint.load_meta(path)
        Qwen3Config.from_dict(meta["model_config"], source=f"{path} meta")
        tok_dir = Path(tokenizer) if tokenizer else checkpoint.tokenizer_dir(path)
        if tok_dir is None:
            raise ConfigError(f"{path}: no tokenizer next to the checkpoint (expected {path / 'tokenizer'}); "
                              "pass --tokenizer DIR")
        tok = load_tokenizer(tok_dir)
        overrides = {"param_dtype": dtype, "dtype": dtype} if dtype else {}
        model, _meta = checkpoint.restore_model(path, **overrides)
    vocab = len(tok)
    if vocab > model.config.vocab_size:
        raise ConfigError(f"{tok_dir}: tokenizer has {vocab} tokens but the model's vocabulary is "
                          f"{model.config.vocab_size}; they do not belong together")
    if getattr(tok, "chat_template", None) is None:
        raise ConfigError(f"{tok_dir}: tokenizer has no chat template")
    return LocalModel(model, tok, name=name or path.name, slots=slots, max_context=max_context, chunk=chunk)
