"""Tokenizers: train a small byte-level BPE with Qwen3's special tokens and chat template, and load
any local Hugging Face tokenizer directory (never the hub).

    train_tokenizer(["a.txt", "b.txt"], vocab_size=2048, out_dir="tok/")
    tok = load_tokenizer("tok/")          # transformers tokenizer; apply_chat_template works
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

from termforge.errors import ConfigError

ENDOFTEXT = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
SPECIAL_TOKENS = (ENDOFTEXT, IM_START, IM_END)
# Added (non-special) tokens Qwen3 uses for reasoning traces.
EXTRA_TOKENS = ("<think>", "</think>")

# Qwen2/Qwen3 pre-tokenizer split pattern.
QWEN_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# ChatML, as Qwen2.5/Qwen3: <|im_start|>role\ncontent<|im_end|>\n ... and an open assistant turn.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def build_bpe(vocab_size: int):
    """An untrained byte-level BPE `tokenizers.Tokenizer` with Qwen's normaliser/pre-tokeniser."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

    tok = Tokenizer(models.BPE(byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_SPLIT_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    return tok


def train_tokenizer(files: Sequence[str | os.PathLike] | None = None, *, vocab_size: int, out_dir: str | os.PathLike,
                    texts: Iterable[str] | None = None, min_frequency: int = 2,
                    model_max_length: int = 40960) -> dict:
    """Train a byte-level BPE on text files (and/or `texts`) and save a Hugging Face tokenizer dir."""
    import json

    from tokenizers import AddedToken, pre_tokenizers, processors, trainers

    from termforge.ui import atomic_write_json, atomic_write_text

    files = [str(f) for f in (files or [])]
    for f in files:
        if not Path(f).is_file():
            raise ConfigError(f"{f}: text file not found")
    min_vocab = 256 + len(SPECIAL_TOKENS) + len(EXTRA_TOKENS)
    if vocab_size < min_vocab:
        raise ConfigError(f"--vocab-size must be at least {min_vocab} (256 bytes + special tokens), got {vocab_size}")
    tok = build_bpe(vocab_size)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(EXTRA_TOKENS), min_frequency=min_frequency, show_progress=False,
        special_tokens=list(SPECIAL_TOKENS), initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    if texts is not None:
        def it():
            for f in files:
                with open(f, encoding="utf-8", errors="replace") as fh:
                    yield from fh
            yield from texts
        tok.train_from_iterator(it(), trainer)
    else:
        if not files:
            raise ConfigError("no training text given")
        tok.train(files, trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in EXTRA_TOKENS])
    tok.post_processor = processors.ByteLevel(trim_offsets=False)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "tokenizer.json", tok.to_str(pretty=True))
    added = {}
    for t in SPECIAL_TOKENS + EXTRA_TOKENS:
        added[str(tok.token_to_id(t))] = {"content": t, "lstrip": False, "rstrip": False, "normalized": False,
                                          "single_word": False, "special": t in SPECIAL_TOKENS}
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "added_tokens_decoder": added,
        "additional_special_tokens": [IM_START, IM_END],
        "bos_token": None,
        "eos_token": IM_END,
        "pad_token": ENDOFTEXT,
        "unk_token": None,
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "split_special_tokens": False,
        "model_max_length": model_max_length,
        "errors": "replace",
        "add_prefix_space": False,
    }
    atomic_write_json(out_dir / "tokenizer_config.json", config)
    atomic_write_json(out_dir / "special_tokens_map.json",
                      {"eos_token": IM_END, "pad_token": ENDOFTEXT, "additional_special_tokens": [IM_START, IM_END]})
    return {"out_dir": str(out_dir), "vocab_size": tok.get_vocab_size(),
            "special_tokens": {t: tok.token_to_id(t) for t in SPECIAL_TOKENS}}


def load_tokenizer(path: str | os.PathLike):
    """A transformers tokenizer from a local directory (offline; no hub access)."""
    path = Path(path)
    if not path.is_dir() or not any((path / n).exists() for n in ("tokenizer.json", "tokenizer_config.json", "vocab.json")):
        raise ConfigError(f"{path}: not a tokenizer directory (no tokenizer.json / tokenizer_config.json)")
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot load tokenizer ({' '.join(str(exc).split())[:300]})") from None
