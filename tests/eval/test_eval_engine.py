"""The in-process backend: batching decoder (exact, deterministic per seed whatever the batch),
context truncation, model loading and its errors."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from termforge.errors import ConfigError, TermforgeError
from termforge.executor.agent import SYSTEM_PROMPT

from eval_helpers import tiny_checkpoint, tiny_lm, tiny_model_dirs


def conv(i: int, words: int = 5):
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Task:\nCreate /app/file{i}.txt " + "ls -la /app " * words}]


def test_greedy_matches_reference_sampler():
    from termforge.jaxtrain.sampler import generate

    lm = tiny_lm()
    prompts = [lm.encode_chat(conv(i, 2 + i)) for i in range(3)]
    ref = generate(lm.model, prompts, 12, eos_ids=lm.eos_ids, pad_id=0)
    with ThreadPoolExecutor(3) as ex:  # decoded together
        got = list(ex.map(lambda p: lm.decoder.generate(p, max_new_tokens=12, temperature=0.0).tokens, prompts))
    assert got == ref
    assert len({tuple(r) for r in ref}) > 1  # the prompts do lead somewhere different


def test_sampling_is_a_function_of_the_seed_only():
    """Same seed -> same text alone, in a concurrent batch, or with a different number of slots."""
    from termforge.eval.engine import LocalModel

    lm = tiny_lm()
    kw = dict(max_tokens=24, temperature=0.9, top_p=0.95)
    alone = [lm.chat(conv(i), seed=100 + i, **kw).text for i in range(4)]
    with ThreadPoolExecutor(4) as ex:
        together = list(ex.map(lambda i: lm.chat(conv(i), seed=100 + i, **kw).text, [3, 1, 0, 2]))
    assert together == [alone[3], alone[1], alone[0], alone[2]]
    assert lm.chat(conv(0), seed=999, **kw).text != alone[0]
    other = LocalModel(lm.model, lm.tokenizer, slots=1, max_context=1024, chunk=5)
    try:
        assert [other.chat(conv(i), seed=100 + i, **kw).text for i in range(2)] == alone[:2]
    finally:
        other.close()


def test_context_truncation_keeps_system_and_first_user():
    lm = tiny_lm()
    msgs = conv(0)
    for t in range(40):
        msgs += [{"role": "assistant", "content": f"turn {t} " + "x y z " * 20},
                 {"role": "user", "content": f"observation {t} " + "a b c " * 20}]
    full = len(lm.encode_chat(msgs))
    assert full > lm.max_context
    ids, dropped = lm.fit_prompt(msgs, 64)
    assert len(ids) <= lm.max_context - 64 and dropped > 0 and dropped % 2 == 0
    assert len(lm.encode_chat(msgs[:2] + msgs[dropped:])) > lm.max_context - 64  # dropped no more than needed
    kept = msgs[:2] + msgs[2 + dropped:]
    assert ids == lm.encode_chat(kept) and kept[-1]["content"].startswith("observation 39")
    r = lm.chat(msgs, max_tokens=64, seed=1)
    assert r.dropped_messages == dropped and r.prompt_tokens == len(ids)


def test_stop_strings_and_limits():
    lm = tiny_lm()
    r = lm.chat(conv(1), max_tokens=20, temperature=0.9, seed=5)
    assert r.completion_tokens <= 20 and r.finish_reason in ("stop", "length")
    if len(r.text) > 3:
        stop = r.text[2:4]
        s = lm.chat(conv(1), max_tokens=20, temperature=0.9, seed=5, stop=[stop])
        assert s.text == r.text[: r.text.find(stop)] and s.finish_reason == "stop"
    with pytest.raises(ConfigError):
        lm.decoder.generate([1] * 1000, max_new_tokens=100)  # longer than the context


def test_orbax_checkpoint_loads_same_model():
    from termforge.eval.engine import load_local_model

    lm = tiny_lm()
    ck = load_local_model(tiny_checkpoint(), slots=4, max_context=1024, chunk=8)
    try:
        assert ck.name == "ckpt" and ck.tokenizer.get_vocab() == lm.tokenizer.get_vocab()
        kw = dict(max_tokens=10, temperature=0.9, seed=3)
        assert ck.chat(conv(2), **kw).text == lm.chat(conv(2), **kw).text
    finally:
        ck.close()


def test_bad_models(tmp_path):
    from termforge.eval.backends import parse_model_spec
    from termforge.eval.engine import load_local_model

    dirs = tiny_model_dirs()
    llama = tmp_path / "llama"
    shutil.copytree(dirs["hf"], llama)
    cfg = json.loads((llama / "config.json").read_text())
    cfg.update(model_type="llama", architectures=["LlamaForCausalLM"])
    (llama / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match="not a Qwen3 causal LM"):
        load_local_model(llama)
    no_tok = tmp_path / "ckpt-no-tok"
    shutil.copytree(tiny_checkpoint(), no_tok)
    shutil.rmtree(no_tok / "tokenizer")
    with pytest.raises(ConfigError, match="no tokenizer"):
        load_local_model(no_tok)
    with pytest.raises(ConfigError, match="no checkpoint steps|not found"):
        load_local_model(tmp_path)
    with pytest.raises(ConfigError, match="no such checkpoint"):
        parse_model_spec(str(tmp_path / "missing"))
    with pytest.raises(TermforgeError):
        parse_model_spec("openai:ftp://x")
