"""Archive and checksum families: tar (gz/xz/bz2), zip, checksum manifests, split/reassemble."""

from __future__ import annotations

import hashlib
import random

from termforge.generator.draw import ident, lines_text, phrasing, pick, py, sh_quote, word, words
from termforge.generator.families.files import TREE_HELPERS, random_tree, text_blob, tree_files
from termforge.generator.registry import family
from termforge.generator.spec import Artifact, Step

# compression name -> (tar flag, file suffix, tarfile read mode)
COMPRESSIONS = {"gzip": ("z", "tar.gz", "r:gz"), "xz": ("J", "tar.xz", "r:xz"),
                "bzip2": ("j", "tar.bz2", "r:bz2")}
HASHES = {"sha256": ("sha256sum", "SHA256SUMS"), "md5": ("md5sum", "MD5SUMS"),
          "sha1": ("sha1sum", "SHA1SUMS")}


def _digest(algo: str, content: str | bytes) -> str:
    data = content.encode("utf-8") if isinstance(content, str) else content
    return hashlib.new(algo, data).hexdigest()


def _ext(rel: str) -> str:
    base = rel.rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[1] if "." in base else ""


# --------------------------------------------------------------------------------------------
@family("archives.tar-create", category="archives", skills=("archives.tar",), difficulty="easy",
        consumes="tree")
def tar_create(rng: random.Random, inp: Artifact | None) -> Step:
    files: dict[str, str] = {}
    if inp is None:
        root = f"/app/{ident(rng, 1)}-{pick(rng, ('site', 'project', 'docs', 'service'))}"
        tree = random_tree(rng, rng.randint(6, 12), exts=("txt", "md", "cfg", "json", "py"))
        excl_kind = pick(rng, ("ext", "dir"))
        if excl_kind == "ext":
            excl = pick(rng, ("log", "tmp", "bak"))
            for _ in range(rng.randint(2, 4)):
                d = pick(rng, sorted({p.rsplit("/", 1)[0] + "/" for p in tree if "/" in p} | {""}))
                tree[f"{d}{ident(rng, 1)}.{excl}"] = text_blob(rng, rng.randint(1, 5))
            excluded = {p for p in tree if p.endswith(f".{excl}")}
            pattern = f"*.{excl}"
            excl_desc = f"files ending in `.{excl}`"
        else:
            excl = pick(rng, (".cache", "node_modules", "__pycache__", "tmp"))
            for _ in range(rng.randint(2, 3)):
                d = pick(rng, sorted({p.rsplit("/", 1)[0] + "/" for p in tree if "/" in p} | {""}))
                tree[f"{d}{excl}/{ident(rng, 1)}.{pick(rng, ('bin', 'dat', 'txt'))}"] = text_blob(rng, 3)
            excluded = {p for p in tree if f"{excl}/" in f"/{p}" and (p.startswith(f"{excl}/") or f"/{excl}/" in p)}
            pattern = excl
            excl_desc = f"every directory named `{excl}` (at any depth) with its contents"
        tree = dict(sorted(tree.items()))
        files = tree_files(root, tree)
    else:
        root, tree = inp.path, dict(inp.value)
        exts = sorted({_ext(p) for p in tree if _ext(p)})
        if exts and len(tree) > 1 and rng.random() < 0.5:
            excl = pick(rng, exts)
            excluded = {p for p in tree if p.rsplit("/", 1)[-1].endswith(f".{excl}")}
            if len(excluded) == len(tree):
                excluded, pattern, excl_desc = set(), None, None
            else:
                pattern, excl_desc = f"*.{excl}", f"files ending in `.{excl}`"
        else:
            excluded, pattern, excl_desc = set(), None, None
    top = root.rstrip("/").rsplit("/", 1)[1]
    parent = root.rstrip("/").rsplit("/", 1)[0] or "/"
    comp = pick(rng, sorted(COMPRESSIONS))
    flag, suffix, mode = COMPRESSIONS[comp]
    out = f"/app/{pick(rng, ('backups', 'dist', 'archive', 'releases'))}/{top}-{rng.randint(2020, 2025)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}.{suffix}"
    expected = {f"{top}/{p}": c for p, c in sorted(tree.items()) if p not in excluded}
    excl_clause = f", leaving out {excl_desc}" if excl_desc else ""
    instruction = phrasing(
        rng,
        "Create a {comp}-compressed tar archive `{out}` of the directory `{root}`{excl_clause}. "
        "Inside the archive every path must start with `{top}/` (the directory itself, not its "
        "absolute path). Create the destination directory if needed and do not modify `{root}`.",
        "Back up `{root}` into `{out}` (a tar archive compressed with {comp}){excl_clause}. Member "
        "names must be relative and begin with `{top}/`, so that extracting the archive anywhere "
        "recreates a `{top}` directory.",
        "Package the `{top}` directory (`{root}`) as `{out}`: tar format, {comp} compression, "
        "entries stored as `{top}/...`{excl_clause}.",
        comp=comp, out=out, root=root, top=top, excl_clause=excl_clause,
    )
    excl_opt = f" --exclude={sh_quote(pattern)}" if pattern else ""
    solution = (f"mkdir -p {sh_quote(out.rsplit('/', 1)[0])}\n"
                f"tar -C {sh_quote(parent)} -c{flag}f {sh_quote(out)}{excl_opt} {sh_quote(top)}")
    tests = f"""
import tarfile

EXPECTED = {py(expected)}


def test_archive_contents():
    got = {{}}
    with tarfile.open({out!r}, {mode!r}) as tar:
        for m in tar.getmembers():
            name = m.name[2:] if m.name.startswith("./") else m.name
            assert name == {top!r} or name.startswith({top + '/'!r}), m.name
            if m.isfile():
                got[name] = tar.extractfile(m).read().decode("utf-8")
    assert got == EXPECTED
"""
    return Step(instruction, solution, tests, files=files,
                params={"root": root, "compression": comp, "exclude": pattern,
                        "members": len(expected)})


