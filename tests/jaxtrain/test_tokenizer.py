"""Training a Qwen-style BPE and loading it with transformers (offline)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from termforge.errors import TermforgeError
from termforge.jaxtrain.tokenizer import CHAT_TEMPLATE, IM_END, IM_START, load_tokenizer, train_tokenizer


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory, small_text):
    d = tmp_path_factory.mktemp("tok")
    info = train_tokenizer([small_text], vocab_size=400, out_dir=d)
    assert info["vocab_size"] <= 400
    return d


def test_autotokenizer_loads_and_chat_template(tok_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tok_dir, local_files_only=True)
    msgs = [{"role": "system", "content": "You are a terminal agent."},
            {"role": "user", "content": "list files"},
            {"role": "assistant", "content": '{"commands": []}'}]
    text = tok.apply_chat_template(msgs, tokenize=False)
    assert text == ("<|im_start|>system\nYou are a terminal agent.<|im_end|>\n"
                    "<|im_start|>user\nlist files<|im_end|>\n"
                    '<|im_start|>assistant\n{"commands": []}<|im_end|>\n')
    prompt = tok.apply_chat_template(msgs[:2], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n")
    ids = tok.apply_chat_template(msgs[:2], add_generation_prompt=True, tokenize=True)
    ids = ids["input_ids"] if hasattr(ids, "keys") else ids
    assert ids[0] == tok.convert_tokens_to_ids(IM_START)
    assert ids.count(tok.convert_tokens_to_ids(IM_END)) == 2  # special tokens are single ids
    assert tok.decode(ids) == prompt
    assert tok.eos_token == IM_END and tok.pad_token == "<|endoftext|>"


def test_byte_level_round_trip(tok_dir):
    tok = load_tokenizer(tok_dir)
    for text in ["ls -la /tmp && echo 'done 3'", "unicode: héllo wörld ✓ 日本", "  two  spaces\n\ttab"]:
        ids = tok(text)["input_ids"]
        assert tok.decode(ids) == text
    # merges were learned: a frequent word is one or two tokens, not one per byte
    assert len(tok("echo")["input_ids"]) <= 2


def test_bad_inputs(tmp_path):
    with pytest.raises(TermforgeError, match="vocab-size must be at least"):
        train_tokenizer([], vocab_size=10, out_dir=tmp_path / "x")
    with pytest.raises(TermforgeError, match="text file not found"):
        train_tokenizer([tmp_path / "nope.txt"], vocab_size=300, out_dir=tmp_path / "x")
    with pytest.raises(TermforgeError, match="not a tokenizer directory"):
        load_tokenizer(tmp_path)


def test_cli_tokenizer(tmp_path, small_text):
    exe = str(Path(sys.executable).parent / "termforge")
    out = tmp_path / "cli_tok"
    res = subprocess.run([exe, "tokenizer", str(small_text), "--vocab-size", "320", "--out", str(out)],
                         capture_output=True, text=True, env=dict(os.environ, COLUMNS="300"), timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("tokenizer -> ") and res.stdout.count("\n") == 1
    tok = load_tokenizer(out)
    assert tok.chat_template == CHAT_TEMPLATE
