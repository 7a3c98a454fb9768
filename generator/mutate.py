"""Seed-based generation: human-written seed tasks rewritten into consistent new variants.

A seed is an ordinary, verifiable task directory (DESIGN §2) plus two files that never reach a
generated task:

    <seed>/seed.yaml      what may vary (schema below)
    <seed>/generate.py    optional: `def generate(rng) -> dict[str, str | bytes]` of fresh data

seed.yaml:

    summary: one line saying what the task is             (required)
    tokens:                                                (required, at least one)
      - token: run_backup        # a literal that occurs in the seed as a whole token
        draw: ident              # word | ident | slug | first_name | city | int | choice | hex
        parts: 2                 # ident/slug: number of words (default 2)
        range: [10, 40]          # int: inclusive bounds
        values: [a, b, c]        # choice: the candidates
        also: {"30 3": [x, y, z]}  # choice: companion tokens, replaced by the value at the same
                                 # index (one draw, several spellings: "03:30" and cron's "30 3")
        n: 8                     # hex: number of digits (default 8)
        prefix: ""               # put before / after the drawn value
        suffix: ""
        upper: false             # also rename the UPPER-CASE form (TOKEN -> VALUE)
        only: ["tests/*"]        # glob(s) of task-relative paths to rewrite (default: everywhere)
    phrasings:                   # at least 2 more wordings of instruction.md (seed coordinates);
      - |                        # each must name every token that instruction.md names
        ...
    shuffle_bullets: false       # reorder each block of "- " bullets in the instruction
    generate: generate.py        # optional, the default when that file exists
    generated: ["environment/rootfs/srv/data/*", "tests/expected.json"]
                                 # globs of the seed's files that generate() owns: they are
                                 # dropped before its output is added (required with generate)

A mutant is made in seed coordinates first and renamed last: fresh data from `generate(rng)`
(keys are task-relative paths under environment/, solution/ or tests/, so a generator can also
leave the pristine input or expected values for the tests), then one of the phrasings with a
generic lead-in or closing, then every token replaced by its draw -- whole tokens only (never
inside a longer identifier or number), in file contents and in the names of files and folders.
A drawn value never equals the seed's value and never repeats another draw; a drawn name (any draw
but int) also never occurs as a whole token anywhere in the (generated) seed, so two identities
cannot merge. Numbers are usually small and common, so an int token should be a distinctive value
in the seed or be scoped with `only`.

`refresh_seed_data(path)` rewrites a seed's own generated files from `generate(Random(0))`.
"""

from __future__ import annotations

import fnmatch
import builtins
import importlib.util
import inspect
import keyword
import os
import random
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Callable

import yaml

from termforge.errors import ConfigError, TaskFormatError, TermforgeError
from termforge.executor.task import Task, load_task, write_task
from termforge.generator import GENERATOR_VERSION
from termforge.generator.draw import CITIES, FIRST_NAMES, WORDS, ident, pick, token
from termforge.generator.spec import TEST_SH

SEEDS_DIR = Path(__file__).parent / "seeds"
TASK_PARTS = ("environment", "solution", "tests")
DRAWS = ("word", "ident", "slug", "first_name", "city", "int", "choice", "hex")
TOKEN_KEYS = {"token", "draw", "parts", "range", "values", "n", "prefix", "suffix", "upper", "only",
              "also"}