# --------------------------------------------------------------------------------------------
@family("archives.tar-extract-selective", category="archives", skills=("archives.tar",),
        difficulty="medium", produces="tree")
def tar_extract_selective(rng: random.Random, inp: Artifact | None) -> Step:
    proj = ident(rng, 1, "-")
    ver = f"{rng.randint(0, 4)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
    top = f"{proj}-{ver}"
    content: dict[str, str] = {}
    for w in words(rng, rng.randint(2, 4)):
        content[f"src/{w}.py"] = f"def {w}():\n    return {rng.randint(1, 999)}\n"
    for w in words(rng, rng.randint(2, 3)):
        content[f"docs/{w}.md"] = f"# {w.capitalize()}\n\n" + text_blob(rng, rng.randint(2, 6))
    content["README.md"] = f"# {proj} {ver}\n"
    for w in words(rng, rng.randint(2, 4)):
        sub = pick(rng, ("", "", "env/"))
        content[f"config/{sub}{w}.{pick(rng, ('ini', 'yaml', 'conf'))}"] = f"name = {w}\nlevel = {rng.randint(1, 5)}\n"
    content["tests/test_basic.py"] = "def test_ok():\n    assert True\n"
    if rng.random() < 0.5:
        content[f"docs/api/{word(rng)}.md"] = "## API\n"
    content = dict(sorted(content.items()))
    comp = pick(rng, sorted(COMPRESSIONS))
    flag, suffix, _ = COMPRESSIONS[comp]
    disguised = rng.random() < 0.3
    archive = f"/app/{proj}-{ver}.{'bundle' if disguised else suffix}"
    mode = pick(rng, ("config", "markdown"))
    dest = f"/app/{pick(rng, ('extracted', 'etc-' + proj, 'docs-out', 'unpacked'))}"
    if mode == "config":
        expected = {p[len("config/"):]: c for p, c in content.items() if p.startswith("config/")}
        what = (f"only the `{top}/config/` directory, placing its contents directly in `{dest}` "
                f"(so `{top}/config/x` becomes `{dest}/x`, subdirectories kept)")
        solution = (f"mkdir -p {sh_quote(dest)}\n"
                    f"tar -xf {sh_quote(archive)} -C {sh_quote(dest)} --strip-components=2 {sh_quote(top + '/config')}")
    else:
        expected = {p: c for p, c in content.items() if p.endswith(".md")}
        what = (f"only the Markdown files (`*.md`, at any depth) into `{dest}`, keeping their "
                f"paths but without the leading `{top}/` directory (`{top}/docs/a.md` becomes "
                f"`{dest}/docs/a.md`)")
        solution = (f"mkdir -p {sh_quote(dest)}\n"
                    f"tar -xf {sh_quote(archive)} -C {sh_quote(dest)} --strip-components=1 --wildcards '*.md'")
    hint = " (its name does not reveal the compression; find out)" if disguised else ""
    instruction = phrasing(
        rng,
        "The release archive `{archive}`{hint} contains a `{top}/` tree. Extract {what}. Nothing "
        "else from the archive may end up in `{dest}`.",
        "From `{archive}`{hint}, extract {what}. Do not extract the rest of the archive there, "
        "and keep the archive itself.",
        "I only need part of `{archive}`{hint}: extract {what}. `{dest}` must contain exactly "
        "those files.",
        archive=archive, hint=hint, what=what, dest=dest, top=top,
    )
    stage = f"/tmp/{ident(rng, 1)}-stage"
    files = {f"{stage}/{top}/{p}": c for p, c in content.items()}
    run = [f"tar -C {stage} -c{flag}f {sh_quote(archive)} {top} && rm -rf {stage}"]
    tests = TREE_HELPERS + f"""

EXPECTED = {py(expected)}


def test_extracted_exactly():
    assert _tree({dest!r}) == EXPECTED


def test_archive_kept():
    assert os.path.isfile({archive!r})
"""
    return Step(instruction, solution, tests, files=files, run=run,
                output=Artifact(dest, "tree", expected),
                params={"archive": archive, "compression": comp, "mode": mode,
                        "disguised": disguised})


