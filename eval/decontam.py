"""Decontamination check: does a task's instruction overlap the training corpus?

`CorpusIndex` holds hashed word n-grams (lower-cased word/punctuation tokens, n = 8 by default)
of every training text; `overlap(text)` is the share of the text's n-grams found in it. A task
whose instruction shares at least `threshold` (default 0.5) of its n-grams gets a warning and is
listed in the report (the run itself is not changed).

`--corpus-index FILE` accepts:
- an index JSON written by `CorpusIndex.save` (`{"schema": "termforge.ngram-index/1", ...}`);
- a JSONL file: trajectory records (their user messages) or objects with "instruction"/"text";
- a shard-set directory (manifest.json + ArrayRecord shards of trajectory records);
- a folder of task directories (their instructions), or any plain text file (one document).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from termforge.errors import ConfigError

INDEX_SCHEMA = "termforge.ngram-index/1"
_TOKEN = re.compile(r"[A-Za-z0-9_]+|[^\sA-Za-z0-9_]")
_TASK_PREFIX = re.compile(r"^Task:\n(.*?)\n\nCurrent terminal state:", re.S)


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def ngram_hashes(text: str, n: int) -> set[int]:
    toks = tokens(text)
    if len(toks) < n:
        grams = [" ".join(toks)] if toks else []
    else:
        grams = [" ".join(toks[i:i + n]) for i in range(len(toks) - n + 1)]
    return {int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "little") for g in grams}


@dataclass
class CorpusIndex:
    n: int = 8
    hashes: set[int] = field(default_factory=set)
    documents: int = 0

    def add(self, text: str) -> None:
        self.hashes |= ngram_hashes(text, self.n)
        self.documents += 1

    def overlap(self, text: str) -> float:
        grams = ngram_hashes(text, self.n)
        if not grams:
            return 0.0
        return len(grams & self.hashes) / len(grams)

    def save(self, path: str | Path) -> None:
        from termforge.ui import atomic_write_text

        atomic_write_text(path, json.dumps({"schema": INDEX_SCHEMA, "n": self.n, "documents": self.documents,
                                            "hashes": sorted(self.hashes)}))

    @classmethod
    def load(cls, path: str | Path, n: int = 8) -> "CorpusIndex":
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"--corpus-index {path}: no such file or directory")
        if path.is_dir():
            idx = cls(n=n)
            for text in _dir_texts(path):
                idx.add(text)
            if not idx.documents:
                raise ConfigError(f"--corpus-index {path}: neither a shard set nor a folder of tasks")
            return idx
        raw = path.read_text(encoding="utf-8", errors="replace")
        stripped = raw.lstrip()
        if stripped.startswith("{") and f'"{INDEX_SCHEMA}"' in stripped[:200]:
            try:
                obj = json.loads(raw)
                return cls(n=int(obj["n"]), hashes=set(map(int, obj["hashes"])), documents=int(obj["documents"]))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                raise ConfigError(f"--corpus-index {path}: a damaged n-gram index") from None
        idx = cls(n=n)
        if path.suffix == ".jsonl":
            for line_no, line in enumerate(raw.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    raise ConfigError(f"--corpus-index {path}:{line_no}: not JSON") from None
                for text in record_texts(obj):
                    idx.add(text)
        else:
            idx.add(raw)
        return idx


def record_texts(obj) -> Iterator[str]:
    """Training text of one JSON object: a trajectory's task instructions and user turns, or
    the fields instruction/text/prompt/content."""
    if not isinstance(obj, dict):
        return
    msgs = obj.get("messages") or obj.get("conversations")
    if isinstance(msgs, list):
        for m in msgs:
            if isinstance(m, dict) and m.get("role", m.get("from")) in ("user", "human"):
                content = str(m.get("content", m.get("value", "")))
                hit = _TASK_PREFIX.match(content)
                yield hit.group(1) if hit else content
    for key in ("instruction", "text", "prompt", "content"):
        if isinstance(obj.get(key), str):
            yield obj[key]


def _dir_texts(path: Path) -> Iterable[str]:
    if (path / "manifest.json").is_file():
        try:
            from array_record.python.array_record_module import ArrayRecordReader
        except ImportError:  # pragma: no cover
            raise ConfigError("reading a shard set needs array_record") from None
        for shard in sorted(path.glob("part-*.array_record")):
            reader = ArrayRecordReader(str(shard), "readahead_buffer_size:0")
            try:
                for i in range(reader.num_records()):
                    try:
                        yield from record_texts(json.loads(reader.read([i])[0]))
                    except (json.JSONDecodeError, UnicodeDecodeError):
                        continue
            finally:
                reader.close()
        return
    for inst in sorted(path.rglob("instruction.md")):
        yield inst.read_text(encoding="utf-8", errors="replace")
    for jl in sorted(path.glob("*.jsonl")):
        for line in jl.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                yield from record_texts(json.loads(line))
            except json.JSONDecodeError:
                continue


def check_tasks(tasks, index: CorpusIndex, threshold: float = 0.5) -> list[dict]:
    """[{task, overlap}] for each task whose instruction overlaps the corpus at least `threshold`."""
    flagged = []
    for t in tasks:
        ov = index.overlap(t.instruction)
        if ov >= threshold:
            flagged.append({"task": t.name, "overlap": round(ov, 4)})
    return flagged