SEED_KEYS = {"summary", "tokens", "phrasings", "shuffle_bullets", "generate", "generated"}
_WORD = "A-Za-z0-9_"
_SKIP_DIRS = {".termforge", "__pycache__", ".pytest_cache"}
# Names too common to rename safely as whole tokens: Python keywords and builtins, frequent
# keyword arguments and modules, shell commands and structural words of a task.
_RESERVED = frozenset(keyword.kwlist) | frozenset(dir(builtins)) | frozenset("""
    self cls args kwargs check text capture_output cwd env timeout shell input output encoding
    os sys re io csv json time datetime date path pathlib subprocess shutil stat tarfile gzip
    hashlib random string socket sqlite3 pytest unittest main test tests app tmp var etc usr
    bin lib opt srv root home run log logs data file files name names value key user group
    bash sh cat cd ls cp mv rm echo printf make git tar python python3 pip grep sed awk sort
    find kill sleep set read export source true false none null solution environment
""".split())
# Drawn values must not shadow commands, users or groups of the base image either.
_UNSAFE_VALUES = _RESERVED | {"bridge", "shadow", "echo"}
_MAX_TRIES = 200

LEAD_INS = (
    "Please take care of the following on this machine.",
    "A teammate asked for help with this one.",
    "New ticket from the ops queue:",
    "You have a root shell on a Debian box. Here is the job.",
    "Here is a task for you.",
    "Something needs fixing in this environment.",
)
CLOSINGS = (
    "There is no network access, so work with what is already installed.",
    "You are root in this container and it is offline.",
    "Your work is checked automatically once you are done.",
    "Do not try to download anything: the environment has no network.",
)


@dataclass(frozen=True)
class TokenSpec:
    token: str
    draw: str
    parts: int = 2
    range: tuple[int, int] | None = None
    values: tuple[str, ...] = ()
    n: int = 8
    prefix: str = ""
    suffix: str = ""
    upper: bool = False
    only: tuple[str, ...] = ()
    also: tuple[tuple[str, tuple[str, ...]], ...] = ()   # choice companions: (token, values)

    def applies_to(self, rel: str) -> bool:
        return not self.only or any(fnmatch.fnmatch(rel, g) for g in self.only)


@dataclass
class Seed:
    name: str
    path: Path
    task: Task
    summary: str
    tokens: list[TokenSpec]
    phrasings: list[str]                      # instruction.md first, then seed.yaml's phrasings
    shuffle_bullets: bool = False
    generator: Callable[[random.Random], dict[str, str | bytes]] | None = None
    generated: tuple[str, ...] = ()           # globs of seed files the generator owns
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def category(self) -> str:
        return self.task.config.category

    @property
    def difficulty(self) -> str:
        return self.task.config.difficulty

    @property
    def skills(self) -> list[str]:
        return list(self.task.config.termforge.get("skills", []))


# ----------------------------------------------------------------------------- loading


def load_seeds(seeds_dir: str | os.PathLike = SEEDS_DIR) -> list[Seed]:
    """Every seed under `seeds_dir`, validated; sorted by name."""
    root = Path(seeds_dir)
    if not root.is_dir():
        raise ConfigError(f"{root}: seeds folder not found")
    dirs = sorted(p for p in root.iterdir() if p.is_dir() and p.name not in _SKIP_DIRS
                  and not p.name.startswith("."))
    if not dirs:
        raise ConfigError(f"{root}: no seed tasks (expected one folder per seed with seed.yaml)")
    return [load_seed(d) for d in dirs]


