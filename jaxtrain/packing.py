"""Rendering chats into training examples and packing them into fixed [rows, seq_len] batches.

An *example* is one conversation rendered with the tokenizer's chat template:

    tokens   [n]  int32   the rendered ids
    mask     [n]  uint8   1 on assistant tokens: each assistant message's content and its
                          closing <|im_end|> (never the `<|im_start|>assistant\\n` header)

For training it becomes next-token triples of length n - 1 (`inputs = tokens[:-1]`,
`targets = tokens[1:]`, `weights = mask[1:]`), so a packed sequence never predicts across its
boundary. A *batch* packs several triples per row (first fit):

    inputs, targets  [rows, seq_len] int32   (pad_id where empty)
    weights          [rows, seq_len] float32 (0 on padding and non-assistant targets)
    segment_ids      [rows, seq_len] int32   1, 2, ... per packed sequence; 0 = padding
    positions        [rows, seq_len] int32   restart at 0 in every segment

`PackedBatchIterator` is a Grain `DatasetIterator` whose state is tiny and exact: the parent's
state plus, for each sequence carried over to the next batch, the parent state just before it.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np

from termforge.errors import ConfigError

IM_END = "<|im_end|>"


# --------------------------------------------------------------------------- rendering
def assistant_spans(text: str, messages: Sequence[dict], end_marker: str = IM_END) -> list[tuple[int, int]]:
    """Character spans [start, end) of each assistant content plus its end marker in `text`.

    Messages are located in order: each content is found (followed by the end marker) after the
    previous one, so a content equal to a role name or to an earlier message cannot be confused.
    """
    spans = []
    cursor = 0
    for i, m in enumerate(messages):
        content = m["content"]
        needle = content + end_marker
        at = text.find(needle, cursor)
        if at < 0:
            raise ConfigError(f"chat template output does not contain message {i} ({m['role']}) followed by "
                              f"{end_marker}: the tokenizer's chat template is not ChatML-like")
        end = at + len(needle)
        if m["role"] == "assistant":
            spans.append((at, end))
        cursor = end
    return spans


def render_chat(tokenizer, messages: Sequence[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(tokens [n] int32, mask [n] uint8) for `messages` rendered by `apply_chat_template`.

    A token is in the mask when its characters overlap an assistant span (content + <|im_end|>).
    """
    msgs = [{"role": m["role"], "content": m["content"]} for m in messages]
    text = tokenizer.apply_chat_template(msgs, tokenize=False)
    spans = assistant_spans(text, msgs)
    enc = tokenizer.backend_tokenizer.encode(text, add_special_tokens=False)
    ids = np.asarray(enc.ids, dtype=np.int32)
    offsets = np.asarray(enc.offsets, dtype=np.int64).reshape(-1, 2)  # [n, 2] char start/end
    mask = np.zeros(len(ids), dtype=np.uint8)
    for a, b in spans:
        mask |= ((offsets[:, 0] < b) & (offsets[:, 1] > a)).astype(np.uint8)
    return ids, mask


def to_triples(tokens: np.ndarray, mask: np.ndarray, seq_len: int, overlength: str) -> dict | None:
    """Next-token example of at most `seq_len` positions, or None (dropped / nothing to learn)."""
    n = len(tokens) - 1
    if n > seq_len:
        if overlength == "drop":
            return None
        tokens, mask = tokens[: seq_len + 1], mask[: seq_len + 1]
    weights = mask[1:]
    if len(tokens) < 2 or not weights.any():
        return None
    return {"inputs": tokens[:-1], "targets": tokens[1:], "weights": weights}


# --------------------------------------------------------------------------- packing
def pack_rows(examples: Sequence[dict], rows: int, seq_len: int, pad_id: int = 0) -> dict[str, np.ndarray]:
    """Lay out already-assigned examples: `examples[i]["row"]` says which row each goes to."""
    out = {
        "inputs": np.full((rows, seq_len), pad_id, np.int32),
        "targets": np.full((rows, seq_len), pad_id, np.int32),
        "weights": np.zeros((rows, seq_len), np.float32),
        "segment_ids": np.zeros((rows, seq_len), np.int32),
        "positions": np.zeros((rows, seq_len), np.int32),
    }
    fill = [0] * rows
    seg = [0] * rows
    seq_sq = 0
    for ex in examples:
        r = ex["row"]
        n = len(ex["inputs"])
        a, b = fill[r], fill[r] + n
        assert b <= seq_len, (b, seq_len)
        seg[r] += 1
        out["inputs"][r, a:b] = ex["inputs"]
        out["targets"][r, a:b] = ex["targets"]
        out["weights"][r, a:b] = ex["weights"]
        out["segment_ids"][r, a:b] = seg[r]
        out["positions"][r, a:b] = np.arange(n, dtype=np.int32)
        fill[r] = b
        seq_sq += n * n
    out["stats"] = np.asarray([sum(fill), int(out["weights"].sum()), len(examples), seq_sq], np.int64)
    return out


