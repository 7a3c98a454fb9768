"""Git families: history queries, branching and conflict resolution, revert/cherry-pick/restore,
tags, .gitignore, first commits.

Repositories are built at image build time by one small Python interpreter (`/tmp/gitbuild.py`,
removed after use) from a list of operations with fixed author names, e-mails and dates, so the
same draw always gives the same commit hashes. The Python side keeps a model of every branch's
files, from which the expected outcomes are computed; tests find commits by their (unique)
subjects at verification time instead of hard-coding hashes.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone

from termforge.generator.draw import (FIRST_NAMES, ident, lines_text, phrasing, pick, py,
                                      sh_quote, word, words)
from termforge.generator.registry import family
from termforge.generator.spec import Artifact, Step

GITBUILD_PY = r'''#!/usr/bin/env python3
"""Build a git repository from a JSON list of operations (image build time only)."""
import json
import os
import subprocess
import sys

spec = json.load(open(sys.argv[1]))
repo = spec["path"]
os.makedirs(repo, exist_ok=True)
subjects = {}


def git(*args, env=None):
    e = dict(os.environ, **(env or {}))
    subprocess.run(["git", *args], cwd=repo, check=True, env=e, stdout=subprocess.DEVNULL)


def who(op):
    name, email = op["author"]
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": op["date"],
            "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email,
            "GIT_COMMITTER_DATE": op["date"]}


def write(files):
    for path, content in files.items():
        full = os.path.join(repo, path)
        if content is None:
            if os.path.exists(full):
                os.remove(full)
            continue
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8", newline="") as f:
            f.write(content)


def rev(ref):
    return subjects.get(ref, ref)


for key, value in spec.get("global_config", {}).items():
    subprocess.run(["git", "config", "--global", key, value], check=True)
git("init", "-q", "-b", "main")
for op in spec["ops"]:
    kind = op["op"]
    if kind == "commit":
        write(op["files"])
        git("add", "-A")
        git("commit", "-q", "--allow-empty", "-m", op["message"], env=who(op))
        subjects[op["message"].split("\n")[0]] = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True,
            text=True).stdout.strip()
    elif kind == "checkout":
        if op.get("from"):
            git("checkout", "-q", "-b", op["branch"], rev(op["from"]))
        else:
            git("checkout", "-q", op["branch"])
    elif kind == "merge":
        git("merge", "-q", "--no-ff", "-m", op["message"], op["branch"], env=who(op))
        subjects[op["message"]] = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True,
            text=True).stdout.strip()
    elif kind == "tag":
        if op.get("message"):
            git("tag", "-a", op["name"], "-m", op["message"], rev(op["at"]), env=who(op))
        else:
            git("tag", op["name"], rev(op["at"]))
    elif kind == "write":
        write(op["files"])
    elif kind == "stage":
        git("add", "--", *op["paths"])
    else:
        raise SystemExit(f"unknown op {kind}")
'''

TEST_HELPERS = '''
import subprocess

REPO = {repo!r}


def git(*args, check=True):
    r = subprocess.run(["git", "-C", REPO, *args], capture_output=True, text=True)
    if check:
        assert r.returncode == 0, f"git {{' '.join(args)}}: {{r.stderr}}"
    return r.stdout


def sha_of(subject, ref="--all"):
    hits = [ln.split(" ", 1)[0] for ln in git("log", ref, "--format=%H %s").splitlines()
            if ln.split(" ", 1)[1:] == [subject]]
    assert len(hits) == 1, f"expected exactly one commit with subject {{subject!r}} in {{ref}}"
    return hits[0]
'''

TZS = ("+0000", "+0100", "+0200", "-0500", "+0530", "-0300")


def _lcs(a: list[str], b: list[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


class History:
    """A model of a repository being built, and the operations that build it."""

    def __init__(self, rng: random.Random, path: str, start: datetime | None = None):
        self.rng = rng
        self.path = path
        self.t = int((start or datetime(rng.randint(2021, 2024), rng.randint(1, 9), rng.randint(1, 20),
                                        9, 0, tzinfo=timezone.utc)).timestamp())
        self.ops: list[dict] = []
        self.branches: dict[str, dict[str, str]] = {"main": {}}
        self.cur = "main"
        self.commits: list[dict] = []
        self.counter = 0

    def uniq(self) -> int:
        self.counter += 1
        return self.counter

    def advance(self, lo_h: int = 2, hi_h: int = 40) -> int:
        self.t += self.rng.randint(lo_h * 3600, hi_h * 3600)
        # keep commits in working hours (UTC 08-19) so date windows are never ambiguous
        dt = datetime.fromtimestamp(self.t, timezone.utc)
        if dt.hour < 8 or dt.hour > 19:
            dt = dt.replace(hour=self.rng.randint(8, 19))
            self.t = int(dt.timestamp())
        return self.t

    @staticmethod
    def date(t: int, tz: str = "+0000") -> str:
        return f"{t} {tz}"

    def files(self, branch: str | None = None) -> dict[str, str]:
        return self.branches[branch or self.cur]

    def commit(self, message: str, changes: dict[str, str | None], author: tuple[str, str],
               tz: str = "+0000") -> dict:
        state = self.branches[self.cur]
        added = deleted = 0
        for path, content in changes.items():
            old = state.get(path, "").splitlines()
            new = (content or "").splitlines()
            common = _lcs(old, new)
            added += len(new) - common
            deleted += len(old) - common
            if content is None:
                state.pop(path, None)
            else:
                state[path] = content
        t = self.advance()
        self.ops.append({"op": "commit", "files": changes, "message": message,
                         "author": list(author), "date": self.date(t, tz)})
        rec = {"subject": message.split("\n")[0], "author": author, "t": t, "branch": self.cur,
               "added": added, "deleted": deleted, "merge": False}
        self.commits.append(rec)
        return rec

    def checkout(self, branch: str, new_from: str | None = None, at_subject: str | None = None):
        if new_from is not None:
            self.branches[branch] = dict(self.branches[new_from] if at_subject is None
                                         else self._state_at(at_subject))
            self.ops.append({"op": "checkout", "branch": branch, "from": at_subject or new_from})
        else:
            self.ops.append({"op": "checkout", "branch": branch})
        self.cur = branch

    def _state_at(self, subject: str) -> dict[str, str]:
        raise NotImplementedError("branch from a subject: track states explicitly")

    def merge(self, branch: str, message: str, author: tuple[str, str], base: dict[str, str]):
        """A merge without conflicts: files changed on `branch` since `base` win."""
        state = self.branches[self.cur]
        for path in set(self.branches[branch]) | set(base):
            theirs = self.branches[branch].get(path)
            if theirs != base.get(path):
                if theirs is None:
                    state.pop(path, None)
                else:
                    state[path] = theirs
        t = self.advance()
        self.ops.append({"op": "merge", "branch": branch, "message": message, "author": list(author),
                         "date": self.date(t)})
        self.commits.append({"subject": message, "author": author, "t": t, "branch": self.cur,
                             "added": 0, "deleted": 0, "merge": True})

    def tag(self, name: str, at_subject: str, message: str | None = None,
            author: tuple[str, str] = ("Release Bot", "release@example.com")):
        self.ops.append({"op": "tag", "name": name, "at": at_subject, "message": message,
                         "author": list(author), "date": self.date(self.t)})

    def write(self, files: dict[str, str | None]):
        self.ops.append({"op": "write", "files": files})

    def stage(self, paths: list[str]):
        self.ops.append({"op": "stage", "paths": paths})

    def build(self, identity: tuple[str, str] = ("Dev Person", "dev@example.com")) -> tuple[dict, list[str]]:
        spec = {"path": self.path, "ops": self.ops,
                "global_config": {"user.name": identity[0], "user.email": identity[1],
                                  "init.defaultBranch": "main", "advice.detachedHead": "false"}}
        # the interpreter is the same for every repository; the operations file is named after
        # the repository so that two steps of one task never write different content to one path
        ops = f"/tmp/gitbuild-{self.path.strip('/').replace('/', '-')}.json"
        files = {"/tmp/gitbuild.py": GITBUILD_PY,
                 ops: json.dumps(spec, indent=1, ensure_ascii=False) + "\n"}
        run = [f"python3 /tmp/gitbuild.py {ops} && rm -f {ops}"]
        return files, run


def _authors(rng: random.Random, k: int) -> list[tuple[str, str]]:
    firsts = rng.sample(FIRST_NAMES, k)
    lasts = rng.sample(["Silva", "Novak", "Okafor", "Tanaka", "Müller", "Haddad", "Kowalski",
                        "Nguyen", "García", "Ivanova", "Olsen", "Rossi", "Park", "Mensah"], k)
    domain = pick(rng, ("example.com", "corp.test", "dev.internal"))
    return [(f"{f.capitalize()} {l}", f"{f}.{l.lower().replace('ü', 'ue').replace('í', 'i')}@{domain}")
            for f, l in zip(firsts, lasts)]


def _repo_path(rng: random.Random) -> str:
    return f"/app/{ident(rng, 2, '-')}"


def _settings(rng: random.Random, keys: list[str]) -> dict[str, str]:
    return {k: str(rng.randint(1, 500)) for k in keys}


def _ini(values: dict[str, str], header: str = "[main]") -> str:
    return header + "\n" + "".join(f"{k} = {v}\n" for k, v in values.items())


def _module(funcs: dict[str, int]) -> str:
    return "".join(f"def {name}():\n    return {val}\n\n\n" for name, val in funcs.items()).rstrip() + "\n"


def _tests(repo: str, body: str) -> str:
    return TEST_HELPERS.format(repo=repo) + body


def _noisy_commits(h: History, rng: random.Random, authors, n: int, modules: list[str],
                   avoid: set[str] = frozenset(), docs: bool = True) -> None:
    """n ordinary commits: new functions, changed return values, README lines."""
    verbs = ("Add", "Refactor", "Tune", "Update", "Extend", "Tidy", "Rework")
    for _ in range(n):
        kind = rng.random()
        mod = pick(rng, modules)
        state = h.files()
        if not docs:
            kind = kind * 0.8
        if kind < 0.45 or mod not in state:
            funcs = _parse_funcs(state.get(mod, ""))
            name = f"{word(rng)}_{h.uniq()}"
            funcs[name] = rng.randint(1, 999)
            h.commit(f"{pick(rng, verbs)} {name} in {mod.rsplit('/', 1)[-1]}",
                     {mod: _module(funcs)}, pick(rng, authors), pick(rng, TZS))
        elif kind < 0.8:
            funcs = _parse_funcs(state[mod])
            cands = [f for f in funcs if f not in avoid]
            if not cands:
                continue
            name = pick(rng, cands)
            funcs[name] = funcs[name] + rng.randint(1, 50)
            h.commit(f"{pick(rng, verbs)} {name} return value (#{h.uniq()})",
                     {mod: _module(funcs)}, pick(rng, authors), pick(rng, TZS))
        else:
            readme = state.get("README.md", "# Project\n")
            line = f"- note {h.uniq()}: {' '.join(words(rng, 3))}"
            h.commit(f"Docs: {line[2:]}", {"README.md": readme + line + "\n"}, pick(rng, authors),
                     pick(rng, TZS))


def _parse_funcs(text: str) -> dict[str, int]:
    funcs: dict[str, int] = {}
    name = None
    for ln in text.splitlines():
        if ln.startswith("def "):
            name = ln[4:].split("(")[0]
        elif ln.strip().startswith("return ") and name:
            funcs[name] = int(ln.strip()[7:])
            name = None
    return funcs


# --------------------------------------------------------------------------------------------
# git.find-commit
# --------------------------------------------------------------------------------------------

@family("git.find-commit", category="git", skills=("git.history",), difficulty="medium")
def find_commit(rng: random.Random, inp: Artifact | None) -> Step:
    repo = _repo_path(rng)
    authors = _authors(rng, rng.randint(3, 4))
    h = History(rng, repo)
    modules = [f"src/{w}.py" for w in words(rng, 2)]
    cfg = "config/settings.ini"
    keys = words(rng, 6)
    values = _settings(rng, keys)
    h.commit("Initial import", {cfg: _ini(values), modules[0]: _module({f"{word(rng)}_0": 1}),
                                "README.md": "# Project\n"}, authors[0])
    needle = f"{word(rng).upper()}_{word(rng).upper()}"
    variant = pick(rng, ("introduced", "removed", "last-changed"))
    _noisy_commits(h, rng, authors, rng.randint(3, 5), modules)
    # a distractor that mentions the needle in its message but does not touch it
    _noisy_commits(h, rng, authors, 1, modules)
    h.ops[-1]["message"] = h.commits[-1]["subject"] = f"Prepare config for {needle} rollout"
    target_file = cfg
    values[needle.lower()] = str(rng.randint(1, 9))
    intro = h.commit(pick(rng, (f"Add {needle.lower()} setting", f"Introduce rollout switch #{h.uniq()}",
                                f"Config: new toggle ({h.uniq()})")),
                     {cfg: _ini(values)}, pick(rng, authors), pick(rng, TZS))
    _noisy_commits(h, rng, authors, rng.randint(2, 4), modules)
    values[needle.lower()] = str(int(values[needle.lower()]) + rng.randint(1, 9))
    change = h.commit(f"Raise rollout percentage (#{h.uniq()})", {cfg: _ini(values)},
                      pick(rng, authors), pick(rng, TZS))
    _noisy_commits(h, rng, authors, rng.randint(2, 3), modules)
    removal = None
    if variant == "removed":
        del values[needle.lower()]
        removal = h.commit(f"Clean up settings (#{h.uniq()})", {cfg: _ini(values)},
                           pick(rng, authors), pick(rng, TZS))
        _noisy_commits(h, rng, authors, rng.randint(1, 3), modules)
    key = needle.lower()
    answer = {"introduced": intro, "removed": removal, "last-changed": change}[variant]
    out = f"/app/{pick(rng, ('answer.txt', 'commit.txt', 'culprit.txt'))}"
    question = {
        "introduced": f"the commit that first added the `{key}` setting to `{target_file}`",
        "removed": f"the commit that removed the `{key}` setting from `{target_file}`",
        "last-changed": f"the commit that last changed the line of `{target_file}` that sets "
                        f"`{key}`",
    }[variant]
    instruction = phrasing(
        rng,
        "In the git repository `{repo}`, find {q}. Write its full 40-character commit hash on the "
        "first line of `{out}` and the e-mail address of its author on the second line. Do not "
        "modify the repository.",
        "Repository archaeology: `{repo}` is a git repository. Identify {q} (search the history, "
        "not the commit messages — they can be misleading). Save the answer to `{out}` as two "
        "lines: the full commit SHA-1, then the author's e-mail.",
        "Look through the history of `{repo}` and determine {q}. Put the full hash of that commit "
        "in `{out}` (line 1) followed by the author e-mail (line 2). Leave the repository as it "
        "is.",
        repo=repo, q=question, out=out,
    )
    if variant == "introduced":
        find = f"git log --reverse --format=%H -S '{key} =' -- {target_file} | head -n 1"
    elif variant == "removed":
        find = f"git log --format=%H -S '{key} =' -- {target_file} | head -n 1"
    else:
        find = f"git blame --porcelain -L '/^{key} =/,+1' -- {target_file} | head -n 1 | cut -d' ' -f1"
    solution = (f"cd {repo}\nsha=$({find})\n"
                f"{{ echo \"$sha\"; git log -1 --format=%ae \"$sha\"; }} > {out}\n")
    files, run = h.build()
    tests = _tests(repo, f"""

