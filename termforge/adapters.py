"""Corpus adapters: Nemotron-Terminal-Corpus rows in, trajectory records out, and back.

Import reads JSONL (``.jsonl``, ``.json``, optionally ``.gz``) or Parquet files already on
disk. A row in the Nemotron-Terminal-Corpus layout (``messages`` [{role, content}],
``trajectory_id``, ``task_group_id``, ``model_name``, ``subset``, ``domain``, ``n_tokens``;
optionally ``task_id``, ``reward``, ``skills``, ``difficulty``) becomes a
`TrajectoryRecord` with source "adapter":

* ``trajectory_id`` missing → ``msg-`` + the first 32 hex digits of the sha256 of the
  canonical JSON of the messages (stable across runs and machines);
* ``task_id`` missing → ``task_group_id``; ``task_group_id`` missing → ``task_id``, else the
  trajectory id's prefix before ``__`` (Nemotron ids look like ``task_8717__BP52K9X``);
* ``domain`` as given (math, code, swe, or the skill-based category); ``skills`` as given,
  else ``[domain]``;
* ``difficulty`` as given, else from ``subset`` (``skill_based_easy`` → easy, ...) or from
  a ``skill_based/<difficulty>/`` folder in the file's path, else "unknown";
* ``reward`` as given, else ``default_reward`` (the released corpus has no reward column);
* OpenAI-style content parts are joined; ShareGPT ``conversations``/``from``/``value`` and
  ``human``/``gpt`` roles are accepted.

A row that already is a termforge record (``"schema": "termforge.trajectory/1"``, e.g. an
export of ours) is read as-is, so export → import round-trips exactly.

Export writes records as JSONL or Parquet (pyarrow) with the record's own field names, which
`datasets.load_dataset("json"|"parquet", data_files=...)` loads.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from termforge.errors import TermforgeError
from termforge.records import SCHEMA as RECORD_SCHEMA
from termforge.records import RecordError, TrajectoryRecord

JSONL_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz")
PARQUET_SUFFIXES = (".parquet",)
_DIFFICULTIES = ("easy", "medium", "hard", "mixed")
_ROLE_ALIASES = {"human": "user", "gpt": "assistant", "model": "assistant", "bot": "assistant"}


class AdapterError(TermforgeError):
    """A corpus file that cannot be imported or exported."""


def _suffix_kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    return None


def corpus_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Expand files and directories (searched recursively, sorted) into JSONL/Parquet files."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.is_file() and _suffix_kind(q))
            if not found:
                raise AdapterError(f"{p}: no .jsonl/.json/.parquet files in this directory")
            out.extend(found)
        elif p.is_file():
            if _suffix_kind(p) is None:
                raise AdapterError(f"{p}: unknown corpus format (expected .jsonl, .json or .parquet)")
            out.append(p)
        else:
            raise AdapterError(f"{p}: no such file or directory")
    return out


# ----------------------------------------------------------------------------- reading rows


def iter_rows(path: str | os.PathLike) -> Iterator[tuple[Any, str]]:
    """(row, where) pairs of a JSONL or Parquet file; `where` is ``file:line`` / ``file:row N``."""
    path = Path(path)
    kind = _suffix_kind(path)
    if kind == "parquet":
        yield from _iter_parquet(path)
    elif kind == "jsonl":
        yield from _iter_jsonl(path)
    else:
        raise AdapterError(f"{path}: unknown corpus format (expected .jsonl, .json or .parquet)")


def _iter_jsonl(path: Path) -> Iterator[tuple[Any, str]]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        f = opener(path, "rb")
    except OSError as exc:
        raise AdapterError(f"{path}: cannot read ({exc.strerror})") from None
    with f:
        try:
            for lineno, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                where = f"{path}:{lineno}"
                try:
                    yield json.loads(raw), where
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    raise RecordError(f"{where}: not UTF-8 JSON ({exc})") from None
        except (OSError, EOFError) as exc:  # a truncated .gz
            raise AdapterError(f"{path}: read error ({exc})") from None


def _iter_parquet(path: Path) -> Iterator[tuple[Any, str]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise AdapterError(f"{path}: not a readable Parquet file ({exc})") from None
    i = 0
    try:
        for batch in pf.iter_batches(batch_size=256):
            for row in batch.to_pylist():
                yield row, f"{path}:row {i}"
                i += 1
    except (OSError, pa.ArrowException) as exc:
        raise AdapterError(f"{path}: Parquet read error after row {i} ({exc})") from None


# ----------------------------------------------------------------------------- rows -> records


def stable_trajectory_id(messages: list[dict[str, str]]) -> str:
    canon = json.dumps([[m["role"], m["content"]] for m in messages], ensure_ascii=False, separators=(",", ":"))
    return "msg-" + hashlib.sha256(canon.encode("utf-8")).hexdigest()[:32]


def _content(value: Any, where: str, i: int) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, list):  # OpenAI content parts
        parts = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            else:
                raise RecordError(f"{where}: messages[{i}].content has a non-text part")
        return "".join(parts)
    raise RecordError(f"{where}: messages[{i}].content must be a string")


def _messages(row: dict, where: str) -> list[dict[str, str]]:
    raw = row.get("messages")
    if raw is None:
        raw = row.get("conversations")
    if isinstance(raw, str):  # some exports store the list as a JSON string
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise RecordError(f"{where}: messages is a string but not JSON") from None
    if not isinstance(raw, list) or not raw:
        raise RecordError(f"{where}: messages must be a non-empty list of {{role, content}}")
    out = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict):
            raise RecordError(f"{where}: messages[{i}] must be an object with role and content")
        role = m.get("role", m.get("from"))
        role = _ROLE_ALIASES.get(role.lower(), role.lower()) if isinstance(role, str) else role
        if role not in ("system", "user", "assistant"):
            raise RecordError(f"{where}: messages[{i}].role {role!r} is not system, user or assistant")
        out.append({"role": role, "content": _content(m.get("content", m.get("value")), where, i)})
    return out


def _str(row: dict, key: str) -> str:
    v = row.get(key)
    return v.strip() if isinstance(v, str) else ""


def _difficulty(row: dict, path_hint: str) -> str:
    d = _str(row, "difficulty").lower()
    if d in _DIFFICULTIES:
        return d
    m = re.search(r"(?:^|[_/-])(easy|medium|hard|mixed)(?:$|[_/-])", _str(row, "subset").lower())
    if m:
        return m.group(1)
    m = re.search(r"skill_based[/\\](easy|medium|hard|mixed)(?:[/\\]|$)", path_hint)
    if m:
        return m.group(1)
    return "unknown"


def row_to_record(row: Any, *, where: str, created: str, default_reward: float = 0.0,
                  path_hint: str = "") -> TrajectoryRecord:
    """One corpus row → TrajectoryRecord (see the module doc for the mapping)."""
    if not isinstance(row, dict):
        raise RecordError(f"{where}: expected a JSON object, got {type(row).__name__}")
    if row.get("schema") == RECORD_SCHEMA:
        return TrajectoryRecord.from_dict(row, where=where)
    messages = _messages(row, where)
    traj = _str(row, "trajectory_id") or stable_trajectory_id(messages)
    group = _str(row, "task_group_id") or _str(row, "task_id") or traj.split("__")[0]
    task = _str(row, "task_id") or group
    domain = _str(row, "domain")
    skills = row.get("skills")
    if isinstance(skills, str):
        skills = [s.strip() for s in skills.split(",") if s.strip()]
    if skills is None:
        skills = [domain] if domain else []
    if not isinstance(skills, list) or not all(isinstance(s, str) for s in skills):
        raise RecordError(f"{where}: skills must be a list of strings")
    reward = row.get("reward")
    if reward is None:
        reward = default_reward
    if isinstance(reward, bool) or not isinstance(reward, (int, float)):
        raise RecordError(f"{where}: reward must be a number, got {reward!r}")
    n_tokens = row.get("n_tokens")
    if n_tokens is not None and (isinstance(n_tokens, bool) or not isinstance(n_tokens, int)):
        raise RecordError(f"{where}: n_tokens must be an integer, got {n_tokens!r}")
    obj = {
        "trajectory_id": traj, "task_id": task, "task_group_id": group, "messages": messages,
        "source": "adapter", "skills": skills, "domain": domain,
        "difficulty": _difficulty(row, path_hint), "model_name": _str(row, "model_name"),
        "reward": float(reward), "n_tokens": n_tokens,
        "created": _str(row, "created") or created,
    }
    return TrajectoryRecord.from_dict(obj, where=where)


def import_corpus(paths: Iterable[str | os.PathLike], *, default_reward: float = 0.0,
                  created: str | None = None) -> Iterator[TrajectoryRecord]:
    """Records from Nemotron-style (or termforge) JSONL/Parquet files and directories, in order.

    Rows without ``created`` get `created` (default: the time of this call, the same for all).
    """
    created = created or datetime.now(timezone.utc).isoformat()
    for path in corpus_files(paths):
        hint = path.absolute().as_posix()
        for row, where in iter_rows(path):
            yield row_to_record(row, where=where, created=created, default_reward=default_reward, path_hint=hint)


# ----------------------------------------------------------------------------- writing


def _atomic_output(out: Path, write: Callable[[str], int]) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        n = write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
        return n
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_jsonl(records: Iterable[TrajectoryRecord], out: str | os.PathLike,
                on_record: Callable[[], None] | None = None) -> int:
    """Records as JSONL (one record JSON per line), written atomically; returns the count."""

    def write(tmp: str) -> int:
        n = 0
        from termforge.shards import record_bytes

        with open(tmp, "wb") as f:
            for rec in records:
                f.write(record_bytes(rec))
                f.write(b"\n")
                n += 1
                if on_record:
                    on_record()
            f.flush()
            os.fsync(f.fileno())
        return n

    return _atomic_output(Path(out), write)


def parquet_schema():
    import pyarrow as pa

    return pa.schema([
        ("schema", pa.string()), ("trajectory_id", pa.string()), ("task_id", pa.string()),
        ("task_group_id", pa.string()),
        ("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
        ("source", pa.string()), ("skills", pa.list_(pa.string())), ("domain", pa.string()),
        ("difficulty", pa.string()), ("model_name", pa.string()), ("reward", pa.float64()),
        ("n_assistant_turns", pa.int64()), ("n_tokens", pa.int64()), ("created", pa.string()),
    ])


def write_parquet(records: Iterable[TrajectoryRecord], out: str | os.PathLike, *, row_group_size: int = 1000,
                  on_record: Callable[[], None] | None = None) -> int:
    """Records as a Parquet file (zstd), streamed in row groups, written atomically."""
    import dataclasses

    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = parquet_schema()
    names = schema.names

    def write(tmp: str) -> int:
        n = 0
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            rows: list[dict] = []
            for rec in records:
                d = dataclasses.asdict(rec)
                rows.append({k: d[k] for k in names})
                n += 1
                if on_record:
                    on_record()
                if len(rows) >= row_group_size:
                    writer.write_table(pa.Table.from_pylist(rows, schema=schema))
                    rows = []
            if rows or n == 0:
                writer.write_table(pa.Table.from_pylist(rows, schema=schema))
        return n

    return _atomic_output(Path(out), write)


def export_records(records: Iterable[TrajectoryRecord], out: str | os.PathLike,
                   on_record: Callable[[], None] | None = None) -> int:
    """Write records to ``out``: Parquet for ``.parquet``, JSONL for ``.jsonl``/``.json``."""
    out = Path(out)
    name = out.name.lower()
    if name.endswith(".parquet"):
        return write_parquet(records, out, on_record=on_record)
    if name.endswith((".jsonl", ".json")):
        return write_jsonl(records, out, on_record=on_record)
    raise AdapterError(f"{out}: choose a .jsonl or .parquet output file")


__all__ = [
    "AdapterError", "corpus_files", "export_records", "import_corpus", "iter_rows", "parquet_schema",
    "row_to_record", "stable_trajectory_id", "write_jsonl", "write_parquet",
]
