"""The Grain input pipeline of SFT training: shard sets -> chat-rendered, masked, packed batches.

Per curriculum stage and per *reader* r of R (R = data.num_readers, default the process count):

    MapDataset.source(shards_k).shuffle(seed_k).repeat()        each shard set k, reshuffled per epoch
      -> MapDataset.mix([...], weights)                         mixture by weight
      -> [r::R]                                                 this reader's share of the records
      -> .map(render)                                           parse record, stage filter, chat
                                                                template, assistant mask, overlength
      -> .to_iter_dataset(ReadOptions(threads, prefetch))       Nones (filtered) dropped
      -> PackedBatchIterator(rows = batch_size / R, seq_len)    first-fit packing

The global batch is reader 0's rows, then reader 1's, ...; a process runs only the readers
whose rows land on its devices, so R fixed => the same global batches on 1 or N processes and
on any mesh. `StageLoader.get_state()` is JSON and restores exactly.
"""

from __future__ import annotations

import dataclasses
import json
import queue
import threading
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from termforge.errors import ConfigError
from termforge.jaxtrain.packing import PackedBatchIterator, iter_packed, render_chat, to_triples
from termforge.jaxtrain.train_config import DataConfig, Stage, StageFilter

BATCH_KEYS = ("inputs", "targets", "weights", "segment_ids", "positions")


def _turns(messages: Sequence[dict]) -> int:
    return sum(m.get("role") == "assistant" for m in messages)


def passes_filter(f: StageFilter, turns: int, n_tokens: int | None = None) -> bool:
    if f.min_assistant_turns is not None and turns < f.min_assistant_turns:
        return False
    if f.max_assistant_turns is not None and turns > f.max_assistant_turns:
        return False
    if n_tokens is not None:
        if f.min_tokens is not None and n_tokens < f.min_tokens:
            return False
        if f.max_tokens is not None and n_tokens > f.max_tokens:
            return False
    return True


class RenderRecord:
    """Record bytes -> next-token example dict, or None (filtered, dropped, nothing to learn)."""

    def __init__(self, tokenizer, seq_len: int, overlength: str, flt: StageFilter | None = None,
                 vocab_size: int | None = None, give_up_after: int | None = None, stage: str = ""):
        self.tokenizer, self.seq_len, self.overlength = tokenizer, seq_len, overlength
        self.filter = flt or StageFilter()
        self.vocab_size = vocab_size
        self.give_up_after, self.stage = give_up_after, stage
        self._misses = 0  # records rejected in a row (the sources repeat forever: without this, a
        #                   stage whose filter rejects every record would wait for a batch forever)

    def __call__(self, raw: bytes | str) -> dict | None:
        example = self._render(raw)
        if example is not None:
            self._misses = 0
        elif self.give_up_after is not None:
            self._misses += 1
            if self._misses >= self.give_up_after:
                raise ConfigError(f"stage {self.stage!r}: {self._misses} records in a row were filtered out or "
                                  f"dropped (filter {_bounds(self.filter)}, seq_len {self.seq_len}, overlength "
                                  f"{self.overlength!r}): no record of the shard sets passes; check the stage "
                                  "filter, seq_len and data.overlength")
        return example

    def _render(self, raw: bytes | str) -> dict | None:
        obj = json.loads(raw)
        messages = obj["messages"]
        if not passes_filter(self.filter, _turns(messages)):
            return None
        tokens, mask = render_chat(self.tokenizer, messages)
        if not passes_filter(self.filter, _turns(messages), len(tokens)):
            return None
        if self.vocab_size is not None and len(tokens) and int(tokens.max()) >= self.vocab_size:
            raise ConfigError(f"token id {int(tokens.max())} >= the model's vocab_size {self.vocab_size}: "
                              "tokenizer and model do not match")
        return to_triples(tokens, mask, self.seq_len, self.overlength)


def _bounds(f: StageFilter) -> str:
    set_ = {k: v for k, v in dataclasses.asdict(f).items() if v is not None}
    return ", ".join(f"{k}={v}" for k, v in set_.items()) or "none"