def load_seed(path: str | os.PathLike) -> Seed:
    """One seed folder, validated; any problem is one line naming the seed and what is wrong."""
    from termforge.generator.taxonomy import load_taxonomy

    path = Path(path)
    name = path.name

    def bad(msg: str, where: str = "seed.yaml") -> ConfigError:
        return ConfigError(f"seed {name}: {where}: {msg}")

    task = load_task(path, require_solution=True)
    tests_py = path / "tests" / "test_outputs.py"
    if not tests_py.is_file():
        raise TaskFormatError(tests_py, f"seed {name}: missing: a seed needs tests/test_outputs.py")
    if (path / "tests" / "test.sh").read_text(encoding="utf-8", errors="replace") != TEST_SH:
        raise TaskFormatError(path / "tests" / "test.sh",
                              f"seed {name}: must be exactly generator/spec.py's TEST_SH")
    cfg = task.config
    if cfg.difficulty not in ("easy", "medium", "hard"):
        raise bad(f"difficulty must be easy, medium or hard, got {cfg.difficulty!r}", "task.toml")
    taxonomy = load_taxonomy()
    if cfg.category not in taxonomy.categories:
        raise bad(f"unknown category {cfg.category!r} (see configs/skills.yaml)", "task.toml")
    skills = cfg.termforge.get("skills")
    if not isinstance(skills, list) or not skills:
        raise bad("[metadata.termforge] needs skills = [sub-skill ids]", "task.toml")
    for s in skills:
        if s not in taxonomy.skills:
            raise bad(f"unknown skill {s!r} (see configs/skills.yaml)", "task.toml")
    if cfg.termforge.get("source") != "seed":
        raise bad('[metadata.termforge] source must be "seed"', "task.toml")

    spec_path = path / "seed.yaml"
    if not spec_path.is_file():
        raise bad("missing: every seed needs seed.yaml saying what may vary")
    try:
        spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise bad(f"not valid YAML: {' '.join(str(exc).split())}") from None
    except UnicodeDecodeError:
        raise bad("not UTF-8 text") from None
    if not isinstance(spec, dict):
        raise bad("expected a mapping with summary, tokens and phrasings")
    unknown = set(spec) - SEED_KEYS
    if unknown:
        raise bad(f"unknown key(s) {', '.join(sorted(map(str, unknown)))} "
                  f"(allowed: {', '.join(sorted(SEED_KEYS))})")
    summary = spec.get("summary")
    if not isinstance(summary, str) or not summary.strip() or "\n" in summary.strip():
        raise bad("summary must be one non-empty line")

    raw_tokens = spec.get("tokens")
    if not isinstance(raw_tokens, list) or not raw_tokens:
        raise bad("tokens must be a non-empty list of {token, draw} mappings")
    tokens = [_parse_token(t, i, bad) for i, t in enumerate(raw_tokens)]
    seen: set[str] = set()
    for tok in [x for t in tokens for x in (t.token, *(o for o, _ in t.also))]:
        if tok in seen:
            raise bad(f"token {tok!r} is declared twice")
        seen.add(tok)

    phrasings = spec.get("phrasings")
    if (not isinstance(phrasings, list) or len(phrasings) < 2
            or not all(isinstance(p, str) and p.strip() for p in phrasings)):
        raise bad("phrasings must be a list of at least 2 non-empty instruction texts")
    shuffle = spec.get("shuffle_bullets", False)
    if not isinstance(shuffle, bool):
        raise bad(f"shuffle_bullets must be true or false, got {shuffle!r}")

    # every token must really occur, and every phrasing must name what instruction.md names
    files = _read_tree(path)
    corpus = "\n".join([task.instruction, *phrasings, *files,
                        *(c for c in files.values() if isinstance(c, str))])
    for tok in seen:
        if not _token_re([tok]).search(corpus):
            raise bad(f"token {tok!r} never occurs as a whole token in the seed")
    named = [t.token for t in tokens if _token_re([t.token]).search(task.instruction)]
    if not named:
        raise bad("instruction.md names none of the tokens, so a mutant's instruction could not "
                  "change")
    for i, p in enumerate(phrasings):
        missing = [tok for tok in named if not _token_re([tok]).search(p)]
        if missing:
            raise bad(f"phrasings[{i}] does not name {', '.join(map(repr, missing))} "
                      f"that instruction.md names")

    gen_name = spec.get("generate", "generate.py" if (path / "generate.py").is_file() else None)
    generator = None
    generated = spec.get("generated", [])
    if isinstance(generated, str):
        generated = [generated]
    if not isinstance(generated, list) or not all(isinstance(g, str) and g for g in generated):
        raise bad("generated must be a list of globs of task-relative paths")
    if gen_name is not None:
        if not isinstance(gen_name, str) or not (path / gen_name).is_file():
            raise bad(f"generate: {gen_name!r} is not a file of the seed")
        generator = _load_generator(path / gen_name, name, bad)
        if not generated:
            raise bad("a seed with generate.py needs generated: globs of the files it owns")
    elif generated:
        raise bad("generated is declared but the seed has no generate.py")

    return Seed(name=name, path=path, task=task, summary=summary.strip(), tokens=tokens,
                phrasings=[task.instruction, *phrasings], shuffle_bullets=shuffle,
                generator=generator, generated=tuple(generated), spec=spec)


