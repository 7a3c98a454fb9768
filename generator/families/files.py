"""File navigation and search families: find, organise, inspect, links and creating trees.

Trees ("tree" artifacts) are {relative_path: text content}. Other modules of this package reuse
`random_tree` and `TREE_HELPERS` (the pytest helper that reads a directory back as such a dict).
"""

from __future__ import annotations

import random
from collections import defaultdict

from termforge.generator.draw import (CITIES, FIRST_NAMES, UNICODE_WORDS, app_dir, ident,
                                      lines_text, phrasing, pick, py, sh_quote, word, words)
from termforge.generator.registry import family
from termforge.generator.spec import Artifact, Step

# Pytest source shared by tree-checking tests: read a directory back as {relative path: text}.
TREE_HELPERS = '''
import os
from pathlib import Path


def _tree(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            p = Path(dirpath) / name
            if p.is_file() and not p.is_symlink():
                out[p.relative_to(root).as_posix()] = p.read_text(encoding="utf-8")
    return out
'''


def text_blob(rng: random.Random, n_lines: int, *, unicode: bool = False) -> str:
    """Some lines of words (optionally with accented words), ending with a newline."""
    vocab = words(rng, 10) + (list(UNICODE_WORDS[:3]) if unicode else [])
    return lines_text(" ".join(rng.choices(vocab, k=rng.randint(2, 8))) for _ in range(n_lines))


def random_tree(rng: random.Random, n_files: int, *, spaces: bool = True, unicode: bool = True,
                exts: tuple[str, ...] = ("txt", "md", "log", "cfg", "csv", "json")) -> dict[str, str]:
    """A nested tree of text files with distinct paths (sometimes with spaces and accented text)."""
    dirs = [""] + [f"{d}/" for d in words(rng, 3)]
    dirs += [f"{dirs[1]}{word(rng)}/", f"{dirs[2]}{word(rng)}/"]
    tree: dict[str, str] = {}
    while len(tree) < n_files:
        base = ident(rng, 1) if not (spaces and rng.random() < 0.15) else f"{word(rng)} {word(rng)}"
        path = f"{pick(rng, dirs)}{base}.{pick(rng, exts)}"
        if any(p.startswith(path + "/") or path.startswith(p + "/") for p in tree):
            continue
        tree[path] = text_blob(rng, rng.randint(1, 12), unicode=unicode and rng.random() < 0.3)
    return dict(sorted(tree.items()))


def tree_files(root: str, tree: dict[str, str]) -> dict[str, str]:
    return {f"{root}/{rel}": content for rel, content in tree.items()}


def nbytes(s: str) -> int:
    return len(s.encode("utf-8"))


# --------------------------------------------------------------------------------------------
@family("files.find-by-criteria", category="files", skills=("files.find",), difficulty="medium",
        produces="lines")