def stage_seed(data: DataConfig, stage_index: int, set_index: int = 0) -> int:
    return (data.seed * 1_000_003 + stage_index * 7919 + set_index * 104_729) % (2**32)


def record_dataset(sources: Sequence[Any], weights: Sequence[float], *, seed_fn: Callable[[int], int],
                   shuffle: bool = True, repeat: bool = True):
    """A Grain MapDataset of record bytes: each source shuffled (per epoch) and repeated, then mixed."""
    import grain

    parts = []
    for k, src in enumerate(sources):
        ds = grain.MapDataset.source(src)
        if shuffle:
            ds = ds.shuffle(seed=seed_fn(k))
        if repeat:
            ds = ds.repeat()
        parts.append(ds)
    if len(parts) == 1:
        return parts[0]
    return grain.MapDataset.mix(parts, weights=list(weights))


def make_reader(sources: Sequence[Any], weights: Sequence[float], render: RenderRecord, *, reader: int,
                num_readers: int, rows: int, seq_len: int, seed_fn: Callable[[int], int], read_threads: int = 2,
                prefetch: int = 64, lookahead: int = 8, pad_id: int = 0, shuffle: bool = True,
                repeat: bool = True, workers: int = 0) -> PackedBatchIterator:
    """One reader's packed batch iterator (see the module docstring).

    workers > 0 renders in that many Grain worker processes (`mp_prefetch`); the order depends on
    the worker count, so keep it when resuming.
    """
    import grain

    ds = record_dataset(sources, weights, seed_fn=seed_fn, shuffle=shuffle, repeat=repeat)
    ds = ds[reader::num_readers].map(render)
    opts = grain.ReadOptions(num_threads=read_threads, prefetch_buffer_size=max(prefetch, 1) if read_threads else 0)
    ids = ds.to_iter_dataset(opts)
    if workers > 0:
        from absl import flags

        if not flags.FLAGS.is_parsed():  # grain reads absl flags; outside absl.app.run they are unparsed
            flags.FLAGS.mark_as_parsed()
        ids = ids.mp_prefetch(grain.MultiprocessingOptions(num_workers=workers))
    it = iter(ids)
    return PackedBatchIterator(it, rows, seq_len, lookahead=lookahead, pad_id=pad_id)


