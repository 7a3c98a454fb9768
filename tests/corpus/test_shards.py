"""Shard sets: round trip, determinism, manifest, overwrite rules, crash safety and tampering."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from termforge.errors import TermforgeError
from termforge.jaxtrain.data import open_shards
from termforge.shards import MANIFEST_NAME, record_bytes, sha256_file, write_shards

from .conftest import CLI_CODE, make_records, run_cli, write_jsonl


def _shas(d: Path) -> list[str]:
    return [s["sha256"] for s in json.loads((d / MANIFEST_NAME).read_text())["shards"]]


def _ids(shardset) -> list[str]:
    return [r.trajectory_id for r in shardset.records()]


def _siblings(d: Path) -> list[str]:
    return sorted(p.name for p in d.parent.iterdir() if p.name.startswith(f".{d.name}."))


def test_round_trip_and_manifest(tmp_path, records):
    out = tmp_path / "set"
    manifest = write_shards(iter(records), out, 7, seed=3, generator_config_hash="abc123")
    ss = open_shards(out)
    assert ss.num_records == len(records) == len(ss)
    assert [os.path.basename(p) for p in ss.paths] == [f"part-{i:05d}-of-00007.array_record" for i in range(7)]
    back = {r.trajectory_id: r for r in ss.records()}
    assert len(back) == len(records)
    for r in records:
        assert back[r.trajectory_id] == r  # dataclass equality: every field, messages included
    # manifest per DESIGN §5
    m = json.loads((out / MANIFEST_NAME).read_text())
    assert m == manifest and m["schema"] == "termforge.shards/1"
    assert m["generator_config_hash"] == "abc123" and m["seed"] == 3 and m["total_records"] == len(records)
    counts = [s["records"] for s in m["shards"]]
    assert sum(counts) == len(records) and max(counts) - min(counts) <= 1  # balanced
    for s in m["shards"]:
        assert sha256_file(out / s["file"]) == s["sha256"]
    assert m["skills"] == dict(Counter(s for r in records for s in r.skills))
    assert m["sources"] == dict(Counter(r.source for r in records))
    assert "created" in m
    assert sorted(p.name for p in out.iterdir()) == sorted([MANIFEST_NAME] + [s["file"] for s in m["shards"]])
    assert _siblings(out) == []  # no temp dirs left beside it
    # Grain reads the same bytes
    import grain

    ds = grain.MapDataset.source(ss.data_source()).map(lambda b: json.loads(b)["trajectory_id"])
    assert sorted(ds[i] for i in range(len(ds))) == sorted(back)


def test_same_seed_identical_bytes_different_seed_different_order(tmp_path, records):
    a = write_shards(iter(records), tmp_path / "a", 4, seed=11)
    b = write_shards(iter(records), tmp_path / "b", 4, seed=11)
    c = write_shards(iter(records), tmp_path / "c", 4, seed=12)
    assert _shas(tmp_path / "a") == _shas(tmp_path / "b")
    for s in a["shards"]:
        assert (tmp_path / "a" / s["file"]).read_bytes() == (tmp_path / "b" / s["file"]).read_bytes()
    assert _shas(tmp_path / "a") != _shas(tmp_path / "c")
    ia, ic = _ids(open_shards(tmp_path / "a")), _ids(open_shards(tmp_path / "c"))
    assert ia != ic and sorted(ia) == sorted(ic)
    assert ia != sorted(ia)  # shuffled, not input order
    assert b["total_records"] == c["total_records"] == len(records)


def test_overwrite_rules_and_dedupe(tmp_path, records):
    out = tmp_path / "set"
    write_shards(iter(records[:100]), out, 2, seed=0)
    with pytest.raises(TermforgeError, match="already holds a complete shard set; pass --overwrite"):
        write_shards(iter(records), out, 2, seed=0)
    assert open_shards(out).num_records == 100
    # duplicates of the first 100 are skipped; the new set replaces the old one
    m = write_shards(iter(records[:100] + records), out, 3, seed=0, overwrite=True)
    assert m["duplicates_skipped"] == 100 and m["total_records"] == len(records)
    ss = open_shards(out)
    assert len(ss.paths) == 3 and sorted(_ids(ss)) == sorted(r.trajectory_id for r in records)
    assert _siblings(out) == []
    # a directory with files of its own is never replaced
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(TermforgeError, match="not part of a shard set"):
        write_shards(iter(records), other, 2, seed=0, overwrite=True)
    assert (other / "notes.txt").read_text() == "mine"
    with pytest.raises(TermforgeError, match="no records"):
        write_shards(iter([]), tmp_path / "empty", 2, seed=0)
    assert not (tmp_path / "empty").exists() and _siblings(tmp_path / "empty") == []


def test_injected_failures_leave_old_set_intact(tmp_path, records):
    out = tmp_path / "set"
    write_shards(iter(records[:50]), out, 2, seed=0)
    before = _shas(out)

    def failing_input():
        yield from records[:200]
        raise TermforgeError("input.jsonl:201: boom")

    with pytest.raises(TermforgeError, match="boom"):
        write_shards(failing_input(), out, 4, seed=0, overwrite=True)
    assert _shas(out) == before and open_shards(out).num_records == 50 and _siblings(out) == []

    def die_after_two_shards(stage, done, total):
        if stage == "write" and done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_shards(iter(records), out, 4, seed=0, overwrite=True, progress=die_after_two_shards)
    assert _shas(out) == before and open_shards(out).num_records == 50 and _siblings(out) == []


KILL_SCRIPT = textwrap.dedent("""
    import sys, time
    from termforge.shards import read_jsonl_records, write_shards
    def pause(stage, done, total):
        if stage == "write" and done == 2:
            print("PAUSED", flush=True)
            time.sleep(120)
    write_shards(read_jsonl_records(sys.argv[1]), sys.argv[2], 5, seed=0, overwrite=True, progress=pause)