def test_answer():
    lines = [ln.strip() for ln in open({out!r}).read().splitlines() if ln.strip()]
    assert len(lines) == 2, lines
    assert lines[0] == sha_of({answer['subject']!r})
    assert lines[1] == {answer['author'][1]!r}


def test_repository_untouched():
    assert git("status", "--porcelain") == ""
    assert git("log", "-1", "--format=%s") == {h.commits[-1]['subject'] + chr(10)!r}
""")
    return Step(instruction, solution, tests, files=files, run=run,
                params={"repo": repo, "variant": variant, "needle": key,
                        "n_commits": len(h.commits)})


# --------------------------------------------------------------------------------------------
# git.author-stats
# --------------------------------------------------------------------------------------------

@family("git.author-stats", category="git", skills=("git.history", "data.csv"),
        difficulty="medium", produces="csv")
def author_stats(rng: random.Random, inp: Artifact | None) -> Step:
    repo = _repo_path(rng)
    authors = _authors(rng, rng.randint(3, 5))
    # one person commits from two addresses
    two_mail = authors[1]
    alt = (two_mail[0], two_mail[1].split("@")[0] + "@" + pick(rng, ("gmail.test", "home.test")))
    h = History(rng, repo, datetime(2023, rng.randint(1, 3), rng.randint(1, 20), 9, 0,
                                    tzinfo=timezone.utc))
    modules = [f"src/{w}.py" for w in words(rng, 3)]
    h.commit("Initial commit", {"README.md": "# Project\n", modules[0]: _module({"main_0": 0})},
             authors[0])
    n = rng.randint(18, 28)
    for i in range(n):
        if i == n // 2:
            base = dict(h.files())
            h.checkout("topic", "main")
            _noisy_commits(h, rng, [authors[-1], alt], 2, [modules[2]], docs=False)
            h.checkout("main")
            _noisy_commits(h, rng, authors, 1, modules[:2], docs=False)
            h.merge("topic", f"Merge branch 'topic' (#{h.uniq()})", authors[0], base)
        pool = authors + [alt]
        _noisy_commits(h, rng, pool, 1, modules)
    ts = sorted(c["t"] for c in h.commits)
    lo_dt = datetime.fromtimestamp(ts[len(ts) // 5], timezone.utc).date()
    hi_dt = datetime.fromtimestamp(ts[len(ts) * 4 // 5], timezone.utc).date()
    lo = int(datetime(lo_dt.year, lo_dt.month, lo_dt.day, tzinfo=timezone.utc).timestamp())
    hi = int(datetime(hi_dt.year, hi_dt.month, hi_dt.day, 23, 59, 59, tzinfo=timezone.utc).timestamp())
    stats: dict[str, list[int]] = {}
    for c in h.commits:
        if c["merge"] or not lo <= c["t"] <= hi:
            continue
        s = stats.setdefault(c["author"][0], [0, 0, 0])
        s[0] += 1
        s[1] += c["added"]
        s[2] += c["deleted"]
    rows = [[name, str(s[0]), str(s[1]), str(s[2])]
            for name, s in sorted(stats.items(), key=lambda kv: (-kv[1][0], kv[0]))]
    header = ["author", "commits", "added", "deleted"]
    out = f"/app/{pick(rng, ('authors.csv', 'contributions.csv', 'author-stats.csv'))}"
    since, until = lo_dt.isoformat(), hi_dt.isoformat()
    instruction = phrasing(
        rng,
        "Summarise who worked on the git repository `{repo}` between {since} and {until} "
        "(inclusive, author dates in UTC). Write `{out}` as CSV with header "
        "`author,commits,added,deleted`: one row per author name (a person who used several "
        "e-mail addresses is one author), the number of non-merge commits in that period, and "
        "the total lines added and deleted by those commits (as `git log --numstat` counts "
        "them). Sort by commits descending, then author name ascending.",
        "Produce contribution statistics for `{repo}`: for every author name with non-merge "
        "commits dated from {since} to {until} (both days included, UTC), count the commits and "
        "sum the added and deleted lines reported by numstat. Save the result as `{out}` (CSV, "
        "header `author,commits,added,deleted`, most commits first, ties by name). Merge commits "
        "do not count. Group by name, not e-mail.",
        "Management wants a report of the work done in `{repo}` from {since} through {until} "
        "(UTC author dates). Create `{out}` with the columns `author,commits,added,deleted` — "
        "commits excluding merges, lines added/deleted per `--numstat` — one row per author "
        "name, ordered by number of commits (highest first) and then alphabetically.",
        repo=repo, since=since, until=until, out=out,
    )
    solution = f"""cd {repo}
{{ echo 'author,commits,added,deleted'
  git log --no-merges --since='{since} 00:00:00 +0000' --until='{until} 23:59:59 +0000' \\
      --format='@%an' --numstat | awk -F'\\t' '
    /^@/ {{ a = substr($0, 2); c[a]++; next }}
    NF == 3 {{ add[a] += $1; del[a] += $2 }}
    END {{ for (a in c) printf "%s,%d,%d,%d\\n", a, c[a], add[a], del[a] }}' \\
  | LC_ALL=C sort -t, -k2,2nr -k1,1
}} > {out}
"""
    files, run = h.build()
    tests = f"""
