"""Opening shard sets for training (DESIGN §5).

`open_shards(dir)` reads manifest.json and checks every listed shard before anything is
trained on: present, the listed size, the listed sha256 and record count (with
``verify=True``). A torn, altered, missing or unlisted shard is refused with a
`TermforgeError` that names the shard file. Shard sets are written by
`termforge.shards.write_shards` (``termforge shard``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from termforge.records import TrajectoryRecord
from termforge.shards import MANIFEST_NAME, SHARD_RE, ShardError, load_manifest, sha256_file

_READ_CHUNK = 256


@dataclass(frozen=True)
class ShardSet:
    """A verified shard set: its directory, manifest and shard paths (in shard order)."""

    path: Path
    manifest: dict[str, Any]
    paths: tuple[str, ...]
    counts: tuple[int, ...] = field(default=())

    @property
    def num_records(self) -> int:
        return int(self.manifest["total_records"])

    def __len__(self) -> int:
        return self.num_records

    def data_source(self):
        """`grain.sources.ArrayRecordDataSource` over the shards: UTF-8 JSON bytes per record."""
        import grain

        return grain.sources.ArrayRecordDataSource(list(self.paths))

    def records(self) -> Iterator[TrajectoryRecord]:
        """All records, shard by shard, in stored order, parsed against the record schema."""
        from array_record.python.array_record_module import ArrayRecordReader

        for path in self.paths:
            name = os.path.basename(path)
            try:
                reader = ArrayRecordReader(path)
            except Exception as exc:  # noqa: BLE001 - the C++ reader raises assorted errors
                raise ShardError(f"{path}: unreadable ArrayRecord shard ({exc})") from None
            try:
                n = reader.num_records()
                for start in range(0, n, _READ_CHUNK):
                    try:
                        chunk = reader.read(start, min(n, start + _READ_CHUNK))
                    except Exception as exc:  # noqa: BLE001
                        raise ShardError(f"{path}: corrupt shard ({exc})") from None
                    for k, data in enumerate(chunk):
                        yield TrajectoryRecord.from_json(data, where=f"{name}#{start + k}")
            finally:
                reader.close()


def _count_records(path: Path) -> int:
    from array_record.python.array_record_module import ArrayRecordReader

    try:
        reader = ArrayRecordReader(str(path))
    except Exception as exc:  # noqa: BLE001
        raise ShardError(f"{path}: unreadable ArrayRecord shard ({exc})") from None
    try:
        return reader.num_records()
    finally:
        reader.close()


def open_shards(shard_dir: str | os.PathLike, *, verify: bool = True) -> ShardSet:
    """Open a shard set after checking it against its manifest.

    Always: manifest present and well-formed, every listed shard present with the listed
    size, no unlisted ``part-*`` shard, counts summing to ``total_records``. With
    ``verify`` (the default) also each shard's sha256 and its record count.
    """
    shard_dir = Path(shard_dir)
    manifest = load_manifest(shard_dir)
    where = shard_dir / MANIFEST_NAME
    entries = manifest.get("shards")
    if not isinstance(entries, list) or not entries:
        raise ShardError(f"{where}: 'shards' must be a non-empty list")
    listed: list[tuple[str, int, str, int]] = []
    for k, e in enumerate(entries):
        ok = (isinstance(e, dict) and isinstance(e.get("file"), str) and SHARD_RE.match(e["file"])
              and isinstance(e.get("records"), int) and e["records"] >= 0
              and isinstance(e.get("sha256"), str) and isinstance(e.get("bytes"), int))
        if not ok:
            raise ShardError(f"{where}: shards[{k}] needs file (part-NNNNN-of-NNNNN.array_record), "
                             "records, sha256 and bytes")
        listed.append((e["file"], e["records"], e["sha256"], e["bytes"]))
    names = [f for f, *_ in listed]
    if len(set(names)) != len(names):
        raise ShardError(f"{where}: a shard is listed twice")
    unlisted = sorted(p.name for p in shard_dir.iterdir() if SHARD_RE.match(p.name) and p.name not in set(names))
    if unlisted:
        raise ShardError(f"{shard_dir / unlisted[0]}: shard not listed in manifest.json (mixed shard sets?)")

    paths = []
    for name, count, digest, size in listed:
        path = shard_dir / name
        if not path.is_file():
            raise ShardError(f"{path}: shard missing (listed in manifest.json)")
        actual = path.stat().st_size
        if actual != size:
            raise ShardError(f"{path}: {actual} bytes, manifest.json says {size} (torn or altered shard)")
        if verify:
            if sha256_file(path) != digest:
                raise ShardError(f"{path}: sha256 differs from manifest.json (altered or corrupt shard)")
            n = _count_records(path)
            if n != count:
                raise ShardError(f"{path}: holds {n} records, manifest.json says {count}")
        paths.append(str(path))
    total = sum(c for _, c, _, _ in listed)
    if manifest.get("total_records") != total:
        raise ShardError(f"{where}: total_records {manifest.get('total_records')!r} differs from the "
                         f"shard counts' sum {total}")
    return ShardSet(path=shard_dir, manifest=manifest, paths=tuple(paths),
                    counts=tuple(c for _, c, _, _ in listed))


__all__ = ["ShardSet", "open_shards"]