STATS = ("tokens", "loss_tokens", "sequences", "seq_len_sq")  # order of batch["stats"]


def first_fit(lengths: Sequence[int], rows: int, seq_len: int) -> list[int | None]:
    """Row for each length by first fit (None: fits nowhere); for tests and the benchmark."""
    free = [seq_len] * rows
    out: list[int | None] = []
    for n in lengths:
        for r in range(rows):
            if free[r] >= n:
                free[r] -= n
                out.append(r)
                break
        else:
            out.append(None)
    return out


def _grain_iterator_base():
    import grain

    return grain.DatasetIterator


class PackedBatchIterator(_grain_iterator_base()):
    """First-fit packing of a parent iterator of examples into [rows, seq_len] batches.

    A batch is closed when `lookahead` sequences in a row did not fit any row (or every row is
    full); those sequences open the next batch, in order. Exact resume: the state is the
    parent's state plus the parent state before each carried sequence, which is re-read on
    `set_state`.
    """

    def __init__(self, parent, rows: int, seq_len: int, *, lookahead: int = 8, pad_id: int = 0):
        super().__init__(parent)
        self.rows, self.seq_len, self.pad_id = rows, seq_len, pad_id
        self.lookahead = max(1, lookahead)
        self._carry: list[tuple[Any, dict]] = []  # (parent state before it, example)
        self._exhausted = False

    def _read(self) -> tuple[Any, dict] | None:
        state = self._parent.get_state()
        try:
            ex = next(self._parent)
        except StopIteration:
            return None
        n = len(ex["inputs"])
        if n > self.seq_len:
            raise ValueError(f"example of {n} positions exceeds seq_len {self.seq_len}")
        return state, ex

    def __next__(self) -> dict[str, np.ndarray]:
        free = [self.seq_len] * self.rows
        placed: list[dict] = []
        misfits: list[tuple[Any, dict]] = []

        def place(ex: dict) -> bool:
            n = len(ex["inputs"])
            for r in range(self.rows):
                if free[r] >= n:
                    free[r] -= n
                    placed.append(dict(ex, row=r))
                    return True
            return False

        pending, self._carry = self._carry, []
        for state, ex in pending:
            if not place(ex):
                misfits.append((state, ex))
        while len(misfits) < self.lookahead and max(free) > 0 and not self._exhausted:
            item = self._read()
            if item is None:
                self._exhausted = True
                break
            if not place(item[1]):
                misfits.append(item)
        if not placed:
            if misfits:  # cannot happen: an example always fits an empty batch
                raise AssertionError("packing made no progress")
            raise StopIteration
        self._carry = misfits
        return pack_rows(placed, self.rows, self.seq_len, self.pad_id)

    def get_state(self) -> dict[str, Any]:
        return {"parent": self._parent.get_state(), "carry": [s for s, _ in self._carry],
                "exhausted": self._exhausted}

    def set_state(self, state: dict[str, Any]) -> None:
        carry = []
        for s in state["carry"]:
            self._parent.set_state(s)
            carry.append((s, next(self._parent)))
        self._parent.set_state(state["parent"])
        self._carry = carry
        self._exhausted = bool(state.get("exhausted", False))


def _python_iterator(examples: Iterator[dict]):
    """A Grain DatasetIterator over a plain Python iterator (read lazily; not restorable)."""
    import grain

    class _PyIter(grain.DatasetIterator):
        def __init__(self, it):
            super().__init__()
            self._it, self._n = iter(it), 0

        def __next__(self):
            item = next(self._it)
            self._n += 1
            return item

        def get_state(self):
            return {"consumed": self._n}

        def set_state(self, state):
            raise NotImplementedError("a plain Python iterator cannot be restored")

    return _PyIter(examples)


def iter_packed(examples: Iterator[dict], rows: int, seq_len: int, pad_id: int = 0,
                lookahead: int = 8) -> Iterator[dict[str, np.ndarray]]:
    """Packing of a plain Python iterator, read lazily (no resumable state): for tests and eval."""
    yield from PackedBatchIterator(_python_iterator(examples), rows, seq_len, lookahead=lookahead, pad_id=pad_id)
