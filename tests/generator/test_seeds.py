"""Seed tasks and their mutants: validation, consistent rewriting, determinism, and Docker verification.

The Docker part verifies every seed as-is plus one mutant of each by default, three mutants of
each with --runslow.
"""

from __future__ import annotations

import fnmatch
import random
import shutil
from pathlib import Path

import pytest
import yaml

from termforge.errors import ConfigError, TaskFormatError, TermforgeError
from termforge.executor.task import load_task
from termforge.generator.mutate import (SEEDS_DIR, _read_tree, _token_re, load_seed, load_seeds,
                                        mutate_seed)
from termforge.generator.spec import TEST_SH
from termforge.generator.taxonomy import load_taxonomy

SEEDS = load_seeds(SEEDS_DIR)
BY_NAME = {s.name: s for s in SEEDS}


def mutant(seed, tmp_path: Path, k: int = 0, tag: str = "m"):
    rng = random.Random(f"test-seeds:{seed.name}:{k}")
    dest = tmp_path / f"{seed.name}-{tag}{k}"
    return mutate_seed(seed, rng, dest, f"termforge-seed-mutants/{seed.name}-{k}")


def tree(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes()
            for p in sorted(path.rglob("*")) if p.is_file() and ".termforge" not in p.parts}


# ----------------------------------------------------------------------------- the seed set


def test_seed_set_is_broad():
    taxonomy = load_taxonomy()
    assert len(SEEDS) >= 25
    cats = {s.category for s in SEEDS}
    assert len(cats) >= 10, cats
    assert cats <= set(taxonomy.categories)
    assert {s.difficulty for s in SEEDS} >= {"medium", "hard"}
    assert len({s.name for s in SEEDS}) == len(SEEDS)


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_seed_is_a_well_formed_task(name):
    seed = BY_NAME[name]
    task = load_task(seed.path, require_solution=True)
    assert task.config.termforge["source"] == "seed"
    assert task.config.name == f"termforge-seeds/{name}"
    assert (seed.path / "tests" / "test.sh").read_text() == TEST_SH
    assert "def test_" in (seed.path / "tests" / "test_outputs.py").read_text()
    dockerfile = (seed.path / "environment" / "Dockerfile").read_text()
    assert dockerfile.startswith("FROM termforge/base:bookworm\n")
    solve = (seed.path / "solution" / "solve.sh").read_text()
    for banned in ("curl http", "wget ", "pip download", "apt-get install", "sudo "):
        assert banned not in solve and banned not in dockerfile, banned
    assert len(seed.phrasings) >= 3
    assert not list(seed.path.rglob("__pycache__")), "no bytecode in package data"


# ----------------------------------------------------------------------------- mutation


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_mutant_is_consistent_and_different(name, tmp_path):
    seed = BY_NAME[name]
    task = mutant(seed, tmp_path)
    assert load_task(task.path, require_solution=True).name == f"termforge-seed-mutants/{name}-0"
    tf = task.config.termforge
    assert tf["source"] == "seed" and tf["seed_task"] == name and tf["family"] == f"seed:{name}"
    assert tf["skills"] == seed.skills
    assert set(tf["params"]["tokens"]) == {tok for t in seed.tokens for tok in (t.token, *dict(t.also))}
    assert task.config.category == seed.category and task.config.difficulty == seed.difficulty
    assert task.instruction != seed.task.instruction
    assert (task.path / "tests" / "test.sh").read_text() == TEST_SH
    assert not (task.path / "seed.yaml").exists() and not (task.path / "generate.py").exists()

    files = _read_tree(task.path)
    texts = [task.instruction] + [c for c in files.values() if isinstance(c, str)]
    seed_paths = set(_read_tree(seed.path))
    for t in seed.tokens:
        for tok in (t.token, *dict(t.also)):
            new = tf["params"]["tokens"][tok]
            assert new != tok
            if t.only:
                continue
            # whole tokens are gone everywhere, in contents and in file names
            hits = [rel for rel in files if _token_re([tok]).search(rel)]
            assert not hits, (tok, hits)
            assert not any(_token_re([tok]).search(x) for x in texts), tok
            if _token_re([tok]).search(seed.task.instruction):
                assert _token_re([new]).search(task.instruction), (tok, new)
    renamed = [rel for rel in seed_paths if any(_token_re([t.token]).search(rel)
                                                for t in seed.tokens if not t.only)]
    if renamed:
        assert not set(renamed) & set(files)
    if seed.generator is not None:
        assert "data_seed" in tf["params"]
        owned = {rel: c for rel, c in _read_tree(seed.path).items()
                 if any(fnmatch.fnmatch(rel, g) for g in seed.generated)}
        assert owned, "generated globs own no seed file"
        assert files != _read_tree(seed.path)


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_mutation_is_deterministic_and_varies(name, tmp_path):
    seed = BY_NAME[name]
    a = mutant(seed, tmp_path, 0, "a")
    b = mutant(seed, tmp_path, 0, "b")
    assert tree(a.path) == tree(b.path)
    others = [mutant(seed, tmp_path, k) for k in (1, 2, 3)]
    instructions = {t.instruction for t in [a, *others]}
    assert len(instructions) >= 3
    assert len({str(t.config.termforge["params"]) for t in [a, *others]}) == 4