class StageLoader:
    """Global batches [batch_size, seq_len] of one curriculum stage, built from this process's readers.

    Rows of readers this process does not run stay zero (padding): `jax.make_array_from_callback`
    only reads the rows that land on local devices.
    """

    def __init__(self, data: DataConfig, stage: Stage, shard_sets: Sequence[Any], tokenizer, *,
                 num_readers: int, local_readers: Iterable[int] | None = None, vocab_size: int | None = None,
                 pad_id: int = 0):
        if stage.batch_size % num_readers:
            raise ConfigError(f"stage {stage.name!r}: batch_size {stage.batch_size} is not divisible by "
                              f"{num_readers} readers")
        self.stage, self.num_readers = stage, num_readers
        self.rows_per_reader = stage.batch_size // num_readers
        self.local_readers = sorted(range(num_readers) if local_readers is None else set(local_readers))
        sources = [s.data_source() for s in shard_sets]
        weights = [spec.weight for spec in data.shards]
        total = sum(len(src) for src in sources)  # one epoch: twice that many misses in a row = none passes
        render = RenderRecord(tokenizer, stage.seq_len, data.overlength, stage.filter, vocab_size,
                              give_up_after=2 * total + 16, stage=stage.name)
        self.readers = {
            r: make_reader(sources, weights, render, reader=r, num_readers=num_readers, rows=self.rows_per_reader,
                           seq_len=stage.seq_len, seed_fn=lambda k: stage_seed(data, stage.index, k),
                           read_threads=data.read_threads, prefetch=data.prefetch, lookahead=data.pack_lookahead,
                           pad_id=pad_id, workers=data.workers)
            for r in self.local_readers
        }

    def __iter__(self):
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        B, L, R = self.stage.batch_size, self.stage.seq_len, self.rows_per_reader
        out = {k: np.zeros((B, L), np.float32 if k == "weights" else np.int32) for k in BATCH_KEYS}
        stats = np.zeros(4, np.int64)
        for r, it in self.readers.items():
            try:
                b = next(it)
            except StopIteration:
                raise ConfigError(f"stage {self.stage.name!r}: no training records left (every record filtered "
                                  "out or dropped? check the stage filter and data.overlength)") from None
            for k in BATCH_KEYS:
                out[k][r * R:(r + 1) * R] = b[k]
            stats += b["stats"]
        out["stats"] = stats  # this process's readers only
        return out

    def close(self) -> None:
        """Stop Grain's threads and worker processes."""
        for it in self.readers.values():
            it.close()

    def get_state(self) -> dict[str, Any]:
        return {"stage": self.stage.index, "num_readers": self.num_readers,
                "readers": {str(r): it.get_state() for r, it in self.readers.items()}}

    def set_state(self, state: dict[str, Any]) -> None:
        if state.get("num_readers") != self.num_readers:
            raise ConfigError(f"data iterator state has {state.get('num_readers')} readers, this run "
                              f"{self.num_readers}: keep data.num_readers when resuming")
        for r, it in self.readers.items():
            if str(r) not in state["readers"]:
                raise ConfigError(f"data iterator state has no reader {r} (resumed on a different process "
                                  "layout? keep the process count when resuming)")
            it.set_state(state["readers"][str(r)])


class Prefetcher:
    """Runs a loader in a background thread: yields (batch, loader state after that batch)."""

    _DONE = object()

    def __init__(self, loader, depth: int = 2):
        self.loader = loader
        self._q: queue.Queue = queue.Queue(maxsize=max(depth, 1))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="termforge-prefetch")
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                batch = next(self.loader)
                item = (batch, self.loader.get_state())
                while not self._stop.is_set():
                    try:
                        self._q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._q.put((self._DONE, exc))

    def __iter__(self):
        return self

    def __next__(self):
        batch, state = self._q.get()
        if batch is self._DONE:
            raise state if not isinstance(state, StopIteration) else StopIteration
        return batch, state

    def close(self) -> None:
        self._stop.set()
        try:
            while True:
                self._q.get_nowait()
        except queue.Empty:
            pass
        self._thread.join(timeout=5)
        if not self._thread.is_alive() and hasattr(self.loader, "close"):
            self.loader.close()


def eval_batches(shard_sets: Sequence[Any], tokenizer, *, seq_len: int, batch_size: int, num_batches: int,
                 overlength: str, vocab_size: int | None = None, pad_id: int = 0) -> list[dict[str, np.ndarray]]:
    """The first `num_batches` packed batches of the held-out shard sets, in stored order."""
    render = RenderRecord(tokenizer, seq_len, overlength, None, vocab_size)

    def examples():
        for ss in shard_sets:
            for raw in ss.data_source():
                ex = render(raw)
                if ex is not None:
                    yield ex

    out = []
    for batch in iter_packed(examples(), batch_size, seq_len, pad_id=pad_id):
        out.append(batch)
        if len(out) >= num_batches:
            break
    if not out:
        raise ConfigError("data.eval_shards: no usable held-out records")
    return out


def loader_throughput(loader, n_batches: int) -> dict[str, float]:
    """Tokens/s the loader produces on its own (for benchmarks/train.py)."""
    import time

    next(loader)  # warm-up: thread pools, first reads
    t0 = time.perf_counter()
    tokens = slots = 0
    for _ in range(n_batches):
        b = next(loader)
        tokens += int(b["stats"][0])
        slots += b["inputs"].size
    dt = time.perf_counter() - t0
    return {"tokens_per_s": tokens / dt, "padding_efficiency": tokens / max(slots, 1), "seconds": dt}