def _parse_token(raw: Any, i: int, bad) -> TokenSpec:
    where = f"tokens[{i}]"
    if not isinstance(raw, dict):
        raise bad(f"{where}: expected a mapping with token and draw")
    unknown = set(raw) - TOKEN_KEYS
    if unknown:
        raise bad(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    tok = raw.get("token")
    if isinstance(tok, int) and not isinstance(tok, bool):
        tok = str(tok)
    if not isinstance(tok, str) or not tok.strip() or tok != tok.strip() or "\n" in tok:
        raise bad(f"{where}: token must be a non-empty string without surrounding spaces")
    where = f"{where} ({tok!r})"
    if tok in _RESERVED:
        raise bad(f"{where}: too common a word to rename safely (it would hit code and prose); "
                  f"rename a more specific identifier")
    draw = raw.get("draw")
    if draw not in DRAWS:
        raise bad(f"{where}: draw must be one of {', '.join(DRAWS)}, got {draw!r}")
    kw: dict[str, Any] = {"token": tok, "draw": draw}
    if draw == "int":
        rng_ = raw.get("range")
        if (not isinstance(rng_, list) or len(rng_) != 2 or not all(type(x) is int for x in rng_)
                or rng_[0] > rng_[1]):
            raise bad(f"{where}: int needs range: [low, high]")
        kw["range"] = (rng_[0], rng_[1])
    elif "range" in raw:
        raise bad(f"{where}: range only applies to draw: int")
    if draw == "choice":
        values = raw.get("values")
        if (not isinstance(values, list) or len(values) < 2
                or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in values)):
            raise bad(f"{where}: choice needs values: a list of at least 2 strings")
        kw["values"] = tuple(str(v) for v in values)
        also = raw.get("also", {})
        if not isinstance(also, dict):
            raise bad(f"{where}: also must map companion tokens to lists of values")
        pairs = []
        for other, vals in also.items():
            if (not isinstance(vals, list) or len(vals) != len(values)
                    or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in vals)):
                raise bad(f"{where}: also[{other!r}] needs one value per entry of values")
            pairs.append((str(other), tuple(str(v) for v in vals)))
        kw["also"] = tuple(pairs)
    elif "values" in raw or "also" in raw:
        raise bad(f"{where}: values and also only apply to draw: choice")
    for key in ("parts", "n"):
        if key in raw:
            v = raw[key]
            if type(v) is not int or not 1 <= v <= 6 * (1 if key == "parts" else 8):
                raise bad(f"{where}: {key} must be a small positive integer")
            kw[key] = v
    for key in ("prefix", "suffix"):
        if key in raw:
            if not isinstance(raw[key], str):
                raise bad(f"{where}: {key} must be a string")
            kw[key] = raw[key]
    if "upper" in raw:
        if not isinstance(raw["upper"], bool):
            raise bad(f"{where}: upper must be true or false")
        if raw["upper"] and tok.upper() == tok:
            raise bad(f"{where}: upper: the token has no distinct upper-case form")
        kw["upper"] = raw["upper"]
    if "only" in raw:
        only = raw["only"]
        if isinstance(only, str):
            only = [only]
        if not isinstance(only, list) or not only or not all(isinstance(g, str) for g in only):
            raise bad(f"{where}: only must be a glob or a list of globs of task-relative paths")
        kw["only"] = tuple(only)
    return TokenSpec(**kw)