""")


def test_sigkill_while_writing_shards_then_rerun(tmp_path, records):
    src = write_jsonl(tmp_path / "in.jsonl", records)
    out = tmp_path / "set"
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(src), str(out)], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "PAUSED"  # two of five shards closed, three not
        partial = [p for p in tmp_path.iterdir() if p.name.startswith(".set.partial-")]
        assert len(partial) == 1 and len(list(partial[0].glob("part-*.array_record"))) == 2
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # nothing at --out; the torn directory is refused as a shard set
    with pytest.raises(TermforgeError, match="no such shard directory"):
        open_shards(out)
    with pytest.raises(TermforgeError, match=r"not a complete shard set: no manifest.json \(interrupted write\?\)"):
        open_shards(partial[0])
    # rerunning finishes the job: leftovers of the dead writer are removed, no duplicates
    r = run_cli("shard", src, "--out", out, "--num-shards", 5)
    assert r.returncode == 0, r.stderr
    ss = open_shards(out)
    ids = _ids(ss)
    assert len(ids) == len(set(ids)) == len(records)
    assert _siblings(out) == []


def test_sigkill_cli_mid_input_keeps_old_set(tmp_path, records):
    """`termforge shard --overwrite` killed while reading a large input: the old set stays whole."""
    out = tmp_path / "set"
    assert run_cli("shard", write_jsonl(tmp_path / "old.jsonl", records[:30]), "--out", out,
                   "--num-shards", 2).returncode == 0
    before = _shas(out)
    fifo = tmp_path / "big.jsonl"
    os.mkfifo(fifo)
    proc = subprocess.Popen([sys.executable, "-c", CLI_CODE,
                             "shard", str(fifo), "--out", str(out), "--num-shards", "4", "--overwrite"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with open(fifo, "w", encoding="utf-8") as f:
            for r in records[:300]:
                f.write(r.to_json() + "\n")
            f.flush()
            # the writer has read part of the input into its spill files; kill it mid-stream
            for _ in range(200):
                partial = [p for p in tmp_path.iterdir() if p.name.startswith(".set.partial-")]
                if partial and any(q.stat().st_size for q in partial[0].glob(".spill-*")):
                    break
                proc.poll()
                assert proc.returncode is None, proc.stderr.read()
                time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    except BrokenPipeError:
        pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert _shas(out) == before and open_shards(out).num_records == 30
    # rerun with a complete input: the dead writer's partial dir goes, the new set is whole
    src = write_jsonl(tmp_path / "all.jsonl", records)
    r = run_cli("shard", src, "--out", out, "--num-shards", 4, "--overwrite")
    assert r.returncode == 0, r.stderr
    ids = _ids(open_shards(out))
    assert len(ids) == len(set(ids)) == len(records) and _siblings(out) == []


def test_torn_in_place_directory_is_refused_and_replaced(tmp_path, records):
    """Shards without a manifest (e.g. copied half-way) are not a shard set; `shard` may replace them."""
    good = tmp_path / "good"
    write_shards(iter(records), good, 3, seed=0)
    torn = tmp_path / "torn"
    torn.mkdir()
    for p in sorted(good.glob("part-*"))[:2]:
        (torn / p.name).write_bytes(p.read_bytes())
    with pytest.raises(TermforgeError, match=r"torn: not a complete shard set: no manifest.json"):
        open_shards(torn)
    write_shards(iter(records), torn, 3, seed=0)
    assert _shas(torn) == _shas(good)


@pytest.fixture
def shard_set(tmp_path, records):
    out = tmp_path / "set"
    write_shards(iter(records), out, 4, seed=0)
    return out


def _tamper_flip(d):
    p = d / "part-00002-of-00004.array_record"
    data = bytearray(p.read_bytes())
    data[len(data) // 3] ^= 0x01
    p.write_bytes(bytes(data))


def _tamper_truncate(d):
    p = d / "part-00002-of-00004.array_record"
    p.write_bytes(p.read_bytes()[:-100])


def _tamper_delete(d):
    (d / "part-00002-of-00004.array_record").unlink()


def _tamper_count(d):
    m = json.loads((d / MANIFEST_NAME).read_text())
    m["shards"][2]["records"] += 1
    m["total_records"] += 1
    (d / MANIFEST_NAME).write_text(json.dumps(m))


def _tamper_swap(d):  # two shards exchanged: sizes may match, checksums do not
    a, b = d / "part-00002-of-00004.array_record", d / "part-00001-of-00004.array_record"
    da, db = a.read_bytes(), b.read_bytes()
    a.write_bytes(db)
    b.write_bytes(da)


@pytest.mark.parametrize("tamper,message", [
    (_tamper_flip, "sha256 differs"),
    (_tamper_truncate, "torn or altered"),
    (_tamper_delete, "shard missing"),
    (_tamper_count, "holds 100 records, manifest.json says 101"),
    (_tamper_swap, r"part-0000[12]-of-00004.array_record: (sha256 differs|\d+ bytes)"),
])
def test_tampered_shard_is_refused_by_name(shard_set, tamper, message):
    tamper(shard_set)
    with pytest.raises(TermforgeError, match=message) as exc:
        open_shards(shard_set)
    assert "part-0000" in str(exc.value) and ".array_record" in str(exc.value)


def test_manifest_problems(shard_set):
    extra = shard_set / "part-00004-of-00004.array_record"
    extra.write_bytes((shard_set / "part-00000-of-00004.array_record").read_bytes())
    with pytest.raises(TermforgeError, match="part-00004-of-00004.array_record: shard not listed"):
        open_shards(shard_set)
    extra.unlink()
    m = json.loads((shard_set / MANIFEST_NAME).read_text())
    m["total_records"] = 5
    (shard_set / MANIFEST_NAME).write_text(json.dumps(m))
    with pytest.raises(TermforgeError, match="total_records 5 differs"):
        open_shards(shard_set)
    m["shards"][0]["file"] = "../../etc/passwd"
    (shard_set / MANIFEST_NAME).write_text(json.dumps(m))
    with pytest.raises(TermforgeError, match=r"shards\[0\] needs file"):
        open_shards(shard_set)
    (shard_set / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(TermforgeError, match="unreadable manifest"):
        open_shards(shard_set)
    (shard_set / MANIFEST_NAME).unlink()
    with pytest.raises(TermforgeError, match=r"not a complete shard set: no manifest.json \(interrupted write\?\)"):
        open_shards(shard_set)


def test_cli_shard_inputs_run_dir_jsonl_and_shard_sets(tmp_path):
    recs = make_records(120, seed=5)
    run_dir = tmp_path / "run"
    write_jsonl(run_dir / "trajectories" / "a.jsonl", recs[:50])
    write_jsonl(run_dir / "trajectories" / "b.jsonl", recs[50:80])
    (run_dir / "index.jsonl").write_text('{"not": "a trajectory"}\n')  # ignored: not under trajectories/
    loose = write_jsonl(tmp_path / "loose.jsonl", recs[80:])
    r = run_cli("shard", run_dir, loose, "--out", tmp_path / "s1", "--num-shards", 3, "--seed", 7)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith("sharded 120 records from 3 input(s)")
    # re-shard an existing set together with overlapping JSONL: duplicates are skipped
    r = run_cli("shard", tmp_path / "s1", loose, "--out", tmp_path / "s2", "--num-shards", 2)
    assert r.returncode == 0, r.stderr
    assert "40 duplicate(s) skipped" in r.stdout
    assert sorted(_ids(open_shards(tmp_path / "s2"))) == sorted(x.trajectory_id for x in recs)


@pytest.mark.parametrize("content,expect", [
    ('{"schema": "termforge.trajectory/1", "trajectory_id": \n', r"bad.jsonl:2: not UTF-8 JSON"),
    ('{"trajectory_id": "t", "task_id": "x", "task_group_id": "g", "source": "web", "messages": []}\n',
     r"bad.jsonl:2: source 'web' not one of"),
    ('[1, 2]\n', r"bad.jsonl:2: expected a JSON object"),
])
def test_cli_bad_input_is_one_clear_line(tmp_path, content, expect):
    good = make_records(1)[0].to_json() + "\n"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(good + content)
    r = run_cli("shard", bad, "--out", tmp_path / "out", "--num-shards", 2)
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert re.search(expect, lines[0]), lines[0]
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")] == []


def test_cli_other_errors(tmp_path, shard_set):
    r = run_cli("shard", tmp_path / "missing.jsonl", "--out", tmp_path / "o", "--num-shards", 2)
    assert r.returncode != 0 and "missing.jsonl: no such file or directory" in r.stderr
    _tamper_flip(shard_set)
    r = run_cli("shard", shard_set, "--out", tmp_path / "o", "--num-shards", 2)
    assert r.returncode != 0 and "part-00002-of-00004.array_record: sha256 differs" in r.stderr
    assert "Traceback" not in r.stderr


def test_leftovers_of_dead_writers_are_recovered(tmp_path, records):
    """Killed between the two renames of a swap: the old set is put back, partial output removed."""
    out = tmp_path / "set"
    write_shards(iter(records[:20]), out, 2, seed=0)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    os.rename(out, tmp_path / f".set.old-{dead.pid}")
    (tmp_path / f".set.partial-{dead.pid}").mkdir()
    (tmp_path / f".set.partial-{dead.pid}" / ".spill-00000").write_bytes(b"x")
    with pytest.raises(TermforgeError, match="already holds a complete shard set"):
        write_shards(iter(records), out, 2, seed=0)
    assert open_shards(out).num_records == 20 and _siblings(out) == []


def test_record_bytes_matches_to_bytes(records):
    for r in records[:50]:
        assert record_bytes(r) == r.to_bytes()