def test_mutant_destination_must_be_empty(tmp_path):
    seed = SEEDS[0]
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    with pytest.raises(TermforgeError, match="absent or empty"):
        mutate_seed(seed, random.Random(1), tmp_path / "busy", "x/y")


# ----------------------------------------------------------------------------- renaming rules


def _tiny_seed(root: Path, *, spec: dict | None = None, solution: bool = True) -> Path:
    d = root / "tiny-ledger"
    files = {
        "instruction.md": "Sum the amounts in `/srv/ledger/ledger.csv` into `/srv/ledger/total.txt`; "
                          "keep `ledgers.txt` and `ledger_old.csv` as they are. Threshold: 4173.\n",
        "task.toml": ('schema_version = "1.1"\n[task]\nname = "termforge-seeds/tiny-ledger"\n'
                      '[metadata]\ndifficulty = "easy"\ncategory = "text"\ntags = []\n'
                      '[metadata.termforge]\nskills = ["text.awk"]\nsource = "seed"\n'),
        "environment/Dockerfile": "FROM termforge/base:bookworm\nWORKDIR /app\nCOPY rootfs/ /\n",
        "environment/rootfs/srv/ledger/ledger.csv": "amount\n4173\n2\n",
        "environment/rootfs/srv/ledger/ledgers.txt": "ledger ledgers xledger ledger_x ledger.v2 LEDGER\n",
        "environment/rootfs/srv/ledger/ledger_old.csv": "amount\n1\n",
        "tests/test.sh": TEST_SH,
        "tests/test_outputs.py": "def test_total():\n    assert open('/srv/ledger/total.txt').read() == '4175\\n'\n",
    }
    if solution:
        files["solution/solve.sh"] = ("#!/bin/bash\nawk -F, 'NR>1{s+=$1} END{print s}' "
                                      "/srv/ledger/ledger.csv > /srv/ledger/total.txt\n")
    for rel, content in files.items():
        p = d / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
    spec = spec if spec is not None else {
        "summary": "Sum a column.",
        "tokens": [{"token": "ledger", "draw": "word", "upper": True},
                   {"token": "4173", "draw": "int", "range": [5000, 6000],
                    "only": ["instruction.md", "environment/rootfs/srv/ledger/ledger.csv"]}],
        "phrasings": ["Add up `/srv/ledger/ledger.csv` (threshold 4173) into `/srv/ledger/total.txt`; "
                      "leave `ledgers.txt` and `ledger_old.csv` alone.",
                      "Write the sum of `/srv/ledger/ledger.csv` to `/srv/ledger/total.txt`. 4173 "
                      "is the threshold; `ledgers.txt` and `ledger_old.csv` stay untouched."],
    }
    (d / "seed.yaml").write_text(yaml.safe_dump(spec, sort_keys=False) if isinstance(spec, dict) else spec)
    return d


