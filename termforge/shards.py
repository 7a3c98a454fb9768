"""Shard sets: trajectory records in ArrayRecord shards plus a manifest (DESIGN §5).

A shard set is a directory::

    part-00000-of-00016.array_record ... part-00015-of-00016.array_record
    manifest.json      schema, per-shard record count / sha256 / size, histograms, seed

`write_shards` streams its input twice over disk, never over memory: pass 1 serialises each
record once and appends it to a per-shard spill file (shard chosen by a seeded, balanced
draw); pass 2 shuffles each shard's record offsets with a seeded RNG and writes the shard.
The same input and seed therefore give byte-identical shards.

Crash safety: everything is written into a hidden sibling directory
``.<name>.partial-<pid>``; each shard goes to a temp name and is renamed when closed, the
manifest is written last (atomically), and only then does the directory take the place of
``out_dir`` (an old set is moved aside first and removed after the swap). A killed writer
leaves ``out_dir`` untouched; its leftovers are removed by the next writer.

The reader with checksum verification is `termforge.jaxtrain.data.open_shards`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
import re
import shutil
import socket
from array import array
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from termforge.errors import TermforgeError
from termforge.records import SCHEMA as RECORD_SCHEMA
from termforge.records import RecordError, TrajectoryRecord

SHARDS_SCHEMA = "termforge.shards/1"
MANIFEST_NAME = "manifest.json"
WRITER_OPTIONS = "group_size:1"
SHARD_RE = re.compile(r"^part-(\d{5})-of-(\d{5})\.array_record$")
MAX_SHARDS = 99_999

#: progress(stage, done, total): stage is "read" (total None) or "write" (total = shards).
ProgressFn = Callable[[str, int, "int | None"], None]


class ShardError(TermforgeError):
    """A shard set that cannot be written or read as asked."""


def shard_name(index: int, num_shards: int) -> str:
    return f"part-{index:05d}-of-{num_shards:05d}.array_record"


def sha256_file(path: str | os.PathLike, *, fsync: bool = False) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
        if fsync:
            os.fsync(f.fileno())
    return h.hexdigest()


_FIELDS = tuple(f.name for f in dataclasses.fields(TrajectoryRecord))


def record_bytes(rec: TrajectoryRecord) -> bytes:
    """``rec.to_bytes()`` without dataclasses.asdict's deep copy (~3x faster, same bytes)."""
    return json.dumps({k: getattr(rec, k) for k in _FIELDS}, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


# ----------------------------------------------------------------------------- JSONL input


def read_jsonl_records(path: str | os.PathLike) -> Iterator[TrajectoryRecord]:
    """Trajectory records from a JSONL file; a bad line raises RecordError naming file:line."""
    path = Path(path)
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise ShardError(f"{path}: cannot read ({exc.strerror})") from None
    with f:
        for lineno, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            yield TrajectoryRecord.from_json(raw, where=f"{path}:{lineno}")


# ----------------------------------------------------------------------------- directory state


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_shard_leftover(name: str) -> bool:
    """Names a shard writer may leave in a shard directory."""
    return (name == MANIFEST_NAME or SHARD_RE.match(name) is not None
            or (name.startswith(".part-") and name.endswith(".tmp"))
            or name.startswith(".spill-") or (name.startswith(f".{MANIFEST_NAME}.") and name.endswith(".tmp")))


def _recover_leftovers(out_dir: Path) -> None:
    """Remove what killed writers left beside `out_dir`; restore an old set lost mid-swap."""
    parent = out_dir.parent
    if not parent.is_dir():
        return
    pat = re.compile(rf"^\.{re.escape(out_dir.name)}\.(partial|old)-(\d+)$")
    found = sorted((m.group(1), int(m.group(2)), parent / p.name)
                   for p in parent.iterdir() if (m := pat.match(p.name)))
    for kind, pid, path in found:
        if _pid_alive(pid):
            continue
        if kind == "old" and not out_dir.exists() and (path / MANIFEST_NAME).exists():
            os.rename(path, out_dir)  # killed between the two renames of a swap: keep the old set
        else:
            shutil.rmtree(path, ignore_errors=True)


def check_output_dir(out_dir: str | os.PathLike, *, overwrite: bool) -> None:
    """Refuse to write over a complete shard set (unless overwrite) or over foreign files."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ShardError(f"{out_dir}: exists and is not a directory")
    if not out_dir.is_dir():
        return
    names = sorted(p.name for p in out_dir.iterdir())
    foreign = [n for n in names if not _is_shard_leftover(n)]
    if foreign:
        shown = ", ".join(foreign[:3]) + (" ..." if len(foreign) > 3 else "")
        raise ShardError(f"{out_dir}: holds files that are not part of a shard set ({shown}); "
                         "choose an empty or new --out directory")
    if MANIFEST_NAME in names and not overwrite:
        raise ShardError(f"{out_dir}: already holds a complete shard set; pass --overwrite to replace it")


def _ensure_open_files(n: int) -> None:
    """Raise the soft open-file limit when pass 1 needs one spill file per shard."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY and soft < n:
            resource.setrlimit(resource.RLIMIT_NOFILE, (n if hard == resource.RLIM_INFINITY else min(n, hard), hard))
    except (ImportError, ValueError, OSError):
        pass


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------- writer


@dataclasses.dataclass(frozen=True)
class ShardWrite:
    """Pass 2 for one shard: its spill file (in `partial`) and the start offset of each record."""

    partial: str
    index: int
    num_shards: int
    seed: int
    offsets: bytes      # array("Q") of record starts in the spill file
    end: int            # the spill file's length


def write_shard(w: ShardWrite) -> dict[str, Any]:
    """Shuffle one shard's records with its seeded RNG and write them as an ArrayRecord file under
    a temp name, renamed when closed; the spill file is removed. Returns the shard's manifest entry
    (with its `index`). Pure in its inputs: any process that sees `partial` may run it."""
    from array_record.python.array_record_module import ArrayRecordWriter

    partial = Path(w.partial)
    name = shard_name(w.index, w.num_shards)
    spill = partial / f".spill-{w.index:05d}"
    if not spill.exists():
        raise ShardError(f"{spill}: not visible here ({socket.gethostname()}); shards are written where "
                         "the driver spilled them, so --out must be on storage every worker mounts")
    starts = array("Q")
    starts.frombytes(w.offsets)
    order = list(range(len(starts)))
    random.Random(f"termforge.shards/order:{w.seed}:{w.index}").shuffle(order)
    tmp = partial / f".{name}.tmp"
    writer = ArrayRecordWriter(str(tmp), WRITER_OPTIONS)
    try:
        with open(spill, "rb") as sf:
            for j in order:
                start = starts[j]
                end = starts[j + 1] if j + 1 < len(starts) else w.end
                sf.seek(start)
                writer.write(sf.read(end - start))
        if not writer.ok():
            raise ShardError(f"{tmp}: ArrayRecord writer failed")
    finally:
        writer.close()
    digest = sha256_file(tmp, fsync=True)
    os.replace(tmp, partial / name)
    spill.unlink()
    return {"index": w.index, "file": name, "records": len(starts), "sha256": digest,
            "bytes": (partial / name).stat().st_size}


def _write_in_turn(writes: list[ShardWrite]) -> Iterator[dict[str, Any]]:
    return map(write_shard, writes)


def write_shards(
    records: Iterable[TrajectoryRecord],
    out_dir: str | os.PathLike,
    num_shards: int,
    *,
    seed: int,
    generator_config_hash: str | None = None,
    progress: ProgressFn | None = None,
    overwrite: bool = False,
    dedupe: bool = True,
    extra: dict[str, Any] | None = None,
    run_writes: Callable[[list[ShardWrite]], Iterable[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """Write `records` as `num_shards` ArrayRecord shards plus manifest.json; return the manifest.

    Records are assigned to shards by a seeded draw that keeps shard sizes within one of
    each other, and shuffled within each shard by a seeded RNG: the same records in the
    same order with the same seed give byte-identical shards. With `dedupe`, a record
    whose trajectory_id was already seen is skipped (counted as duplicates_skipped).
    `extra` is merged into the manifest (e.g. the inputs). Refuses to replace a complete
    shard set unless `overwrite`; the old set is removed only once the new one is complete.

    `run_writes(writes)` runs `write_shard` for every shard and yields their results in any
    order (default: one after the other here; a Ray backend runs them on its workers, each
    writing its own shard files). The manifest is written here, last, whoever wrote the shards.
    """
    if not isinstance(num_shards, int) or not 1 <= num_shards <= MAX_SHARDS:
        raise ShardError(f"--num-shards must be between 1 and {MAX_SHARDS}, got {num_shards!r}")
    out_dir = Path(out_dir).absolute()
    _recover_leftovers(out_dir)
    check_output_dir(out_dir, overwrite=overwrite)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir()
    report = progress or (lambda stage, done, total: None)
    spills: list = []
    try:
        # pass 1: serialise once, spill to the shard's file, keep only offsets in memory
        offsets = [array("Q") for _ in range(num_shards)]
        _ensure_open_files(num_shards + 64)
        spills = [open(partial / f".spill-{i:05d}", "wb") for i in range(num_shards)]
        assign = random.Random(f"termforge.shards/assign:{seed}")
        block: list[int] = []
        seen: set[str] = set()
        skills: Counter = Counter()
        sources: Counter = Counter()
        domains: Counter = Counter()
        difficulties: Counter = Counter()
        total = dups = total_bytes = 0
        for rec in records:
            if not isinstance(rec, TrajectoryRecord):
                raise TypeError(f"write_shards expects TrajectoryRecord, got {type(rec).__name__}")
            if dedupe:
                if rec.trajectory_id in seen:
                    dups += 1
                    continue
                seen.add(rec.trajectory_id)
            turns = sum(m.get("role") == "assistant" for m in rec.messages)
            if rec.n_assistant_turns != turns:  # stored as readers will compute it
                rec = dataclasses.replace(rec, n_assistant_turns=turns)
            data = record_bytes(rec)
            if not block:
                block = list(range(num_shards))
                assign.shuffle(block)
            s = block.pop()
            offsets[s].append(spills[s].tell())
            spills[s].write(data)
            total += 1
            total_bytes += len(data)
            for sk in rec.skills or ["(none)"]:
                skills[sk] += 1
            sources[rec.source] += 1
            domains[rec.domain or "(none)"] += 1
            difficulties[rec.difficulty or "unknown"] += 1
            if total % 1000 == 0:
                report("read", total, None)
        report("read", total, None)
        ends = []
        for f in spills:
            ends.append(f.tell())
            f.close()
        seen.clear()
        if total == 0:
            raise ShardError("no records to shard (the inputs are empty)")

        # pass 2: shuffle each shard's offsets and write it under a temp name, then rename
        writes = [ShardWrite(str(partial), i, num_shards, seed, offsets[i].tobytes(), ends[i])
                  for i in range(num_shards)]
        offsets.clear()
        by_index: dict[int, dict[str, Any]] = {}
        for meta in (run_writes or _write_in_turn)(writes):
            by_index[meta.pop("index")] = meta
            report("write", len(by_index), num_shards)
        missing = sorted(set(range(num_shards)) - set(by_index))
        if missing:
            raise ShardError(f"shard {shard_name(missing[0], num_shards)} was not written")
        shards = [by_index[i] for i in range(num_shards)]

        manifest: dict[str, Any] = {
            "schema": SHARDS_SCHEMA,
            "record_schema": RECORD_SCHEMA,
            "created": datetime.now(timezone.utc).isoformat(),
            "seed": seed,
            "num_shards": num_shards,
            "total_records": total,
            "record_bytes": total_bytes,
            "duplicates_skipped": dups,
            "generator_config_hash": generator_config_hash,
            "writer_options": WRITER_OPTIONS,
            "shards": shards,
            "skills": dict(sorted(skills.items(), key=lambda kv: (-kv[1], kv[0]))),
            "sources": dict(sorted(sources.items(), key=lambda kv: (-kv[1], kv[0]))),
            "domains": dict(sorted(domains.items(), key=lambda kv: (-kv[1], kv[0]))),
            "difficulties": dict(sorted(difficulties.items(), key=lambda kv: (-kv[1], kv[0]))),
        }
        if extra:
            manifest.update({k: v for k, v in extra.items() if k not in manifest})
        _fsync_dir(partial)
        from termforge.ui import atomic_write_json

        atomic_write_json(partial / MANIFEST_NAME, manifest)  # last: marks the set complete
        os.chmod(partial / MANIFEST_NAME, (partial / shards[0]["file"]).stat().st_mode & 0o777)  # umask, not 0600

        # swap the complete set into place; an old set goes only after the swap
        check_output_dir(out_dir, overwrite=overwrite)
        if out_dir.exists():
            old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
            os.rename(out_dir, old)
            os.rename(partial, out_dir)
            _fsync_dir(out_dir.parent)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(partial, out_dir)
            _fsync_dir(out_dir.parent)
        return manifest
    except BaseException:
        for f in spills:
            f.close()
        shutil.rmtree(partial, ignore_errors=True)
        raise


def load_manifest(shard_dir: str | os.PathLike) -> dict[str, Any]:
    """The parsed manifest.json of a shard directory (no shard checks: see open_shards)."""
    shard_dir = Path(shard_dir)
    if not shard_dir.is_dir():
        raise ShardError(f"{shard_dir}: no such shard directory")
    path = shard_dir / MANIFEST_NAME
    if not path.exists():
        raise ShardError(f"{shard_dir}: not a complete shard set: no manifest.json (interrupted write?)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ShardError(f"{path}: unreadable manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("schema") != SHARDS_SCHEMA:
        got = manifest.get("schema") if isinstance(manifest, dict) else type(manifest).__name__
        raise ShardError(f"{path}: schema {got!r} is not {SHARDS_SCHEMA}")
    return manifest


__all__ = [
    "MANIFEST_NAME", "SHARDS_SCHEMA", "SHARD_RE", "WRITER_OPTIONS", "ShardError", "RecordError",
    "check_output_dir", "load_manifest", "read_jsonl_records", "record_bytes", "sha256_file", "shard_name",
    "write_shards",
]