def _load_generator(file: Path, name: str, bad) -> Callable:
    modname = "termforge_seed_" + re.sub(r"\W", "_", name)
    spec = importlib.util.spec_from_file_location(modname, file)
    module = importlib.util.module_from_spec(spec)
    before = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # no __pycache__ inside the (package data) seed folder
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # a seed's own bug: say which seed
        raise bad(f"cannot import: {type(exc).__name__}: {exc}", file.name) from None
    finally:
        sys.dont_write_bytecode = before
    fn = getattr(module, "generate", None)
    if not callable(fn):
        raise bad("must define generate(rng) -> dict of task-relative paths to contents",
                  file.name)
    params = [p for p in inspect.signature(fn).parameters.values()
              if p.default is inspect.Parameter.empty]
    if len(params) != 1:
        raise bad("generate must take exactly one argument, the random.Random", file.name)
    return fn


# ----------------------------------------------------------------------------- mutation


def mutate_seed(seed: Seed, rng: random.Random, dest: str | os.PathLike, name: str) -> Task:
    """Write a new task at `dest` (absent or empty): the seed with fresh data, draws and wording.

    The same rng state always gives the same task.
    """
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise TermforgeError(f"{dest}: destination of a mutant must be absent or empty")

    files = _read_tree(seed.path)
    modes = {rel: (seed.path / rel).stat().st_mode for rel in files}
    params: dict[str, Any] = {}

    # 1. fresh data, in seed coordinates
    if seed.generator is not None:
        data_seed = rng.getrandbits(32)
        params["data_seed"] = data_seed
        files = {rel: c for rel, c in files.items() if not _owned(seed, rel)}
        files.update(generate_data(seed, data_seed))

    # 2. wording, in seed coordinates
    idx = rng.randrange(len(seed.phrasings))
    params["phrasing"] = idx
    instruction = _reword(seed.phrasings[idx], rng, seed.shuffle_bullets, params)

    # 3. draws: never the seed's value, never another draw, never a token already in the seed
    corpus = "\n".join([instruction, *seed.phrasings, *files,
                        *(c for c in files.values() if isinstance(c, str))])
    corpus_lower = corpus.lower()
    values: dict[str, str] = {}
    taken: set[str] = set()
    for t in seed.tokens:
        values[t.token], core = _draw_value(t, rng, corpus_lower, taken, seed.name)
        taken.add(values[t.token].lower())
        for other, vals in t.also:  # companions follow the same choice
            values[other] = vals[t.values.index(core)]
    params["tokens"] = dict(values)

    # 4. rename everything, consistently
    instruction = _substitute(instruction, seed.tokens, values, "instruction.md")
    out_files: dict[str, str | bytes] = {}
    executable: list[str] = []
    for rel, content in sorted(files.items()):
        new_rel = _rename_path(rel, seed.tokens, values)
        if isinstance(content, str) and rel != "tests/test.sh":
            content = _substitute(content, seed.tokens, values, rel)
        if new_rel in out_files:
            raise ConfigError(f"seed {seed.name}: renaming makes two files {new_rel!r}")
        out_files[new_rel] = content
        if modes.get(rel, 0) & 0o111:
            executable.append(new_rel)

    tf = {
        "skills": seed.skills,
        "source": "seed",
        "seed_task": seed.name,
        "family": f"seed:{seed.name}",
        "params": params,
        "generator_version": GENERATOR_VERSION,
    }
    cfg = replace(seed.task.config, name=name, termforge=tf)
    dest.mkdir(parents=True, exist_ok=True)
    return write_task(dest, instruction=instruction, config=cfg, files=out_files,
                      executable=tuple(executable))