import csv

ROWS = {py(rows)}


def test_report():
    with open({out!r}, newline="", encoding="utf-8") as f:
        got = [r for r in csv.reader(f) if r]
    assert got[0] == {header!r}
    assert got[1:] == ROWS
"""
    return Step(instruction, solution, tests, files=files, run=run,
                output=Artifact(out, "csv", {"header": header, "rows": rows}),
                params={"repo": repo, "since": since, "until": until, "n_authors": len(rows)})


# --------------------------------------------------------------------------------------------
# git.merge-conflict
# --------------------------------------------------------------------------------------------

@family("git.merge-conflict", category="git", skills=("git.branching", "git.commit"),
        difficulty="hard")
def merge_conflict(rng: random.Random, inp: Artifact | None) -> Step:
    repo = _repo_path(rng)
    authors = _authors(rng, 3)
    h = History(rng, repo)
    feature = f"feature/{ident(rng, 1)}-{pick(rng, ('cache', 'limits', 'tuning', 'timeouts'))}"
    conf = f"config/{pick(rng, ('app', 'service', 'server'))}.conf"
    keys = words(rng, 10)
    base = {k: str(rng.randint(1, 100)) for k in keys}
    log = "CHANGELOG.md"
    old_entry = f"- {' '.join(words(rng, 3))}"
    changelog = f"# Changelog\n\n## Unreleased\n\n{old_entry}\n"

    def conf_text(vals, extra=()):
        return "".join(f"{k}={v}\n" for k, v in vals.items()) + "".join(f"{ln}\n" for ln in extra)

    h.commit("Initial configuration", {conf: conf_text(base), log: changelog,
                                       "README.md": "# Service\n"}, authors[0])
    a, b, c1, c2 = rng.sample(keys, 4)
    main_vals, feat_vals = dict(base), dict(base)
    main_vals[a] = str(int(base[a]) + rng.randint(1, 50))
    feat_vals[b] = str(int(base[b]) + rng.randint(1, 50))
    for k in (c1, c2):
        main_vals[k] = str(int(base[k]) + rng.randint(1, 40))
        feat_vals[k] = str(int(base[k]) + rng.randint(41, 90))
    new_m = f"{word(rng)}_{rng.randint(1, 9)}={rng.randint(1, 99)}"
    new_f = f"{word(rng)}_{rng.randint(10, 19)}={rng.randint(1, 99)}"
    m_entry = f"- {' '.join(words(rng, 4))}"
    f_entry = f"- {' '.join(words(rng, 4))}"
    side = {c1: "main", c2: pick(rng, ("main", "feature"))}
    if side[c2] == "main":
        side[c1] = "feature"
    log_first = pick(rng, ("main", "feature"))
    h.checkout(feature, "main")
    new_file = f"src/{ident(rng, 1)}.py"
    h.commit(f"Add {new_file.rsplit('/', 1)[1]}", {new_file: _module({f"{word(rng)}_1": 7})},
             authors[1])
    h.commit(f"Tune {b}, {c1} and {c2} for the feature",
             {conf: conf_text(feat_vals, [new_f]),
              log: changelog.replace("## Unreleased\n\n", f"## Unreleased\n\n{f_entry}\n")},
             authors[1])
    feat_tip = h.commits[-1]["subject"]
    h.checkout("main")
    h.commit(f"Adjust {a}, {c1} and {c2} in production",
             {conf: conf_text(main_vals, [new_m]),
              log: changelog.replace("## Unreleased\n\n", f"## Unreleased\n\n{m_entry}\n")},
             authors[2])
    main_tip = h.commits[-1]["subject"]
    final = dict(base)
    final[a], final[b] = main_vals[a], feat_vals[b]
    for k in (c1, c2):
        final[k] = main_vals[k] if side[k] == "main" else feat_vals[k]
    final_conf = conf_text(final, [new_m, new_f])
    entries = [m_entry, f_entry] if log_first == "main" else [f_entry, m_entry]
    final_log = changelog.replace("## Unreleased\n\n", "## Unreleased\n\n" + "".join(e + "\n" for e in entries))
    message = pick(rng, (f"Merge {feature} into main", f"Merge branch '{feature}'",
                         f"Integrate {feature.split('/')[1]}"))
    branch_of = {"main": "main", "feature": feature}
    instruction = phrasing(
        rng,
        "In the git repository `{repo}`, merge the branch `{feature}` into `main`. The merge "
        "conflicts; resolve it like this:\n\n"
        "- `{conf}`: every key appears once, in the original order. Keys changed on only one "
        "branch take that branch's value. For `{c1}` keep the value from `{s1}`, for `{c2}` the "
        "value from `{s2}`. Both branches appended a new key at the end: keep both lines, "
        "`main`'s first.\n"
        "- `{log}`: keep both new entries under `## Unreleased`, the one from `{lf}` first, "
        "followed by the existing entries.\n\n"
        "Commit the merge on `main` with the message `{msg}` (a real merge commit with both "
        "branch tips as parents). The working tree must be clean afterwards and no conflict "
        "markers may remain.",
        "`{repo}`: bring `{feature}` into `main` with a merge commit whose message is exactly "
        "`{msg}`. Expected conflict resolution — in `{conf}` take `{c1}` from `{s1}` and `{c2}` "
        "from `{s2}`, take every other changed key from the branch that changed it, keep the key "
        "order, and keep both appended keys at the end (`main`'s line before `{feature}`'s); "
        "in `{log}` list both new entries at the top of `## Unreleased`, `{lf}`'s entry first. "
        "Leave a clean working tree on `main`.",
        "Finish the pending integration in the repository `{repo}`: merge `{feature}` into "
        "`main` (no rebase, no squash: the merge commit must have the tips of `main` and "
        "`{feature}` as parents) and commit it with the message `{msg}`. Resolve conflicts as "
        "follows. `{conf}`: `{c1}` = value from `{s1}`, `{c2}` = value from `{s2}`, all other "
        "keys = whichever branch modified them, original order, then the two added keys with "
        "`main`'s first. `{log}`: both new bullet points under `## Unreleased`, `{lf}`'s first, "
        "then the older ones. Nothing may be left uncommitted.",
        repo=repo, feature=feature, conf=conf, c1=c1, c2=c2, s1=branch_of[side[c1]],
        s2=branch_of[side[c2]], log=log,
        lf=branch_of[log_first], msg=message,
    )
    solution = f"""cd {repo}