# --------------------------------------------------------------------------------------------
@family("archives.zip-bundle", category="archives", skills=("archives.zip",), difficulty="easy",
        consumes="tree")
def zip_bundle(rng: random.Random, inp: Artifact | None) -> Step:
    files: dict[str, str] = {}
    include: list[str] = []
    if inp is None:
        root = f"/app/{pick(rng, ('handbook', 'site', 'report', 'assets', 'course'))}"
        tree = random_tree(rng, rng.randint(7, 13), exts=("md", "txt", "html", "css", "log", "tmp"))
        files = tree_files(root, tree)
        if rng.random() < 0.6:
            present = sorted({_ext(p) for p in tree})
            include = sorted(rng.sample(present, min(len(present), rng.randint(2, 3))))
    else:
        root, tree = inp.path, dict(inp.value)
    expected = {p: c for p, c in tree.items() if not include or _ext(p) in include}
    password = ident(rng, 2, "-") + str(rng.randint(10, 99)) if rng.random() < 0.35 else None
    out = f"/app/{pick(rng, ('dist', 'upload', 'outbox', 'share'))}/{ident(rng, 1)}.zip"
    scope = ("all files of `{root}`" if not include else
             "the files of `{root}` whose extension is " + " or ".join(f"`.{e}`" for e in include)).format(root=root)
    pw = f" Protect it with the password `{password}` (standard zip encryption)." if password else ""
    instruction = phrasing(
        rng,
        "Create the zip archive `{out}` containing {scope} (recursively). Entry names must be "
        "relative to `{root}` (for example `sub/file.txt`, with no leading `/`, `./` or "
        "`{base}/`).{pw}",
        "Bundle {scope}, searching subdirectories too, into `{out}` so that unzipping it inside an "
        "empty folder recreates the layout below `{root}` (paths relative to `{root}`).{pw}",
        "Zip up {scope} into `{out}` (create the directory if needed). Store paths relative to "
        "`{root}`, keep the subdirectory structure, and include nothing else.{pw}",
        out=out, scope=scope, root=root, base=root.rstrip("/").rsplit("/", 1)[1], pw=pw,
    )
    inc = (" -i " + " ".join(sh_quote(f"*.{e}") for e in include)) if include else ""
    pflag = f" -P {sh_quote(password)}" if password else ""
    solution = (f"mkdir -p {sh_quote(out.rsplit('/', 1)[0])}\n"
                f"cd {sh_quote(root)} && zip -q -r{pflag} {sh_quote(out)} .{inc}")
    tests = f"""
import zipfile

EXPECTED = {py(expected)}
PASSWORD = {py(password)}


def test_zip_contents():
    got = {{}}
    with zipfile.ZipFile({out!r}) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            if PASSWORD:
                assert info.flag_bits & 0x1, "entry is not encrypted: " + info.filename
            data = zf.read(info, pwd=PASSWORD.encode() if PASSWORD else None)
            got[info.filename] = data.decode("utf-8")
    assert got == EXPECTED
"""
    return Step(instruction, solution, tests, files=files,
                params={"root": root, "include": include, "password": bool(password),
                        "entries": len(expected)})