def generate_data(seed: Seed, data_seed: int) -> dict[str, str | bytes]:
    """The seed generator's files for `data_seed`, checked: task-relative, owned, str or bytes."""
    if seed.generator is None:
        return {}
    generated = seed.generator(random.Random(data_seed))
    if not isinstance(generated, dict):
        raise ConfigError(f"seed {seed.name}: generate.py: generate must return a dict, "
                          f"got {type(generated).__name__}")
    out: dict[str, str | bytes] = {}
    for rel, content in sorted(generated.items()):
        rel = _check_generated_path(seed.name, rel)
        if not _owned(seed, rel):
            raise ConfigError(f"seed {seed.name}: generate.py: {rel} is not covered by "
                              f"seed.yaml's generated globs")
        if not isinstance(content, (str, bytes)):
            raise ConfigError(f"seed {seed.name}: generate.py: {rel}: content must be str or bytes")
        out[rel] = content
    return out


def refresh_seed_data(path: str | os.PathLike, data_seed: int = 0) -> list[str]:
    """Rewrite a seed's generated files (those its `generated` globs own) from generate(Random(0)).

    For seed authors: keeps the as-is seed consistent with its generator. Returns the files written.
    """
    seed = load_seed(path)
    if seed.generator is None:
        raise ConfigError(f"seed {seed.name}: has no generate.py")
    for rel in _read_tree(seed.path):
        if _owned(seed, rel):
            (seed.path / rel).unlink()
    written = []
    for rel, content in generate_data(seed, data_seed).items():
        target = seed.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            target.write_text(content, encoding="utf-8")
        else:
            target.write_bytes(content)
        if rel.endswith(".sh"):
            target.chmod(0o755)
        written.append(rel)
    for part in TASK_PARTS:  # drop folders the old data left empty
        for dirpath, _dirs, _files in os.walk(seed.path / part, topdown=False):
            if Path(dirpath) != seed.path / part and not any(Path(dirpath).iterdir()):
                Path(dirpath).rmdir()
    return written


def _owned(seed: Seed, rel: str) -> bool:
    return any(fnmatch.fnmatch(rel, g) for g in seed.generated)


def _read_tree(root: Path) -> dict[str, str | bytes]:
    """environment/, solution/ and tests/ of a seed: text as str, anything else as bytes."""
    out: dict[str, str | bytes] = {}
    for part in TASK_PARTS:
        base = root / part
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
            for fn in sorted(filenames):
                p = Path(dirpath) / fn
                if p.is_symlink() or not p.is_file() or fn.endswith(".pyc"):
                    continue
                rel = p.relative_to(root).as_posix()
                data = p.read_bytes()
                try:
                    out[rel] = data.decode("utf-8")
                except UnicodeDecodeError:
                    out[rel] = data
    return out


def _check_generated_path(seed_name: str, rel: Any) -> str:
    if not isinstance(rel, str):
        raise ConfigError(f"seed {seed_name}: generate.py: file keys must be strings, got {rel!r}")
    p = PurePosixPath(rel)
    if p.is_absolute() or ".." in p.parts or not p.parts or p.parts[0] not in TASK_PARTS \
            or len(p.parts) < 2 or rel == "tests/test.sh":
        raise ConfigError(f"seed {seed_name}: generate.py: {rel!r} must be a relative path under "
                          f"{', '.join(TASK_PARTS)} (not tests/test.sh)")
    return p.as_posix()


def _draw_value(t: TokenSpec, rng: random.Random, corpus_lower: str, taken: set[str],
                seed_name: str) -> tuple[str, str]:
    """(value with prefix and suffix, the bare draw)."""
    for _ in range(_MAX_TRIES):
        if t.draw == "word":
            core = pick(rng, WORDS)
        elif t.draw == "ident":
            core = ident(rng, t.parts, "_")
        elif t.draw == "slug":
            core = ident(rng, t.parts, "-")
        elif t.draw == "first_name":
            core = pick(rng, FIRST_NAMES)
        elif t.draw == "city":
            core = pick(rng, CITIES)
        elif t.draw == "int":
            core = str(rng.randint(*t.range))
        elif t.draw == "choice":
            core = pick(rng, t.values)
        else:  # hex
            core = token(rng, t.n, "0123456789abcdef")
        value = f"{t.prefix}{core}{t.suffix}"
        low = value.lower()
        if value == t.token or low in taken:
            continue
        if low in _UNSAFE_VALUES or core.lower() in _UNSAFE_VALUES:
            continue
        if t.draw != "int" and _token_re([low]).search(corpus_lower):
            continue
        return value, core
    raise ConfigError(f"seed {seed_name}: seed.yaml: token {t.token!r}: no fresh value in "
                      f"{_MAX_TRIES} draws (widen its range or values)")