def test_renames_whole_tokens_only(tmp_path):
    seed = load_seed(_tiny_seed(tmp_path))
    task = mutate_seed(seed, random.Random(7), tmp_path / "out", "t/tiny")
    new = task.config.termforge["params"]["tokens"]["ledger"]
    num = task.config.termforge["params"]["tokens"]["4173"]
    files = tree(task.path)
    root = f"environment/rootfs/srv/{new}"
    assert f"{root}/{new}.csv" in files                 # file and folder renamed
    assert f"{root}/ledgers.txt" in files               # "ledgers" is another word
    assert f"{root}/ledger_old.csv" in files            # so is "ledger_old"
    assert files[f"{root}/ledgers.txt"].decode() == \
        f"{new} ledgers xledger ledger_x {new}.v2 {new.upper()}\n"
    assert files[f"{root}/{new}.csv"].decode() == f"amount\n{num}\n2\n"
    assert num in task.instruction and "4173" not in task.instruction
    assert f"/srv/{new}/total.txt" in files["solution/solve.sh"].decode()
    assert f"/srv/{new}/total.txt" in files["tests/test_outputs.py"].decode()
    assert "4175" in files["tests/test_outputs.py"].decode()  # out of the number's scope


def _error(tmp_path, **kw) -> str:
    d = _tiny_seed(tmp_path, **kw)
    with pytest.raises((ConfigError, TaskFormatError)) as exc:
        load_seeds(d.parent)
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_empty_seeds_dir(tmp_path):
    with pytest.raises(ConfigError, match="no seed tasks"):
        load_seeds(tmp_path)
    with pytest.raises(ConfigError, match="not found"):
        load_seeds(tmp_path / "missing")


def test_malformed_seed_yaml(tmp_path):
    msg = _error(tmp_path, spec="tokens: [unclosed\n")
    assert "tiny-ledger" in msg and "seed.yaml" in msg and "YAML" in msg


def test_seed_without_solution(tmp_path):
    msg = _error(tmp_path, solution=False)
    assert "tiny-ledger" in msg and "solve.sh" in msg


@pytest.mark.parametrize("spec,needle", [
    ({"summary": "x", "tokens": [{"token": "ledger", "draw": "bogus"}], "phrasings": ["a", "b"]},
     "draw must be one of"),
    ({"summary": "x", "tokens": [{"token": "nowhere", "draw": "word"}],
      "phrasings": ["ledger a", "ledger b"]}, "never occurs"),
    ({"summary": "x", "tokens": [{"token": "ledger", "draw": "word"}], "phrasings": ["only one"]},
     "at least 2"),
    ({"summary": "x", "tokens": [{"token": "ledger", "draw": "word"}],
      "phrasings": ["/srv/ledger/ledger.csv", "no path here"]}, "phrasings[1] does not name"),
    ({"summary": "x", "tokens": [{"token": "check", "draw": "word"}], "phrasings": ["a", "b"]},
     "too common"),
    ({"summary": "x", "tokens": [{"token": "ledger", "draw": "int"}], "phrasings": ["a", "b"]},
     "range"),
    ({"summary": "x", "tokens": [{"token": "ledger", "draw": "word"}], "phrasings": ["a", "b"],
      "colour": "blue"}, "unknown key"),
])
def test_bad_seed_specs(tmp_path, spec, needle):
    msg = _error(tmp_path, spec=spec)
    assert "tiny-ledger" in msg and needle in msg


# ----------------------------------------------------------------------------- Docker


def _verify(paths):
    from termforge.executor.verify import verify_tasks

    outcomes = verify_tasks(paths, jobs=2, write_files=False)
    failed = {o.task.name: o.reason for o in outcomes if not o.verified}
    assert not failed, failed


def _seed_copies(tmp_path: Path) -> list[Path]:
    out = []
    for seed in SEEDS:
        dest = tmp_path / "seeds" / seed.name
        shutil.copytree(seed.path, dest, ignore=shutil.ignore_patterns(".termforge", "__pycache__"))
        out.append(dest)
    return out


@pytest.mark.docker
@pytest.mark.timeout(1200)
def test_seeds_and_one_mutant_each_verify_in_docker(tmp_path, docker_ready):
    paths = _seed_copies(tmp_path)
    paths += [mutant(seed, tmp_path / "mutants").path for seed in SEEDS]
    _verify(paths)


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_three_mutants_each_verify_in_docker(tmp_path, docker_ready):
    _verify([mutant(seed, tmp_path / "mutants", k).path for seed in SEEDS for k in (1, 2, 3)])