# --------------------------------------------------------------------------------------------
@family("archives.checksum-manifest", category="archives", skills=("archives.checksum",),
        difficulty="easy", consumes="tree", produces="lines")
def checksum_manifest(rng: random.Random, inp: Artifact | None) -> Step:
    files: dict[str, str] = {}
    if inp is None:
        root = f"/srv/{pick(rng, ('release', 'mirror', 'pub', 'dist'))}/{ident(rng, 1)}-{rng.randint(1, 9)}.{rng.randint(0, 9)}"
        tree = random_tree(rng, rng.randint(5, 10))
        files = tree_files(root, tree)
    else:
        root, tree = inp.path, dict(inp.value)
    algo = pick(rng, sorted(HASHES))
    tool, default_name = HASHES[algo]
    manifest = f"/app/{default_name}" if rng.random() < 0.5 else f"/app/{ident(rng, 1)}.{algo}"
    expected = [f"{_digest(algo, tree[p])}  {p}" for p in sorted(tree, key=lambda p: p.encode())]
    instruction = phrasing(
        rng,
        "Write a {algo} checksum manifest of every regular file under `{root}` (recursively) to "
        "`{manifest}`, in the format `{tool}` produces (`<hex digest>  <path>`, two spaces), with "
        "paths relative to `{root}` (no leading `./`) and lines sorted by path in byte order, so "
        "that `cd {root} && {tool} -c {manifest}` succeeds.",
        "Publish checksums for the files in `{root}`: create `{manifest}` containing one "
        "`{tool}`-style line per file (digest, two spaces, path relative to `{root}` without "
        "`./`), covering all subdirectories, sorted by path (C locale).",
        "Generate `{manifest}`: {algo} digests of all files below `{root}`, formatted like "
        "`{tool}` output with relative paths (`sub/file.txt`, not `./sub/file.txt`), ordered by "
        "path (byte order). It must verify with `{tool} -c` run from `{root}`.",
        algo=algo.upper() if algo != "sha256" else "SHA-256", root=root, manifest=manifest, tool=tool,
    )
    solution = (f"cd {sh_quote(root)} && find . -type f -printf '%P\\0' | LC_ALL=C sort -z "
                f"| xargs -0 -r {tool} -- > {sh_quote(manifest)}")
    tests = f"""
from pathlib import Path

EXPECTED = {py(expected)}


def test_manifest():
    got = Path({manifest!r}).read_text(encoding="utf-8").splitlines()
    assert got == EXPECTED
"""
    return Step(instruction, solution, tests, files=files,
                output=Artifact(manifest, "lines", expected),
                params={"root": root, "algo": algo, "files": len(expected)})


# --------------------------------------------------------------------------------------------
@family("archives.checksum-verify", category="archives", skills=("archives.checksum", "archives.tar"),
        difficulty="medium", produces="lines")