def _token_re(tokens: list[str]) -> re.Pattern:
    alts = "|".join(re.escape(t) for t in sorted(tokens, key=lambda s: (-len(s), s)))
    return re.compile(f"(?<![{_WORD}])(?:{alts})(?![{_WORD}])")


def _mapping(tokens: list[TokenSpec], values: dict[str, str], rel: str | None) -> dict[str, str]:
    m: dict[str, str] = {}
    for t in tokens:
        if rel is not None and not t.applies_to(rel):
            continue
        m[t.token] = values[t.token]
        for other, _vals in t.also:
            m[other] = values[other]
        if t.upper:
            m.setdefault(t.token.upper(), values[t.token].upper())
    return m


def _substitute(text: str, tokens: list[TokenSpec], values: dict[str, str], rel: str) -> str:
    m = _mapping(tokens, values, rel)
    if not m:
        return text
    return _token_re(list(m)).sub(lambda mo: m[mo.group(0)], text)


def _rename_path(rel: str, tokens: list[TokenSpec], values: dict[str, str]) -> str:
    m = _mapping(tokens, values, rel)
    if not m:
        return rel
    pat = _token_re(list(m))
    parts = rel.split("/")
    # the first part (environment/solution/tests) is structure, never renamed
    return "/".join([parts[0]] + [pat.sub(lambda mo: m[mo.group(0)], p) for p in parts[1:]])


def _reword(text: str, rng: random.Random, shuffle_bullets: bool, params: dict[str, Any]) -> str:
    """Generic rewording that keeps the meaning: bullet order, a lead-in, a closing line."""
    body = text.strip("\n")
    if shuffle_bullets:
        body = _shuffle_bullet_blocks(body, rng)
    paragraphs = [body]
    if rng.random() < 0.5:
        i = rng.randrange(len(LEAD_INS))
        params["lead_in"] = i
        paragraphs.insert(0, LEAD_INS[i])
    if rng.random() < 0.4:
        i = rng.randrange(len(CLOSINGS))
        params["closing"] = i
        paragraphs.append(CLOSINGS[i])
    return "\n\n".join(paragraphs) + "\n"


def _shuffle_bullet_blocks(text: str, rng: random.Random) -> str:
    """Shuffle each run of consecutive `- ` bullets (with their indented continuation lines)."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith("- "):
            out.append(lines[i])
            i += 1
            continue
        items: list[list[str]] = []
        while i < len(lines) and (lines[i].startswith("- ")
                                  or (items and lines[i].startswith("  ") and lines[i].strip())):
            if lines[i].startswith("- "):
                items.append([lines[i]])
            else:
                items[-1].append(lines[i])
            i += 1
        ends = [item[-1].rstrip()[-1:] for item in items]
        listy = len(items) > 1 and ends[-1] == "." and all(e == ";" for e in ends[:-1])
        rng.shuffle(items)
        if listy:  # "a;" "b;" "c." keeps its punctuation after reordering
            for k, item in enumerate(items):
                mark = "." if k == len(items) - 1 else ";"
                item[-1] = item[-1].rstrip()[:-1] + mark
        for item in items:
            out.extend(item)
    return "\n".join(out)


__all__ = ["Seed", "TokenSpec", "load_seeds", "load_seed", "mutate_seed", "SEEDS_DIR"]