git checkout -q main
git merge --no-ff --no-commit {feature} || true
cat > {conf} <<'EOF'
{final_conf}EOF
cat > {log} <<'EOF'
{final_log}EOF
git add -A
git commit -q -m {sh_quote(message)}
"""
    files, run = h.build()
    tests = _tests(repo, f"""

def test_merge_commit():
    assert git("symbolic-ref", "HEAD").strip() == "refs/heads/main"
    parents = git("log", "-1", "--format=%P", "HEAD").split()
    assert parents == [sha_of({main_tip!r}), sha_of({feat_tip!r})]
    assert git("log", "-1", "--format=%s").strip() == {message!r}


def test_resolved_config_committed():
    assert git("show", "HEAD:{conf}") == {final_conf!r}


def test_resolved_changelog_committed():
    assert git("show", "HEAD:{log}") == {final_log!r}


def test_feature_file_merged():
    assert git("show", "HEAD:{new_file}").startswith("def ")


def test_clean_tree():
    assert git("status", "--porcelain") == ""
    assert "<<<<<<<" not in open(REPO + "/{conf}").read()
    assert git("rev-parse", "{feature}").strip() == sha_of({feat_tip!r})
""")
    return Step(instruction, solution, tests, files=files, run=run,
                params={"repo": repo, "feature": feature, "sides": side, "log_first": log_first})


# --------------------------------------------------------------------------------------------
# git.revert-commit
# --------------------------------------------------------------------------------------------

@family("git.revert-commit", category="git", skills=("git.repair", "git.history"),
        difficulty="medium")
def revert_commit(rng: random.Random, inp: Artifact | None) -> Step:
    repo = _repo_path(rng)
    authors = _authors(rng, 3)
    h = History(rng, repo)
    modules = [f"src/{w}.py" for w in words(rng, 2)]
    cfg = f"config/{pick(rng, ('settings', 'defaults', 'runtime'))}.ini"
    keys = words(rng, 12)
    values = _settings(rng, keys)
    h.commit("Initial import", {cfg: _ini(values), modules[0]: _module({"start_0": 1}),
                                "README.md": "# Service\n"}, authors[0])
    _noisy_commits(h, rng, authors, rng.randint(2, 4), modules)
    bad_key = keys[rng.randint(0, 2)]
    bad_val = pick(rng, ("0", "-1", "99999"))
    second = keys[rng.randint(4, 5)] if rng.random() < 0.5 else None
    before = dict(values)
    values[bad_key] = bad_val
    if second:
        values[second] = str(int(values[second]) * 10)
    bad = h.commit(pick(rng, ("Quick fix for staging", f"Tweak settings (#{h.uniq()})",
                              "WIP: debugging the outage")),
                   {cfg: _ini(values)}, pick(rng, authors), pick(rng, TZS))
    _noisy_commits(h, rng, authors, rng.randint(2, 4), modules)
    # a later, unrelated change to the same file, far from the bad lines
    values[keys[-1]] = str(int(values[keys[-1]]) + 1)
    values[f"{word(rng)}_{h.uniq()}"] = str(rng.randint(1, 50))
    h.commit(f"Add {list(values)[-1]} setting", {cfg: _ini(values)}, pick(rng, authors))
    _noisy_commits(h, rng, authors, rng.randint(1, 2), modules)
    tip = h.commits[-1]["subject"]
    expected_cfg = dict(values)
    expected_cfg[bad_key] = before[bad_key]
    if second:
        expected_cfg[second] = before[second]
    expected = dict(h.files())
    expected[cfg] = _ini(expected_cfg)
    what = f"`{bad_key}` to `{bad_val}`" + (f" (and also changed `{second}`)" if second else "")
    instruction = phrasing(
        rng,
        "A bad commit in the git repository `{repo}` set {what} in `{cfg}`, and it has already "
        "been pushed, so history must not be rewritten. Undo exactly that commit with a new "
        "commit on top of `main`; all later changes must be kept. Leave a clean working tree.",
        "In `{repo}` someone committed a change that sets {what} in `{cfg}`. Find that commit "
        "and revert it on `main` with a new commit (do not reset, amend or rebase: `main` has "
        "been shared). Everything committed after it stays. The working tree must be clean.",
        "Production broke because a commit in `{repo}` set {what} in `{cfg}`. Create a commit on "
        "`main` that reverts that commit's changes, without rewriting any existing commit and "
        "without losing the work committed after it. No uncommitted changes may remain.",
        repo=repo, what=what, cfg=cfg,
    )
    solution = (f"cd {repo}\nsha=$(git log --format=%H -G '^{bad_key} = {bad_val}$' -- {cfg} | tail -n 1)\n"
                f"git revert --no-edit \"$sha\"\n")
    files, run = h.build()
    tests = _tests(repo, f"""