def find_by_criteria(rng: random.Random, inp: Artifact | None) -> Step:
    root = app_dir(rng)
    exts = ["log", "txt", "csv", "bak", "json", "tmp"]
    ext = pick(rng, exts)
    limit_k = rng.randint(8, 24)
    cutoff_year = rng.choice((2021, 2022, 2023))
    cutoff = f"{cutoff_year}-01-01"
    cutoff_epoch = {2021: 1609459200, 2022: 1640995200, 2023: 1672531200}[cutoff_year]
    criteria = sorted(rng.sample(("ext", "size", "age"), 2))
    subdirs = [""] + [f"{w}/" for w in words(rng, 3)] + [f"{word(rng)}/{word(rng)}/"]
    files: dict[str, str] = {}
    meta: dict[str, tuple[int, int]] = {}   # rel -> (size, mtime)
    n = rng.randint(14, 24)
    attempts = 0
    while len(meta) < n and attempts < 500:
        attempts += 1
        e = ext if rng.random() < 0.4 else pick(rng, exts)
        rel = f"{pick(rng, subdirs)}{ident(rng, 2, pick(rng, ('_', '-', ' ')))}.{e}"
        if rel in meta:
            continue
        big = rng.random() < 0.5
        size = rng.randint((limit_k + 2) * 1024, (limit_k + 30) * 1024) if big else \
            rng.randint(40, (limit_k - 3) * 1000)
        old = rng.random() < 0.5
        mtime = cutoff_epoch - rng.randint(40, 900) * 86400 if old else \
            cutoff_epoch + rng.randint(40, 700) * 86400
        meta[rel] = (size, mtime)
        line = f"{word(rng)} {rng.randint(0, 99999)}\n"
        files[f"{root}/{rel}"] = (line * (size // len(line) + 1))[:size]
    # a directory whose name looks like a match, and an empty file, as distractors
    decoy_dir = f"{word(rng)}-archive.{ext}"
    files[f"{root}/{decoy_dir}/README"] = "not a match: lives in a directory named like one\n"
    meta[f"{decoy_dir}/README"] = (nbytes(files[f"{root}/{decoy_dir}/README"]), cutoff_epoch + 86400 * 3)

    def match(rel: str) -> bool:
        size, mtime = meta[rel]
        ok = True
        if "ext" in criteria:
            ok &= rel.endswith(f".{ext}")
        if "size" in criteria:
            ok &= size > limit_k * 1024
        if "age" in criteria:
            ok &= mtime < cutoff_epoch
        return ok

    expected = sorted(r for r in meta if match(r))
    if not expected:   # guarantee at least one match
        rel = f"{subdirs[1]}{ident(rng, 2)}.{ext}"
        size = (limit_k + 5) * 1024
        meta[rel] = (size, cutoff_epoch - 100 * 86400)
        files[f"{root}/{rel}"] = "x" * (size - 1) + "\n"
        expected = sorted(r for r in meta if match(r))
    by_time: dict[int, list[str]] = defaultdict(list)
    for rel, (_, mtime) in meta.items():
        by_time[mtime].append(f"{root}/{rel}")
    run = [" && ".join(f"touch -d @{t} " + " ".join(sh_quote(p) for p in sorted(ps))
                       for t, ps in sorted(by_time.items()))]
    out = f"/app/{ident(rng, 2)}.txt"
    desc = {
        "ext": f"whose name ends in `.{ext}`",
        "size": f"larger than {limit_k} KiB ({limit_k * 1024} bytes)",
        "age": f"last modified before {cutoff} 00:00 UTC",
    }
    crit = " and ".join(desc[c] for c in criteria)
    instruction = phrasing(
        rng,
        "Under `{root}` (search recursively), find every regular file {crit}. Write their paths, "
        "relative to `{root}` (no leading `./`), to `{out}`, one per line, sorted in byte order.",
        "A cleanup script needs a list of candidates: every regular file anywhere below `{root}` "
        "{crit}. Save the list to `{out}` — one path per line, relative to `{root}` without a "
        "leading `./`, sorted (C locale byte order). Do not delete or modify anything.",
        "List all regular files in the tree `{root}` {crit}. Put the result in `{out}`: paths "
        "relative to `{root}`, one per line, sorted ascending by byte value. Directories must not "
        "be listed.",
        root=root, crit=crit, out=out,
    )
    preds = []
    if "ext" in criteria:
        preds.append(f"-name '*.{ext}'")
    if "size" in criteria:
        preds.append(f"-size +{limit_k * 1024}c")
    if "age" in criteria:
        preds.append(f"! -newermt '{cutoff} 00:00:00 UTC'")
    solution = (f"cd {sh_quote(root)} && find . -type f {' '.join(preds)} -printf '%P\\n' "
                f"| LC_ALL=C sort > {sh_quote(out)}")
    tests = f"""
import os
from pathlib import Path

EXPECTED = {py(expected)}
ALL_FILES = {py(sorted(meta))}


def test_list():
    got = [ln for ln in Path({out!r}).read_text(encoding="utf-8").splitlines() if ln.strip()]
    assert got == EXPECTED


def test_nothing_deleted():
    for rel in ALL_FILES:
        assert os.path.isfile(os.path.join({root!r}, rel)), rel
"""
    return Step(instruction, solution, tests, files=files, run=run,
                output=Artifact(out, "lines", expected),
                params={"root": root, "criteria": criteria, "ext": ext, "limit_k": limit_k,
                        "cutoff": cutoff, "n_files": len(meta), "n_match": len(expected)})


# --------------------------------------------------------------------------------------------
@family("files.organize-by-extension", category="files", skills=("files.organize",),
        difficulty="easy", produces="tree")
def organize_by_extension(rng: random.Random, inp: Artifact | None) -> Step:
    src = f"/app/{pick(rng, ('incoming', 'downloads', 'inbox', 'dropzone', 'scans'))}"
    dest = f"/app/{pick(rng, ('sorted', 'library', 'organized', 'by-type', 'archive'))}"
    misc = pick(rng, ("misc", "other", "no-extension"))
    ext_pool = ["jpg", "JPG", "png", "pdf", "PDF", "txt", "mp3", "csv", "docx", "Png", "gz"]
    names: dict[str, str] = {}
    used_bases: set[str] = set()
    n = rng.randint(10, 18)
    while len(names) < n:
        base = ident(rng, 2, pick(rng, ("_", "-", " ", ".")))
        if base.lower() in used_bases:
            continue
        used_bases.add(base.lower())
        r = rng.random()
        name = base if r < 0.12 else f"{base}.{pick(rng, ext_pool)}"
        names[name] = f"{name}: {word(rng)} {rng.randint(1, 10**6)}\n"
    # "a.b-c" style base names make the last dot the extension separator; no extension -> misc

    def target(name: str) -> str:
        if "." in name:
            return f"{name.rsplit('.', 1)[1].lower()}/{name}"
        return f"{misc}/{name}"

    expected = dict(sorted((target(nm), c) for nm, c in names.items()))
    instruction = phrasing(
        rng,
        "Sort the files in `{src}` by type: move every file into `{dest}/<ext>/` where `<ext>` is "
        "the file's extension (the part after the last dot) in lowercase, keeping the file name "
        "unchanged. Files without a dot in their name go to `{dest}/{misc}/`. Afterwards `{src}` "
        "must contain no files.",
        "`{src}` is a mess of files. Move (do not copy) each one to `{dest}/<extension>/<original "
        "name>`, with the extension taken after the last `.` and lowercased (so `x.JPG` lands in "
        "`{dest}/jpg/`). Names with no extension belong in `{dest}/{misc}/`. Some names contain "
        "spaces.",
        "Organise `{src}`: create one directory per (lowercased) file extension under `{dest}` "
        "and move the files there, names untouched; the extension is whatever follows the final "
        "dot. Extensionless files go to `{dest}/{misc}`. Leave `{src}` itself in place but empty.",
        src=src, dest=dest, misc=misc,
    )
    solution = f"""mkdir -p {sh_quote(dest)}
cd {sh_quote(src)}
for f in *; do
  [ -f "$f" ] || continue
  case "$f" in
    *.*) ext="${{f##*.}}"; ext="${{ext,,}}" ;;
    *) ext={sh_quote(misc)} ;;
  esac
  mkdir -p {sh_quote(dest)}/"$ext"
  mv -- "$f" {sh_quote(dest)}/"$ext"/
done"""
    tests = TREE_HELPERS + f"""

EXPECTED = {py(expected)}


def test_sorted_tree():
    assert _tree({dest!r}) == EXPECTED


def test_source_emptied():
    assert os.path.isdir({src!r})
    assert [p for p in Path({src!r}).iterdir() if p.is_file()] == []
"""
    return Step(instruction, solution, tests, files={f"{src}/{nm}": c for nm, c in names.items()},
                output=Artifact(dest, "tree", expected),
                params={"src": src, "dest": dest, "n_files": len(names)})


# --------------------------------------------------------------------------------------------
@family("files.dedupe-hardlinks", category="files", skills=("files.links", "files.inspect"),
        difficulty="medium", consumes="tree")
def dedupe_hardlinks(rng: random.Random, inp: Artifact | None) -> Step:
    files = {}
    if inp is None:
        root = f"/app/{pick(rng, ('photos', 'assets', 'backup', 'media', 'shared'))}{rng.randint(1, 9)}"
        tree = random_tree(rng, rng.randint(6, 10))
        paths = list(tree)
        # duplicate some contents under new names (sometimes empty files too)
        for _ in range(rng.randint(2, 4)):
            original = pick(rng, paths)
            for _ in range(rng.randint(1, 3)):
                d = pick(rng, sorted({p.rsplit('/', 1)[0] + '/' if '/' in p else '' for p in paths}))
                new = f"{d}copy of {word(rng)}.{original.rsplit('.', 1)[1]}" if rng.random() < 0.3 \
                    else f"{d}{ident(rng, 2)}.{original.rsplit('.', 1)[1]}"
                if new not in tree:
                    tree[new] = tree[original]
        if rng.random() < 0.5:
            for _ in range(2):
                tree[f"{ident(rng, 2)}.lock"] = ""
        tree = dict(sorted(tree.items()))
        files = tree_files(root, tree)
    else:
        root, tree = inp.path, dict(inp.value)
    groups: dict[str, list[str]] = defaultdict(list)
    for rel in sorted(tree):
        groups[tree[rel]].append(rel)
    dup_groups = [g for g in groups.values() if len(g) > 1]
    report = sorted(f"{d} => {g[0]}" for g in dup_groups for d in g[1:])
    singles = sorted(g[0] for g in groups.values() if len(g) == 1)
    out = f"/app/{pick(rng, ('dedupe', 'duplicates', 'links'))}-{word(rng)}.txt"
    instruction = phrasing(
        rng,
        "The directory `{root}` contains files with identical content. For every group of files "
        "with the same content, keep the one whose path (relative to `{root}`) sorts first in "
        "byte order and replace each other file by a hard link to it, so the data is stored once. "
        "Write a report to `{out}` with one line `<duplicate> => <kept>` (relative paths) per "
        "replaced file, sorted by the duplicate's path. Every path must keep its content.",
        "Save disk space in `{root}`: files whose contents are byte-for-byte equal (empty files "
        "included) must become hard links of one another. In each group the file with the "
        "smallest relative path (C-locale byte order) is the one kept; the others are replaced by "
        "hard links to it. Record each replacement in `{out}` as `<duplicate> => <kept>` with "
        "paths relative to `{root}`, lines sorted by duplicate path.",
        "Deduplicate `{root}` with hard links: group regular files by content, keep the "
        "lexicographically first path of each group (byte order of the relative path) and "
        "hard-link every other member to it. List what you replaced in `{out}`, one "
        "`<duplicate> => <kept>` line each, ordered by the duplicate path. Unique files stay "
        "untouched.",
        root=root, out=out,
    )
    solution = f"""cd {sh_quote(root)}
declare -A kept
tmp=$(mktemp)
while IFS= read -r -d '' f; do
  h=$(sha256sum < "$f" | cut -d' ' -f1)
  if [[ -n "${{kept[$h]:-}}" ]]; then
    ln -f -- "${{kept[$h]}}" "$f"
    printf '%s => %s\\n' "$f" "${{kept[$h]}}" >> "$tmp"
  else
    kept[$h]=$f
  fi
done < <(find . -type f -printf '%P\\0' | LC_ALL=C sort -z)
LC_ALL=C sort "$tmp" > {sh_quote(out)}
rm -f -- "$tmp"
"""
    tests = TREE_HELPERS + f"""

ROOT = {root!r}
TREE = {py(tree)}
GROUPS = {py(dup_groups)}
SINGLES = {py(singles)}
REPORT = {py(report)}


def test_contents_preserved():
    assert _tree(ROOT) == TREE


def test_duplicates_share_an_inode():
    for group in GROUPS:
        inodes = {{os.stat(os.path.join(ROOT, p)).st_ino for p in group}}
        assert len(inodes) == 1, group


def test_unique_files_not_linked():
    for p in SINGLES:
        assert os.stat(os.path.join(ROOT, p)).st_nlink == 1, p


def test_report():
    got = [ln for ln in Path({out!r}).read_text(encoding="utf-8").splitlines() if ln.strip()]
    assert got == REPORT
"""
    return Step(instruction, solution, tests, files=files,
                params={"root": root, "groups": len(dup_groups), "replaced": len(report)})


# --------------------------------------------------------------------------------------------
def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


@family("files.symlink-releases", category="files", skills=("files.links", "files.find"),
        difficulty="medium", produces="lines")
def symlink_releases(rng: random.Random, inp: Artifact | None) -> Step:
    app = ident(rng, 1)
    base = f"/opt/{app}"
    versions: set[str] = set()
    major = rng.randint(1, 3)
    n_versions = rng.randint(4, 6)
    while len(versions) < n_versions:
        versions.add(f"{major + rng.randint(0, 1)}.{rng.choice((1, 2, 9, 10, 11, 12))}.{rng.randint(0, 12)}")
    versions_sorted = sorted(versions, key=_version_key)
    latest = versions_sorted[-1]
    old = versions_sorted[0]
    tools = words(rng, rng.randint(4, 6))
    files: dict[str, str] = {}
    for v in versions_sorted:
        for t in tools:
            files[f"{base}/releases/{v}/bin/{t}"] = f"#!/bin/sh\necho {t} {v}\n"
    removed = [f"{major - 1 if major > 1 else 0}.{rng.randint(0, 8)}.{rng.randint(0, 9)}",
               f"0.{rng.randint(1, 9)}.{rng.randint(0, 9)}"]
    removed = [r for r in dict.fromkeys(removed) if r not in versions]
    links = {}
    broken = []
    for t in tools:
        if rng.random() < 0.45:
            links[t] = f"../releases/{pick(rng, removed)}/bin/{t}"
            broken.append(t)
        else:
            links[t] = f"../releases/{pick(rng, versions_sorted)}/bin/{t}"
    extra_broken = f"{word(rng)}-legacy"
    links[extra_broken] = f"/usr/local/{app}/{extra_broken}"
    broken.append(extra_broken)
    valid = sorted(t for t in links if t not in broken)
    broken = sorted(broken)
    run = [f"chmod 755 {base}/releases/*/bin/*",
           f"mkdir -p {base}/bin && cd {base} && ln -s releases/{old} current && "
           + " && ".join(f"ln -s {sh_quote(tgt)} bin/{sh_quote(name)}" for name, tgt in sorted(links.items()))]
    out = f"/app/{pick(rng, ('removed-links', 'broken', 'dangling'))}.txt"
    instruction = phrasing(
        rng,
        "`{base}/releases/` holds several versions of {app}. Point the symlink `{base}/current` at "
        "the newest release by version number (compare numerically, so 1.10.0 is newer than "
        "1.9.3); the link target must be the relative path `releases/<version>`. Then delete every "
        "broken symbolic link in `{base}/bin/` (keep the working ones) and write the names of the "
        "deleted links to `{out}`, one per line, sorted.",
        "Release housekeeping for {app} under `{base}`: (1) `{base}/current` must be a symlink "
        "with target `releases/<v>` where `<v>` is the highest version in `{base}/releases` by "
        "semantic-version order (not string order); (2) remove the dangling symlinks from "
        "`{base}/bin/` and list their names, sorted, one per line, in `{out}`. Valid links and all "
        "release directories must stay.",
        "Some links under `{base}` are stale. Re-point `{base}/current` (a symlink) to the latest "
        "version directory in `{base}/releases` — use the relative target `releases/<version>` "
        "and numeric version comparison. In `{base}/bin/`, find symlinks whose target does not "
        "exist, delete them, and record their file names in `{out}` (sorted, one per line).",
        base=base, app=app, out=out,
    )
    solution = f"""cd {sh_quote(base)}
latest=$(ls releases | sort -V | tail -n 1)
ln -sfn "releases/$latest" current
find bin -maxdepth 1 -xtype l -printf '%f\\n' | LC_ALL=C sort > {sh_quote(out)}
find bin -maxdepth 1 -xtype l -delete"""
    tests = f"""
import os
from pathlib import Path

BASE = {base!r}


def test_current_points_to_latest():
    cur = os.path.join(BASE, "current")
    assert os.path.islink(cur)
    assert os.readlink(cur).rstrip("/") == "releases/{latest}"


def test_broken_links_removed():
    for name in {py(broken)}:
        assert not os.path.lexists(os.path.join(BASE, "bin", name)), name


def test_valid_links_kept():
    for name in {py(valid)}:
        p = os.path.join(BASE, "bin", name)
        assert os.path.islink(p) and os.path.exists(p), name


def test_releases_kept():
    assert sorted(os.listdir(os.path.join(BASE, "releases"))) == {py(sorted(versions_sorted))}


def test_report():
    got = [ln.strip() for ln in Path({out!r}).read_text().splitlines() if ln.strip()]
    assert got == {py(broken)}
"""
    return Step(instruction, solution, tests, files=files, run=run,
                output=Artifact(out, "lines", broken),
                params={"base": base, "versions": versions_sorted, "latest": latest,
                        "broken": broken})


# --------------------------------------------------------------------------------------------
@family("files.disk-usage-report", category="files", skills=("files.inspect",), difficulty="easy",
        consumes="tree", produces="csv")
def disk_usage_report(rng: random.Random, inp: Artifact | None) -> Step:
    files: dict[str, str] = {}
    run: list[str] = []
    empty_dirs: list[str] = []
    if inp is None:
        root = f"/srv/{pick(rng, ('data', 'share', 'exports', 'projects', 'storage'))}"
        tree: dict[str, str] = {}
        tops = words(rng, rng.randint(3, 5))
        for top in tops:
            for _ in range(rng.randint(1, 6)):
                sub = pick(rng, ("", f"{word(rng)}/", f"{word(rng)}/{word(rng)}/"))
                rel = f"{top}/{sub}{ident(rng, 1)}.{pick(rng, ('dat', 'txt', 'log'))}"
                tree[rel] = (f"{word(rng)} " * rng.randint(5, 3000)).strip() + "\n"
        for _ in range(rng.randint(0, 2)):
            tree[f"{ident(rng, 1)}.txt"] = text_blob(rng, rng.randint(1, 30))
        if rng.random() < 0.6:
            empty_dirs.append(f"{word(rng)}-empty")
            run.append(f"mkdir -p {sh_quote(root + '/' + empty_dirs[0])}")
        files = tree_files(root, tree)
    else:
        root, tree = inp.path, dict(inp.value)
    stats: dict[str, list[int]] = {d: [0, 0] for d in empty_dirs}
    for rel, content in tree.items():
        top = rel.split("/", 1)[0] if "/" in rel else "."
        s = stats.setdefault(top, [0, 0])
        s[0] += 1
        s[1] += nbytes(content)
    rows = sorted(([d, str(c), str(b)] for d, (c, b) in stats.items()),
                  key=lambda r: (-int(r[2]), r[0]))
    header = ["dir", "files", "bytes"]
    out = f"/app/{pick(rng, ('usage', 'du-report', 'space', 'sizes'))}.csv"
    instruction = phrasing(
        rng,
        "Summarise disk usage of `{root}` per top-level directory. Write `{out}` as CSV with the "
        "header `dir,files,bytes` and one row per direct subdirectory of `{root}` (empty ones "
        "included): its name, the number of regular files anywhere below it, and their total "
        "apparent size in bytes (sum of file sizes, not disk blocks). Files directly inside "
        "`{root}` are counted in a row named `.` (only if there are any). Sort rows by bytes "
        "descending, then name ascending.",
        "Produce `{out}`, a CSV report (`dir,files,bytes`) of what occupies `{root}`: for every "
        "immediate subdirectory give the count of regular files it contains recursively and the "
        "sum of their sizes in bytes (apparent size as `stat`/`ls -l` report, not `du` blocks); "
        "loose files at the top level go in a `.` row if present. Include empty subdirectories "
        "with zeros. Largest first; equal sizes ordered by name.",
        "Which top-level folders of `{root}` are biggest? Create the CSV file `{out}` with "
        "columns `dir,files,bytes` — directory name, number of files under it (recursively), "
        "total bytes of those files (exact byte sizes, not blocks) — ordered by bytes from largest "
        "to smallest and then by name. Top-level files, if any, are aggregated as `.`; empty "
        "directories appear with `0,0`.",
        root=root, out=out,
    )
    solution = f"""cd {sh_quote(root)}
{{
  echo dir,files,bytes
  {{ find . -mindepth 1 -maxdepth 1 -type d -printf '%P\\t-\\n'; find . -type f -printf '%P\\t%s\\n'; }} |
    awk -F'\\t' '{{ i = index($1, "/"); top = i ? substr($1, 1, i - 1) : ($2 == "-" ? $1 : ".")
                    if (!(top in n)) {{ n[top] = 0; b[top] = 0 }}
                    if ($2 != "-") {{ n[top]++; b[top] += $2 }} }}
                  END {{ for (t in n) printf "%s,%d,%d\\n", t, n[t], b[t] }}' |
    LC_ALL=C sort -t, -k3,3nr -k1,1
}} > {sh_quote(out)}"""
    tests = f"""
import csv

EXPECTED = {py([header] + rows)}


def test_report():
    with open({out!r}, newline="", encoding="utf-8") as f:
        got = [r for r in csv.reader(f) if r]
    assert got == EXPECTED
"""
    return Step(instruction, solution, tests, files=files, run=run,
                output=Artifact(out, "csv", {"header": header, "rows": rows}),
                params={"root": root, "n_dirs": len(rows)})


# --------------------------------------------------------------------------------------------
@family("files.render-config-tree", category="files", skills=("files.create", "files.organize"),
        difficulty="easy", produces="tree")
def render_config_tree(rng: random.Random, inp: Artifact | None) -> Step:
    project = ident(rng, 1)
    src = f"/app/{project}-templates"
    dest = f"/app/{pick(rng, ('conf.d', 'rendered', 'configs', 'sites'))}"
    services = words(rng, rng.randint(3, 6))
    rows = []
    for s in services:
        rows.append((s, str(rng.randint(2000, 9999)), pick(rng, CITIES), pick(rng, ("true", "false"))))
    ext = pick(rng, ("conf", "ini", "cfg"))
    template = (f"# generated for @NAME@ -- do not edit\n[service]\nname = @NAME@\nport = @PORT@\n"
                f"region = @REGION@\nenabled = @ENABLED@\nurl = http://@NAME@.internal:@PORT@/\n")
    if rng.random() < 0.5:
        template += f"owner = {pick(rng, FIRST_NAMES)}\n"
    table_sep = pick(rng, (",", "\t", " "))
    table = lines_text(table_sep.join(r) for r in rows)
    if rng.random() < 0.5:
        table = "# name port region enabled\n" + table + "\n"

    def render(r):
        name, port, region, enabled = r
        return (template.replace("@NAME@", name).replace("@PORT@", port)
                .replace("@REGION@", region).replace("@ENABLED@", enabled))

    expected = {f"{r[0]}.{ext}": render(r) for r in rows}
    readme = pick(rng, ("INDEX", "SERVICES", "MANIFEST"))
    expected[readme] = lines_text(sorted(f"{r[0]}.{ext}" for r in rows if r[3] == "true"))
    expected = dict(sorted(expected.items()))
    sep_name = {",": "commas", "\t": "tabs", " ": "single spaces"}[table_sep]
    instruction = phrasing(
        rng,
        "Render service configs from a template. `{src}/service.tmpl` contains the placeholders "
        "`@NAME@`, `@PORT@`, `@REGION@` and `@ENABLED@`; `{src}/services.txt` lists one service "
        "per line as `name port region enabled` separated by {sep_name} (skip blank lines and "
        "lines starting with `#`). Create `{dest}/<name>.{ext}` for every service with all "
        "placeholders replaced, and a file `{dest}/{readme}` listing the file names of the enabled "
        "services (enabled = `true`), sorted, one per line. `{dest}` must contain nothing else.",
        "Create the directory `{dest}` and fill it: for each service in `{src}/services.txt` "
        "(fields separated by {sep_name}: name, port, region, enabled; ignore `#` comments and "
        "empty lines) write `{dest}/<name>.{ext}`, which is `{src}/service.tmpl` with `@NAME@`, "
        "`@PORT@`, `@REGION@`, `@ENABLED@` substituted. Also write `{dest}/{readme}` with the "
        "sorted names of the generated files whose service is enabled (`true`). No other files.",
        "Generate one `<name>.{ext}` per service into `{dest}` from the template "
        "`{src}/service.tmpl` (replace every `@NAME@`, `@PORT@`, `@REGION@`, `@ENABLED@`) using "
        "the table `{src}/services.txt` (columns name, port, region, enabled; separated by "
        "{sep_name}; `#` lines and blank lines are not services). Finish with `{dest}/{readme}`: "
        "the enabled services' file names, one per line, sorted. Nothing else may be in `{dest}`.",
        src=src, dest=dest, ext=ext, readme=readme, sep_name=sep_name,
    )
    ifs = {",": ",", "\t": "$'\\t'", " ": "' '"}[table_sep]
    solution = f"""mkdir -p {sh_quote(dest)}
: > {sh_quote(dest + '/' + readme)}.tmp
while IFS={ifs} read -r name port region enabled; do
  [[ -z "$name" || "$name" == \\#* ]] && continue
  sed -e "s/@NAME@/$name/g" -e "s/@PORT@/$port/g" -e "s/@REGION@/$region/g" -e "s/@ENABLED@/$enabled/g" \\
    {sh_quote(src + '/service.tmpl')} > {sh_quote(dest)}/"$name.{ext}"
  [ "$enabled" = true ] && echo "$name.{ext}" >> {sh_quote(dest + '/' + readme)}.tmp
done < {sh_quote(src + '/services.txt')}
LC_ALL=C sort {sh_quote(dest + '/' + readme)}.tmp > {sh_quote(dest + '/' + readme)}
rm {sh_quote(dest + '/' + readme)}.tmp"""
    tests = TREE_HELPERS + f"""

EXPECTED = {py(expected)}


def test_rendered_tree():
    assert _tree({dest!r}) == EXPECTED
"""
    return Step(instruction, solution, tests,
                files={f"{src}/service.tmpl": template, f"{src}/services.txt": table},
                output=Artifact(dest, "tree", expected),
                params={"services": services, "ext": ext, "sep": sep_name})


# --------------------------------------------------------------------------------------------
@family("files.batch-rename", category="files", skills=("files.organize", "files.inspect"),
        difficulty="medium", produces="tree")
def batch_rename(rng: random.Random, inp: Artifact | None) -> Step:
    root = f"/app/{pick(rng, ('camera', 'uploads', 'recordings', 'scans', 'notes'))}"
    mode = pick(rng, ("normalize", "date-prefix", "number-pad"))
    ext = pick(rng, ("jpg", "png", "wav", "txt", "pdf"))
    files: dict[str, str] = {}
    mtimes: dict[str, int] = {}
    names: list[str] = []
    run: list[str] = []
    width = rng.choice((3, 4))
    stem = pick(rng, ("IMG", "scan", "take", "page", "clip"))
    used_numbers: set[int] = set()
    n_files = rng.randint(6, 12)
    taken: set[str] = set()
    while len(names) < n_files:
        if mode == "normalize":
            parts = [w.capitalize() if rng.random() < 0.5 else w.upper() if rng.random() < 0.2 else w
                     for w in words(rng, rng.randint(2, 3))]
            seps = [pick(rng, (" ", "  ", " ", "_")) for _ in parts[1:]]
            if not names:   # at least one name that certainly needs renaming
                parts[0], seps[0] = parts[0].capitalize(), " "
            name = parts[0] + "".join(s + p for s, p in zip(seps, parts[1:]))
            name += f".{ext.upper() if rng.random() < 0.4 else ext}"
        else:
            top = pick(rng, (9, 99, 999 if width == 3 else 2000)) if len(names) >= 2 else 10 ** (width - 2)
            num = rng.randint(1, top)
            if num in used_numbers:
                continue
            used_numbers.add(num)
            name = f"{stem}_{num}.{ext}" if mode == "number-pad" else f"{stem} {num}.{ext}"
        key = " ".join(name.lower().replace("_", " ").split())
        if key in taken:
            continue
        taken.add(key)
        names.append(name)
        files[f"{root}/{name}"] = f"{name} {rng.randint(0, 10**9)}\n"
        # deterministic mtimes in 2019-2024, at noon UTC to stay clear of day boundaries
        mtimes[name] = 1546344000 + rng.randint(0, 2000) * 86400
    if mode == "date-prefix":
        run.append(" && ".join(f"touch -d @{mtimes[n]} {sh_quote(root + '/' + n)}" for n in names))
    import datetime as _dt
    import re as _re

    def new_name(n: str) -> str:
        if mode == "normalize":
            return _re.sub(r" +", "_", n).lower()
        if mode == "number-pad":
            num = int(n.split("_", 1)[1].split(".")[0])
            return f"{stem}_{num:0{width}d}.{ext}"
        day = _dt.datetime.fromtimestamp(mtimes[n], _dt.timezone.utc).strftime("%Y-%m-%d")
        return f"{day}_{n}"

    expected = dict(sorted((new_name(n), files[f"{root}/{n}"]) for n in names))
    assert len(expected) == len(names)
    if mode == "normalize":
        rule = ("lowercase the whole name and replace every run of one or more spaces by a single "
                "underscore (`My  Trip.JPG` becomes `my_trip.jpg`)")
        solution = f"""cd {sh_quote(root)}
for f in *; do
  new=$(printf '%s' "$f" | tr 'A-Z' 'a-z' | sed -E 's/ +/_/g')
  [ "$f" = "$new" ] || mv -- "$f" "$new"
done"""
    elif mode == "number-pad":
        rule = (f"zero-pad the number to {width} digits (`{stem}_7.{ext}` becomes "
                f"`{stem}_{7:0{width}d}.{ext}`) so the names sort in numeric order")
        solution = f"""cd {sh_quote(root)}
for f in {stem}_*.{ext}; do
  n=${{f#{stem}_}}; n=${{n%.{ext}}}
  new=$(printf '{stem}_%0{width}d.{ext}' "$((10#$n))")
  [ "$f" = "$new" ] || mv -- "$f" "$new"
done"""
    else:
        rule = ("prefix each name with the file's modification date in UTC as `YYYY-MM-DD_` "
                f"(`{stem} 12.{ext}` modified on 2021-05-03 becomes `2021-05-03_{stem} 12.{ext}`), "
                "keeping the rest of the name")
        solution = f"""cd {sh_quote(root)}
for f in *; do
  d=$(TZ=UTC date -r "$f" +%F)
  mv -- "$f" "${{d}}_$f"
done"""
    instruction = phrasing(
        rng,
        "Rename every file in `{root}`: {rule}. Rename in place (same directory, same content) "
        "and do not create or delete files.",
        "The files in `{root}` need consistent names. For each of them, {rule}. Keep them in "
        "`{root}`; only the names change.",
        "Batch-rename the contents of `{root}` according to this rule: {rule}. The directory must "
        "end up with exactly the same number of files, all renamed.",
        root=root, rule=rule,
    )
    tests = TREE_HELPERS + f"""

EXPECTED = {py(expected)}


def test_renamed():
    assert _tree({root!r}) == EXPECTED
"""
    return Step(instruction, solution, tests, files=files, run=run,
                output=Artifact(root, "tree", expected),
                params={"root": root, "mode": mode, "n_files": len(names)})