def checksum_verify(rng: random.Random, inp: Artifact | None) -> Step:
    algo = pick(rng, ("sha256", "md5"))
    tool, sums_name = HASHES[algo]
    d = f"/app/{pick(rng, ('downloads', 'mirror', 'payload', 'delivery'))}"
    good: dict[str, str] = {}
    for _ in range(rng.randint(7, 12)):
        name = pick(rng, (f"{ident(rng, 2, '-')}.{pick(rng, ('iso', 'img', 'txt', 'dat'))}",
                          f"{word(rng)} {word(rng)}.txt", f"{word(rng)}/{ident(rng, 1)}.dat"))
        if any(name.startswith(p + "/") or p.startswith(name + "/") for p in good):
            continue
        good[name] = text_blob(rng, rng.randint(3, 20))
    good = dict(sorted(good.items()))
    names = list(good)
    bad = rng.sample(names, rng.randint(1, 3))
    missing = pick(rng, [n for n in names if n not in bad]) if rng.random() < 0.7 else None
    on_disk = {}
    for n, c in good.items():
        if n == missing:
            continue
        if n in bad:
            lines = c.splitlines(keepends=True)
            i = rng.randrange(len(lines))
            lines[i] = lines[i].replace(lines[i][:1], lines[i][:1].upper() if lines[i][:1].islower() else "x", 1) \
                if rng.random() < 0.5 else lines[i].rstrip("\n") + " \n"
            c2 = "".join(lines)
            on_disk[n] = c2 if c2 != c else c + "\n"
        else:
            on_disk[n] = c
    extra = f"{ident(rng, 1)}-notes.txt"
    on_disk[extra] = "not listed in the checksum file\n"
    failed = sorted(bad + ([missing] if missing else []), key=lambda s: s.encode())
    sums = lines_text(f"{_digest(algo, c)}  {n}" for n, c in good.items())
    backup = f"/app/{d.rsplit('/', 1)[1]}-backup.tar.gz"
    out = f"/app/{pick(rng, ('failed', 'corrupt', 'bad-files'))}.txt"
    stage = f"/tmp/{ident(rng, 1)}-good"
    files = {f"{d}/{n}": c for n, c in on_disk.items()}
    files[f"{d}/{sums_name}"] = sums
    files.update({f"{stage}/{n}": c for n, c in good.items()})
    run = [f"cd {stage} && tar -czf {backup} -- * && cd / && rm -rf {stage}"]
    instruction = phrasing(
        rng,
        "`{d}/{sums}` lists the expected {algo} checksums of the files in `{d}`. Check them, write "
        "the paths (as written in `{sums}`) of the files that are corrupted or missing to `{out}`, "
        "one per line, sorted, and then restore exactly those files from the backup archive "
        "`{backup}` so that every listed file verifies. Leave files that are not listed alone.",
        "Some downloads in `{d}` are damaged or gone. Verify them against `{d}/{sums}` ({algo}); "
        "record every entry that fails (wrong checksum or file missing) in `{out}` — names as in "
        "the checksum file, sorted in byte order — and recover those files from `{backup}` "
        "(which holds good copies under the same relative paths). Do not overwrite healthy files.",
        "Run an integrity check of `{d}` using `{d}/{sums}`. Save the failing entries (mismatch or "
        "missing; one per line, sorted) to `{out}`, then extract just those entries from the tarball "
        "`{backup}` into `{d}` so that `{tool} -c {sums}` passes there.",
        d=d, sums=sums_name, algo=algo, out=out, backup=backup, tool=tool,
    )
    solution = f"""cd {sh_quote(d)}
{tool} -c {sums_name} 2>/dev/null | grep -v ': OK$' | sed -E 's/: FAILED( open or read)?$//' | LC_ALL=C sort > {sh_quote(out)}
while IFS= read -r f; do
  tar -xzf {sh_quote(backup)} -- "$f"
done < {sh_quote(out)}"""
    tests = f"""
import hashlib
import os
from pathlib import Path

D = {d!r}
FAILED = {py(failed)}
GOOD = {py({n: _digest(algo, c) for n, c in good.items()})}


def test_failed_list():
    got = [ln for ln in Path({out!r}).read_text(encoding="utf-8").splitlines() if ln.strip()]
    assert got == FAILED


def test_all_files_verify():
    for name, digest in GOOD.items():
        assert hashlib.new({algo!r}, Path(D, name).read_bytes()).hexdigest() == digest, name


def test_unlisted_file_untouched():
    assert Path(D, {extra!r}).read_text() == "not listed in the checksum file\\n"
"""
    return Step(instruction, solution, tests, files=files, run=run,
                output=Artifact(out, "lines", failed),
                params={"dir": d, "algo": algo, "failed": failed, "missing": missing})