EXPECTED = {py(expected)}


def test_new_commit_on_top():
    assert git("symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert git("log", "-1", "--format=%P", "HEAD").split() == [sha_of({tip!r})]


def test_history_kept():
    sha_of({bad['subject']!r}, "main")


def test_content():
    for path, content in EXPECTED.items():
        assert git("show", f"HEAD:{{path}}") == content, path
    tracked = sorted(git("ls-tree", "-r", "--name-only", "HEAD").split())
    assert tracked == sorted(EXPECTED)


def test_clean():
    assert git("status", "--porcelain") == ""
""")
    return Step(instruction, solution, tests, files=files, run=run,
                params={"repo": repo, "bad_key": bad_key, "second": second})


# --------------------------------------------------------------------------------------------
# git.cherry-pick
# --------------------------------------------------------------------------------------------

@family("git.cherry-pick", category="git", skills=("git.repair", "git.branching"),
        difficulty="medium")
def cherry_pick(rng: random.Random, inp: Artifact | None) -> Step:
    repo = _repo_path(rng)
    authors = _authors(rng, 3)
    h = History(rng, repo)
    util = f"src/{pick(rng, ('util', 'helpers', 'paging', 'parser'))}.py"
    modules = [util, f"src/{word(rng)}.py"]
    funcs = {f"{w}_{i}": rng.randint(1, 99) for i, w in enumerate(words(rng, 5))}
    major, minor = rng.randint(1, 4), rng.randint(0, 9)
    h.commit("Initial import", {util: _module(funcs), "VERSION": f"{major}.{minor}.0\n",
                                "README.md": "# Library\n"}, authors[0])
    _noisy_commits(h, rng, authors, rng.randint(1, 2), modules[1:])
    branch_point = h.commits[-1]["subject"]
    release = f"release/{major}.{minor}"
    h.checkout(release, "main")
    h.commit(f"Bump version to {major}.{minor}.1", {"VERSION": f"{major}.{minor}.1\n"}, authors[0])
    rel_tip = h.commits[-1]["subject"]
    h.checkout("main")
    feature_file = f"src/{word(rng)}_feature.py"
    h.commit(f"Add experimental {feature_file.rsplit('/', 1)[1]}",
             {feature_file: _module({"experimental": 1})}, authors[1])
    n_fix = rng.randint(1, 2)
    names = list(funcs)
    fixes, fixed_names = [], rng.sample(names, n_fix)
    for i, name in enumerate(fixed_names):
        f = _parse_funcs(h.files()[util])
        f[name] = f[name] + 1000
        fixes.append(h.commit(f"Fix {name} off-by-{pick(rng, ('one', 'two'))} error" + (f" (part {i + 1})" if n_fix > 1 else ""),
                              {util: _module(f)}, pick(rng, authors), pick(rng, TZS)))
        if i == 0:
            _noisy_commits(h, rng, authors, 1, modules[1:])
    _noisy_commits(h, rng, authors, rng.randint(1, 2), modules[1:])
    main_tip = h.commits[-1]["subject"]
    rel_expected = dict(h.files(release))
    f = _parse_funcs(rel_expected[util])
    for name in fixed_names:
        f[name] += 1000
    rel_expected[util] = _module(f)
    subjects = [c["subject"] for c in fixes]
    listed = " and ".join(f"`{s}`" for s in subjects)
    instruction = phrasing(
        rng,
        "In the git repository `{repo}`, the bug fix{es} {listed} on `main` must also go to the "
        "maintenance branch `{release}`. Apply {them} to `{release}` as new commits on top of its "
        "current tip, in the original order, keeping the original commit message{s}. Do not merge "
        "`main` (its other work, e.g. `{feat}`, must not reach `{release}`) and do not change "
        "`main`.",
        "Backport to `{release}` in `{repo}`: cherry-pick the commit{s} {listed} from `main` onto "
        "`{release}` (same order, same subject line{s}). `{release}` must not receive anything "
        "else from `main`, and `main` must stay as it is. Leave the working tree clean.",
        "The maintenance branch `{release}` of `{repo}` needs the fix{es} {listed} that landed on "
        "`main`. Put {them} on `{release}` — one new commit per fix with the same subject, "
        "parented on the current `{release}` tip — without merging and without touching `main`.",
        repo=repo, es="es" if n_fix > 1 else "", listed=listed, release=release,
        them="them" if n_fix > 1 else "it", s="s" if n_fix > 1 else "", feat=feature_file,
    )
    picks = " ".join(f"\"$(git log main --format=%H --grep={sh_quote('^' + s + '$')})\"" for s in subjects)
    solution = f"cd {repo}\ngit checkout -q {release}\ngit cherry-pick {picks}\n"
    files, run = h.build()
    tests = _tests(repo, f"""

SUBJECTS = {py(subjects)}
EXPECTED = {py(rel_expected)}


def test_release_commits():
    log = git("log", "--format=%H %s", "-{n_fix + 1}", "{release}").splitlines()
    got = [ln.split(" ", 1)[1] for ln in log]
    assert got == list(reversed(SUBJECTS)) + [{rel_tip!r}]
    assert log[-1].split(" ", 1)[0] == sha_of({rel_tip!r}, "{release}")


def test_release_content():
    tracked = sorted(git("ls-tree", "-r", "--name-only", "{release}").split())
    assert tracked == sorted(EXPECTED)
    for path, content in EXPECTED.items():
        assert git("show", f"{release}:{{path}}") == content, path


def test_main_untouched():
    assert git("rev-parse", "main").strip() == sha_of({main_tip!r}, "main")


def test_clean():
    assert git("status", "--porcelain") == ""
""")
    return Step(instruction, solution, tests, files=files, run=run,
                params={"repo": repo, "release": release, "n_fix": n_fix,
                        "branch_point": branch_point})


# --------------------------------------------------------------------------------------------
# git.restore-files
# --------------------------------------------------------------------------------------------

@family("git.restore-files", category="git", skills=("git.repair",), difficulty="medium")
def restore_files(rng: random.Random, inp: Artifact | None) -> Step:
    repo = _repo_path(rng)
    authors = _authors(rng, 2)
    h = History(rng, repo)
    names = [f"{d}/{w}.{e}" for d, w, e in zip(
        ("src", "src", "docs", "config", "src"), words(rng, 5), ("py", "py", "md", "yaml", "py"))]
    keep, discard, deleted, unstage, old = names
    if rng.random() < 0.3:
        deleted = deleted.replace(".md", " notes.md")
        names = [keep, discard, deleted, unstage, old]  # later picks must use the renamed path
    content = {n: lines_text(f"{word(rng)} {i} {rng.randint(1, 999)}" for i in range(rng.randint(3, 6)))
               for n in (keep, discard, deleted, unstage, old)}
    h.commit("Initial version", dict(content), authors[0])
    tag = f"v{rng.randint(1, 3)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}"
    old_version = content[old]
    h.tag(tag, "Initial version", f"Release {tag[1:]}", authors[0])
    for _ in range(rng.randint(2, 4)):
        n = pick(rng, names)
        content[n] = content[n] + f"{word(rng)} {h.uniq()}\n"
        h.commit(f"Update {n.rsplit('/', 1)[1]} (#{h.uniq()})", {n: content[n]}, pick(rng, authors))
    content[old] = content[old] + f"regression {h.uniq()}\n"
    h.commit(f"Rewrite {old.rsplit('/', 1)[1]} (#{h.uniq()})", {old: content[old]}, pick(rng, authors))
    tip = h.commits[-1]["subject"]
    head = dict(content)
    mod_keep = head[keep] + "local work in progress\n"
    mod_discard = head[discard].replace(head[discard].splitlines()[0], "BROKEN EXPERIMENT")
    mod_unstage = head[unstage] + "half-done change\n"
    notes = f"{repo}/{pick(rng, ('NOTES.txt', 'todo.md', 'scratch.txt'))}"
    h.write({keep: mod_keep, discard: mod_discard, deleted: None, unstage: mod_unstage})
    h.stage([unstage])
    h.write({notes[len(repo) + 1:]: "my notes, not tracked\n"})
    instruction = phrasing(
        rng,
        "Clean up the working tree of the git repository `{repo}` without committing anything:\n\n"
        "- discard the local changes to `{discard}`;\n"
        "- bring back `{deleted}`, which was deleted by accident;\n"
        "- `{unstage}` was staged by mistake: unstage it but keep its modifications in the "
        "working tree;\n"
        "- restore `{old}` to its content at tag `{tag}` and stage that change;\n"
        "- keep the uncommitted changes to `{keep}` exactly as they are, and do not delete the "
        "untracked file `{notes}`.\n\n"
        "`HEAD` must not move.",
        "In `{repo}` the working tree is in a mess. Required end state (no new commits, HEAD "
        "unchanged): `{discard}` equals its committed version; `{deleted}` exists again with its "
        "committed content; `{unstage}` keeps its local edits but is no longer staged; `{old}` "
        "has the content it had at `{tag}`, staged (both index and working tree); `{keep}` keeps "
        "its unstaged local edits; the untracked `{notes}` is left alone. Nothing else may be "
        "staged.",
        "Fix the state of the repository `{repo}` by hand — do not commit, stash, reset --hard "
        "or clean. `{discard}`: throw away local edits. `{deleted}`: restore it. `{unstage}`: "
        "remove it from the index, keep the edits. `{old}`: go back to the version of tag "
        "`{tag}` and stage it. `{keep}` and the untracked `{notes}` must stay exactly as they "
        "are.",
        repo=repo, discard=discard, deleted=deleted, unstage=unstage, old=old, tag=tag, keep=keep,
        notes=notes,
    )
    solution = (f"cd {repo}\ngit restore -- {sh_quote(discard)} {sh_quote(deleted)}\n"
                f"git restore --staged -- {sh_quote(unstage)}\n"
                f"git restore --source={tag} --staged --worktree -- {sh_quote(old)}\n")
    files, run = h.build()
    tests = _tests(repo, f"""
import os

HEAD = {py(head)}


def read(path):
    with open(os.path.join(REPO, path), encoding="utf-8") as f:
        return f.read()


def test_head_unchanged():
    assert git("rev-parse", "HEAD").strip() == sha_of({tip!r})


def test_working_tree():
    assert read({discard!r}) == HEAD[{discard!r}]
    assert read({deleted!r}) == HEAD[{deleted!r}]
    assert read({unstage!r}) == {mod_unstage!r}
    assert read({old!r}) == {old_version!r}
    assert read({keep!r}) == {mod_keep!r}
    assert open({notes!r}).read() == "my notes, not tracked\\n"


def test_index():
    assert git("diff", "--cached", "--name-only").split("\\n")[:-1] == [{old!r}]
    assert git("show", ":" + {old!r}) == {old_version!r}
    assert sorted(git("diff", "--name-only").split("\\n")[:-1]) == sorted([{keep!r}, {unstage!r}])
""")
    return Step(instruction, solution, tests, files=files, run=run,
                params={"repo": repo, "tag": tag, "deleted": deleted})


# --------------------------------------------------------------------------------------------
# git.tag-releases
# --------------------------------------------------------------------------------------------

@family("git.tag-releases", category="git", skills=("git.history", "git.commit"),
        difficulty="medium", produces="lines")
def tag_releases(rng: random.Random, inp: Artifact | None) -> Step:
    repo = _repo_path(rng)
    authors = _authors(rng, 3)
    h = History(rng, repo)
    modules = [f"src/{w}.py" for w in words(rng, 2)]
    h.commit("Initial import", {modules[0]: _module({"boot_0": 1}), "README.md": "# Tool\n"},
             authors[0])
    major, minor = rng.randint(0, 2), rng.randint(7, 9)
    versions = []
    patch = 0
    for _ in range(rng.randint(5, 7)):
        r = rng.random()
        if r < 0.45:
            patch += 1
        elif r < 0.9 or major >= 3:
            minor, patch = minor + 1, 0
        else:
            major, minor, patch = major + 1, 0, 0
        versions.append(f"{major}.{minor}.{patch}")
    bumps = {}
    for v in versions:
        _noisy_commits(h, rng, authors, rng.randint(1, 3), modules)
        bumps[v] = h.commit(f"Bump version to {v}", {"VERSION": v + "\n"}, pick(rng, authors))
    _noisy_commits(h, rng, authors, 1, modules)
    # some releases were tagged (lightweight) already; one of those tags is on the wrong commit
    tagged = sorted(rng.sample(versions[:-1], rng.randint(2, 3)), key=versions.index)
    wrong = pick(rng, tagged)
    for v in tagged:
        if v == wrong:
            idx = next(i for i, c in enumerate(h.commits) if c["subject"] == f"Bump version to {v}")
            h.tag(f"v{v}", h.commits[idx - 1]["subject"])
        else:
            h.tag(f"v{v}", f"Bump version to {v}")
    missing = [v for v in versions if v not in tagged or v == wrong]
    order = sorted(versions, key=lambda v: tuple(int(x) for x in v.split(".")), reverse=True)
    expected_list = [f"v{v}" for v in order]
    out = f"/app/{pick(rng, ('tags.txt', 'releases.txt', 'versions.txt'))}"
    instruction = phrasing(
        rng,
        "Every release of the git repository `{repo}` is a commit with the subject `Bump version "
        "to X.Y.Z`, and should carry the tag `vX.Y.Z` on exactly that commit. Some tags exist "
        "already; one of them, however, points to the wrong commit. Create every missing tag, and "
        "fix the wrong one, as annotated tags with the message `Release X.Y.Z`. Existing correct "
        "tags stay as they are. Then write all the version tags to `{out}`, one per line, highest "
        "version first (compare versions numerically: 1.10.0 is newer than 1.9.0).",
        "Tag hygiene for `{repo}`: each commit whose subject is `Bump version to X.Y.Z` must be "
        "tagged `vX.Y.Z`. Add the missing tags as annotated tags (message `Release X.Y.Z`), "
        "move the one existing tag that is on the wrong commit (recreate it annotated, same "
        "message format), leave the correct existing tags alone, and finally list all `v*` tags "
        "in `{out}` sorted by version, newest first, one per line.",
        "Release tags in `{repo}` are incomplete and one is misplaced. Make sure that for every "
        "`Bump version to X.Y.Z` commit there is a tag `vX.Y.Z` pointing at it; the tags you "
        "create or recreate must be annotated with the message `Release X.Y.Z`; tags that are "
        "already right must not be changed. Then save the list of all version tags to `{out}` in "
        "descending version order (semantic, not alphabetical), one per line.",
        repo=repo, out=out,
    )
    solution = f"""cd {repo}
git log --format='%H %s' | grep ' Bump version to ' | while read -r sha _ _ _ v; do
  if [ "$(git rev-parse -q --verify "refs/tags/v$v^{{commit}}")" != "$sha" ]; then
    git tag -f -a "v$v" -m "Release $v" "$sha"
  fi
done
git tag -l 'v*' | sort -rV > {out}
"""
    files, run = h.build()
    tests = _tests(repo, f"""

VERSIONS = {py(versions)}
CREATED = {py(missing)}
KEPT = {py([v for v in tagged if v != wrong])}


def test_every_release_tagged():
    for v in VERSIONS:
        assert git("rev-parse", f"v{{v}}^{{{{commit}}}}").strip() == sha_of(f"Bump version to {{v}}"), v


def test_new_tags_annotated():
    for v in CREATED:
        assert git("cat-file", "-t", f"v{{v}}").strip() == "tag", v
        assert git("tag", "-l", "--format=%(contents:subject)", f"v{{v}}").strip() == f"Release {{v}}"


def test_existing_tags_untouched():
    for v in KEPT:
        assert git("cat-file", "-t", f"v{{v}}").strip() == "commit", v


def test_list():
    got = [ln.strip() for ln in open({out!r}).read().splitlines() if ln.strip()]
    assert got == {py(expected_list)}
""")
    return Step(instruction, solution, tests, files=files, run=run,
                output=Artifact(out, "lines", expected_list),
                params={"repo": repo, "versions": versions, "wrong": wrong})


# --------------------------------------------------------------------------------------------
# git.gitignore
# --------------------------------------------------------------------------------------------

@family("git.gitignore", category="git", skills=("git.commit",), difficulty="medium")
def gitignore(rng: random.Random, inp: Artifact | None) -> Step:
    repo = _repo_path(rng)
    authors = _authors(rng, 2)
    h = History(rng, repo)
    pkg = word(rng)
    logdir = pick(rng, ("logs", "log", "var/log"))
    build = pick(rng, ("build", "dist", "out"))
    secret = f"db_password={ident(rng, 2)}{rng.randint(100, 999)}\n"
    tracked = {
        f"src/{pkg}/__init__.py": "",
        f"src/{pkg}/core.py": _module({"run": 1}),
        "README.md": "# App\n",
        ".env.example": "db_password=changeme\n",
        f"{build}/.gitkeep": "",
        # junk that was committed by mistake
        ".env": secret,
        f"{logdir}/app.log": "started\nstopped\n",
    }
    h.commit("Initial commit", tracked, authors[0])
    _noisy_commits(h, rng, authors, rng.randint(1, 2), [f"src/{pkg}/core.py"])
    tip = h.commits[-1]["subject"]
    untracked_junk = {
        f"src/{pkg}/__pycache__/core.cpython-311.pyc": "\x00bytecode\n",
        f"{build}/{pkg}-{rng.randint(1, 9)}.0.tar.gz": "archive\n",
        f"{build}/lib/{pkg}.so": "binary\n",
        f"{logdir}/{pick(rng, ('error', 'debug', 'access'))}.log": "line\n",
        ".env.local": "db_password=mine\n",
        f"{pick(rng, ('tmp', 'scratch'))}/{word(rng)}.txt": "temp\n",
        f"{pick(rng, ('notes', 'docs'))}/{word(rng)}.swp": "swap\n",
    }
    keepers = {
        f"src/{pkg}/{word(rng)}.py": _module({"helper": 2}),
        f"docs/{word(rng)}.md": "# Guide\n",
    }
    h.write({**untracked_junk, **keepers})
    rules = [
        "Python bytecode (`__pycache__/` directories and `*.pyc` files) anywhere",
        f"everything inside `{build}/` except `{build}/.gitkeep`, which stays tracked",
        f"log files (`*.log`) anywhere, including the `{logdir}/app.log` that was committed by "
        f"mistake",
        "environment files `.env` and `.env.*` — except `.env.example`, which stays tracked — "
        "including the `.env` that was committed by mistake (it contains a password)",
        "the `tmp/` and `scratch/` directories at the top level",
        "editor swap files (`*.swp`)",
    ]
    rng.shuffle(rules)
    rule_text = "\n".join(f"- {r}" for r in rules)
    instruction = phrasing(
        rng,
        "Set up a `.gitignore` for the git repository `{repo}` so that git ignores:\n\n{rules}\n\n"
        "Files that were committed by mistake must be removed from the repository (the index) but "
        "stay on disk unchanged. Every other file that is currently untracked — e.g. new source "
        "files and docs — must be committed. Commit your changes on `main`; afterwards "
        "`git status --porcelain` must print nothing.",
        "The repository `{repo}` tracks and shows things it should not. Write a `.gitignore` "
        "that ignores:\n\n{rules}\n\nUntrack the files matching these rules that are already "
        "committed (keep the files themselves), commit `.gitignore` together with all remaining "
        "untracked files that are not ignored, and finish with a clean `git status`.",
        "Tidy up `{repo}`. Ignore the following with a top-level `.gitignore`:\n\n{rules}\n\n"
        "Already-committed files that fall under these rules: stop tracking them, but do not "
        "delete them from disk. Then commit everything else that is untracked (new code and "
        "documentation) along with `.gitignore`, on `main`, so that the working tree is clean.",
        repo=repo, rules=rule_text,
    )
    gi = (f"__pycache__/\n*.pyc\n/{build}/*\n!/{build}/.gitkeep\n*.log\n.env\n.env.*\n"
          f"!.env.example\n/tmp/\n/scratch/\n*.swp\n")
    solution = f"""cd {repo}
cat > .gitignore <<'EOF'
{gi}EOF
git rm -q --cached .env {sh_quote(logdir + '/app.log')}
git add -A
git commit -q -m 'Add .gitignore and stop tracking generated files'
"""
    files, run = h.build()
    ignored = sorted(list(untracked_junk) + [".env", f"{logdir}/app.log"])
    must_track = sorted([f"src/{pkg}/__init__.py", f"src/{pkg}/core.py", "README.md", ".env.example",
                         f"{build}/.gitkeep", ".gitignore", *keepers])
    tests = _tests(repo, f"""
import os

IGNORED = {py(ignored)}
TRACKED = {py(must_track)}


def test_ignored_paths():
    for path in IGNORED:
        r = subprocess.run(["git", "-C", REPO, "check-ignore", "-q", "--no-index", path])
        assert r.returncode == 0, f"{{path}} is not ignored"


def test_tracked_paths_not_ignored():
    for path in TRACKED:
        r = subprocess.run(["git", "-C", REPO, "check-ignore", "-q", "--no-index", path])
        assert r.returncode == 1, f"{{path}} must not be ignored"


def test_committed_tree():
    assert sorted(git("ls-tree", "-r", "--name-only", "HEAD").splitlines()) == TRACKED


def test_junk_still_on_disk():
    assert open(os.path.join(REPO, ".env")).read() == {secret!r}
    for path in IGNORED:
        assert os.path.exists(os.path.join(REPO, path)), path


def test_clean_and_history_kept():
    assert git("status", "--porcelain") == ""
    assert git("symbolic-ref", "HEAD").strip() == "refs/heads/main"
    r = subprocess.run(["git", "-C", REPO, "merge-base", "--is-ancestor", sha_of({tip!r}), "HEAD"])
    assert r.returncode == 0
""")
    return Step(instruction, solution, tests, files=files, run=run,
                params={"repo": repo, "build": build, "logdir": logdir})


# --------------------------------------------------------------------------------------------
# git.snapshot-tree
# --------------------------------------------------------------------------------------------

@family("git.snapshot-tree", category="git", skills=("git.commit",), difficulty="easy",
        consumes="tree")
def snapshot_tree(rng: random.Random, inp: Artifact | None) -> Step:
    files: dict[str, str] = {}
    if inp is None:
        root = f"/app/{ident(rng, 1)}-{pick(rng, ('site', 'tool', 'notes', 'scripts'))}"
        tree = {}
        for _ in range(rng.randint(4, 7)):
            d = pick(rng, ("", "src/", "docs/", "lib/"))
            tree[f"{d}{word(rng)}.{pick(rng, ('py', 'md', 'txt', 'sh'))}"] = lines_text(words(rng, 3))
        for _ in range(rng.randint(1, 3)):
            tree[f"{pick(rng, ('', 'src/'))}{word(rng)}.{pick(rng, ('tmp', 'bak'))}"] = "scratch\n"
        for rel, content in tree.items():
            files[f"{root}/{rel}"] = content
    else:
        root = inp.path.rstrip("/")
        tree = {str(k): str(v) for k, v in inp.value.items()}
    exts = sorted({r.rsplit(".", 1)[1] for r in tree if "." in r.rsplit("/", 1)[-1]})
    junk_exts = [e for e in exts if e in ("tmp", "bak", "log")]
    if not junk_exts:
        junk_exts = [pick(rng, exts)] if len(exts) > 2 else ["tmp"]
    kept = {r: c for r, c in tree.items() if not any(r.endswith("." + e) for e in junk_exts)}
    if not kept:
        junk_exts = ["tmp"]
        kept = {r: c for r, c in tree.items() if not r.endswith(".tmp")}
    patterns = [f"*.{e}" for e in junk_exts]
    name, email = pick(rng, _authors(rng, 3))
    base = root.rsplit("/", 1)[1]
    repo = pick(rng, (f"/srv/git/{base}", f"/app/{base}-repo", f"/opt/repos/{base}"))
    message = pick(rng, ("Initial snapshot", "Import existing files", f"First commit of {base}"))
    branch = pick(rng, ("main", "trunk", "main"))
    instruction = phrasing(
        rng,
        "Put the files of `{root}` under version control without touching that directory: "
        "create a new git repository at `{repo}` whose branch is named `{branch}`, copy every "
        "file of `{root}` into it (same relative paths), add a `.gitignore` that ignores {pats}, "
        "and create one commit containing `.gitignore` and every other file, with the author "
        "`{name} <{email}>` and the message `{msg}`. The ignored files must be present in "
        "`{repo}` but untracked. Afterwards `git status --porcelain` in `{repo}` must print "
        "nothing, and `{root}` must be unchanged (no `.git` or `.gitignore` added there).",
        "Import `{root}` into a new git repository at `{repo}` (initial branch `{branch}`): "
        "the repository's work tree gets a copy of all files of `{root}`, with the same layout; "
        "`{root}` itself stays as it is. Files matching {pats} are copied but must be ignored via "
        "`.gitignore`. Commit everything else plus the `.gitignore` in a single commit authored "
        "by `{name} <{email}>` with the commit message `{msg}`. The work tree must end up "
        "clean.",
        "Snapshot the contents of `{root}` into a fresh git repository at `{repo}` (leave "
        "`{root}` untouched): copy the files over, `git init` with the branch `{branch}`, a "
        "`.gitignore` ignoring {pats} (those files are copied too, but stay untracked), and "
        "exactly one commit (`{msg}`, author {name} <{email}>) holding all non-ignored files and "
        "the `.gitignore`.",
        root=root, repo=repo, branch=branch, pats=" and ".join(f"`{p}`" for p in patterns),
        name=name, email=email, msg=message,
    )
    solution = f"""mkdir -p {sh_quote(repo)}
cp -a {sh_quote(root)}/. {sh_quote(repo)}/
cd {sh_quote(repo)}
git init -q -b {branch}
printf '%s\\n' {' '.join(sh_quote(p) for p in patterns)} > .gitignore
git add -A
git -c user.name={sh_quote(name)} -c user.email={sh_quote(email)} commit -q -m {sh_quote(message)}
"""
    expected = dict(kept)
    expected[".gitignore"] = None
    tests = _tests(repo, f"""
import os

ROOT = {root!r}
KEPT = {py(dict(sorted(kept.items())))}
IGNORED = {py(sorted(set(tree) - set(kept)))}


def show(path):
    return subprocess.run(["git", "-C", REPO, "show", f"HEAD:{{path}}"], capture_output=True,
                          check=True).stdout


def test_single_commit():
    assert git("symbolic-ref", "HEAD").strip() == "refs/heads/{branch}"
    assert git("rev-list", "--count", "HEAD").strip() == "1"
    assert git("log", "-1", "--format=%an|%ae|%s").strip() == {f"{name}|{email}|{message}"!r}


def test_tree():
    tracked = sorted(git("ls-tree", "-r", "--name-only", "-z", "HEAD").split("\\0")[:-1])
    assert tracked == sorted(list(KEPT) + [".gitignore"])
    for path, content in KEPT.items():
        assert show(path) == content.encode(), path


def test_ignored_files_kept():
    for path in IGNORED:
        assert os.path.exists(os.path.join(REPO, path)), path
        r = subprocess.run(["git", "-C", REPO, "check-ignore", "-q", path])
        assert r.returncode == 0, path
    assert git("status", "--porcelain") == ""


def test_source_untouched():
    assert not os.path.exists(os.path.join(ROOT, ".git"))
    for path, content in KEPT.items():
        with open(os.path.join(ROOT, path), "rb") as f:
            assert f.read() == content.encode(), path
""")
    return Step(instruction, solution, tests, files=files,
                params={"root": root, "repo": repo, "patterns": patterns, "branch": branch})