# --------------------------------------------------------------------------------------------
_GEN = '''import hashlib, os, sys

seed, size, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = bytearray()
i = 0
while len(out) < size:
    out += hashlib.sha256(f"{seed}:{i}".encode()).digest()
    i += 1
data = bytes(out[:size])
if chunk == 0:
    with open(sys.argv[4], "wb") as f:
        f.write(data)
else:
    prefix = sys.argv[4]
    os.makedirs(os.path.dirname(prefix), exist_ok=True)
    for n, start in enumerate(range(0, size, chunk), 1):
        with open(f"{prefix}.{n}", "wb") as f:
            f.write(data[start:start + chunk])
'''


def _blob(seed: str, size: int) -> bytes:
    out = bytearray()
    i = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{i}".encode()).digest()
        i += 1
    return bytes(out[:size])


@family("archives.split-reassemble", category="archives", skills=("archives.split", "archives.checksum"),
        difficulty="medium")
def split_reassemble(rng: random.Random, inp: Artifact | None) -> Step:
    mode = pick(rng, ("split", "join"))
    seed = ident(rng, 2)
    name = f"{ident(rng, 1)}-{pick(rng, ('backup', 'dump', 'disk', 'dataset'))}.{pick(rng, ('img', 'bin', 'tar'))}"
    gen = f"/tmp/{ident(rng, 1)}_gen.py"
    if mode == "split":
        unit = pick(rng, (("K", 1024), ("M", 1024 * 1024)))
        n_chunk = rng.choice((128, 200, 256, 300, 512)) if unit[0] == "K" else 1
        chunk = n_chunk * unit[1]
        size = chunk * rng.randint(3, 7) + rng.randint(1, chunk - 1)
        data = _blob(seed, size)
        src = f"/app/{name}"
        parts_dir = f"/app/{pick(rng, ('parts', 'chunks', 'upload'))}"
        n_parts = -(-size // chunk)
        parts = [f"{name}.part-{i:03d}" for i in range(n_parts)]
        sizes = [min(chunk, size - i * chunk) for i in range(n_parts)]
        digest = hashlib.sha256(data).hexdigest()
        sha_file = f"{name}.sha256"
        size_txt = f"{n_chunk} {'KiB' if unit[0] == 'K' else 'MiB'} ({chunk} bytes)"
        instruction = phrasing(
            rng,
            "`{src}` is too large for the upload service. Split it into pieces of exactly "
            "{size_txt} (the last piece may be smaller) stored in `{parts_dir}` as "
            "`{name}.part-000`, `{name}.part-001`, … (three-digit numeric suffix, from 000). Also "
            "write `{parts_dir}/{sha_file}` with the SHA-256 of the original in `sha256sum` format "
            "(`<digest>  {name}`). Keep the original file; `{parts_dir}` must contain nothing else.",
            "Cut `{src}` into consecutive chunks of {size_txt} each (the final chunk holds the "
            "remainder) named `{parts_dir}/{name}.part-NNN` with NNN = 000, 001, 002, … and put a "
            "checksum file `{parts_dir}/{sha_file}` next to them containing the line "
            "`<sha256 of {name}>  {name}`. Do not delete `{src}`.",
            "Prepare `{src}` for transfer: `{parts_dir}` must end up with the pieces "
            "`{name}.part-000`, `{name}.part-001`, … ({size_txt} each except the last, in order) "
            "and `{sha_file}` holding the `sha256sum`-style line for the whole original file.",
            src=src, size_txt=size_txt, parts_dir=parts_dir, name=name, sha_file=sha_file,
        )
        solution = (f"mkdir -p {parts_dir}\n"
                    f"split -b {chunk} -d -a 3 {src} {parts_dir}/{name}.part-\n"
                    f"(cd /app && sha256sum {name}) > {parts_dir}/{sha_file}")
        tests = f"""
import hashlib
import os
from pathlib import Path

PARTS = {py(parts)}
SIZES = {py(sizes)}
DIGEST = {digest!r}


def test_parts_listing():
    assert sorted(os.listdir({parts_dir!r})) == sorted(PARTS + [{sha_file!r}])


def test_part_sizes():
    assert [os.path.getsize(os.path.join({parts_dir!r}, p)) for p in PARTS] == SIZES


def test_parts_reassemble_to_original():
    h = hashlib.sha256()
    for p in PARTS:
        h.update(Path({parts_dir!r}, p).read_bytes())
    assert h.hexdigest() == DIGEST


def test_checksum_file():
    assert Path({parts_dir!r}, {sha_file!r}).read_text().split() == [DIGEST, {name!r}]


def test_original_kept():
    assert hashlib.sha256(Path({src!r}).read_bytes()).hexdigest() == DIGEST
"""
        run = [f"python3 {gen} {seed} {size} 0 {src} && rm {gen}"]
        params = {"mode": mode, "size": size, "chunk": chunk, "parts": n_parts}
    else:
        n_parts = rng.randint(11, 24)
        chunk = rng.choice((40000, 65536, 50000, 100000))
        size = chunk * (n_parts - 1) + rng.randint(1, chunk)
        data = _blob(seed, size)
        digest = hashlib.sha256(data).hexdigest()
        chunks_dir = f"/app/{pick(rng, ('received', 'incoming', 'transfer'))}"
        prefix = f"{chunks_dir}/{name}"
        dest = f"/app/{pick(rng, ('restored', 'rebuilt', 'assembled'))}/{name}"
        sha_file = f"/app/{name}.sha256"
        instruction = phrasing(
            rng,
            "A file arrived in {n} pieces in `{chunks_dir}`: `{name}.1`, `{name}.2`, … "
            "`{name}.{n}` (piece numbers are not zero-padded). Reassemble them in numeric order "
            "into `{dest}` and make sure the result matches the checksum in `{sha_file}`.",
            "Rebuild `{dest}` from the chunks `{chunks_dir}/{name}.<k>` (k = 1..{n}); concatenate "
            "them in the correct numeric order — beware that `{name}.10` sorts before `{name}.2` "
            "alphabetically. `{sha_file}` holds the expected SHA-256 of the whole file.",
            "Join the numbered parts in `{chunks_dir}` back into the original file `{dest}` (order "
            "by the number after the last dot, 1 to {n}). Verify it against `{sha_file}`; leave "
            "the parts where they are.",
            n=n_parts, chunks_dir=chunks_dir, name=name, dest=dest, sha_file=sha_file,
        )
        solution = (f"mkdir -p {dest.rsplit('/', 1)[0]}\n"
                    f"for i in $(seq 1 {n_parts}); do cat {chunks_dir}/{name}.$i; done > {dest}\n"
                    f"echo \"$(cut -d' ' -f1 {sha_file})  {dest}\" | sha256sum -c -")
        tests = f"""
import hashlib
from pathlib import Path


def test_reassembled():
    data = Path({dest!r}).read_bytes()
    assert len(data) == {size}
    assert hashlib.sha256(data).hexdigest() == {digest!r}
"""
        run = [f"python3 {gen} {seed} {size} {chunk} {prefix} && rm {gen}"]
        params = {"mode": mode, "size": size, "chunk": chunk, "parts": n_parts}
        return Step(instruction, solution, tests,
                    files={gen: _GEN, sha_file: f"{digest}  {name}\n"}, run=run, params=params)
    return Step(instruction, solution, tests, files={gen: _GEN}, run=run, params=params)
