"""Build families: Makefiles, compiling and linking multi-file C projects, static/shared libraries.

Every project is generated from small C "modules" (a header, a source file and the lines `main`
prints), each computed with drawn constants; the expected program output is computed here in
Python with the same integer/floating arithmetic and baked into the tests. Tests build the project
themselves (`make clean && make`, or the commands the instruction names) and run the binary on
drawn inputs, so they check what the build produces, not how the agent got there.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from typing import Callable

from termforge.generator.draw import WORDS, lines_text, phrasing, pick, py, sh_quote, word
from termforge.generator.registry import family
from termforge.generator.spec import Step

# --------------------------------------------------------------------------------------------
# C modules
# --------------------------------------------------------------------------------------------

_NAMES = {
    "linear": ("scale", "linear", "affine", "stretch"),
    "hash": ("hashing", "digest", "checksum", "fingerprint"),
    "letters": ("letters", "charset", "textstat", "glyphs"),
    "gcd": ("numtheory", "divisors", "arith", "euclid"),
    "series": ("series", "summation", "accum", "tally"),
    "geom": ("geometry", "vector", "distance", "polar"),
    "reverse": ("strrev", "mirror", "flip", "backwards"),
    "rect": ("shapes", "rect", "box", "area"),
}


@dataclass
class CMod:
    kind: str
    name: str
    header: str
    source: str
    calls: list[str]                                 # C statements in main (print one line each)
    expect: Callable[[str, int], list[str]]          # (word, n) -> the lines those calls print
    funcs: list[str]
    needs_m: bool = False
    consts: dict = field(default_factory=dict)


def _guard(name: str) -> str:
    return f"{name.upper()}_H"


def _header(name: str, body: str, includes: tuple[str, ...] = ()) -> str:
    inc = "".join(f"#include {i}\n" for i in includes)
    return f"#ifndef {_guard(name)}\n#define {_guard(name)}\n\n{inc}{'' if not inc else chr(10)}{body}\n#endif\n"


def _mod_linear(rng: random.Random, m: str) -> CMod:
    a, b = rng.randint(2, 19), rng.randint(-60, 60)
    return CMod(
        "linear", m,
        _header(m, f"int {m}_apply(int x);\n"),
        f'#include "{m}.h"\n\nint {m}_apply(int x)\n{{\n    return x * {a} + ({b});\n}}\n',
        [f'printf("{m}_apply(%d) = %d\\n", n, {m}_apply(n));'],
        lambda w, n: [f"{m}_apply({n}) = {n * a + b}"], [f"{m}_apply"], consts={"a": a, "b": b})


def _mod_hash(rng: random.Random, m: str) -> CMod:
    seed, mul, mod = rng.randint(1, 9999), pick(rng, (31, 33, 37, 131)), pick(rng, (65521, 10007, 4093))

    def expect(w: str, n: int) -> list[str]:
        h = seed
        for ch in w.encode():
            h = (h * mul + ch) % mod
        return [f"{m}_hash({w}) = {h}"]

    src = (f'#include "{m}.h"\n\nuint32_t {m}_hash(const char *s)\n{{\n    uint32_t h = {seed}u;\n'
           f"    while (*s) {{\n        h = (h * {mul}u + (unsigned char)*s) % {mod}u;\n        s++;\n"
           f"    }}\n    return h;\n}}\n")
    return CMod("hash", m, _header(m, f"uint32_t {m}_hash(const char *s);\n", ("<stdint.h>",)), src,
                [f'printf("{m}_hash(%s) = %lu\\n", word, (unsigned long){m}_hash(word));'],
                expect, [f"{m}_hash"])


def _mod_letters(rng: random.Random, m: str) -> CMod:
    chars = "".join(sorted(rng.sample("abcdeilnorstu", rng.randint(3, 5))))
    src = (f'#include <string.h>\n#include "{m}.h"\n\nint {m}_count(const char *s)\n{{\n    int c = 0;\n'
           f'    for (; *s; s++)\n        if (strchr("{chars}", *s))\n            c++;\n    return c;\n}}\n')
    return CMod("letters", m, _header(m, f"int {m}_count(const char *s);\n"), src,
                [f'printf("{m}_count(%s) = %d\\n", word, {m}_count(word));'],
                lambda w, n: [f"{m}_count({w}) = {sum(1 for c in w if c in chars)}"], [f"{m}_count"])


def _mod_gcd(rng: random.Random, m: str) -> CMod:
    k = rng.choice([12, 18, 24, 30, 36, 42, 48, 60, 72, 84, 90, 96, 120])
    src = (f'#include "{m}.h"\n\nint {m}_gcd(int a, int b)\n{{\n    while (b != 0) {{\n        int t = a % b;\n'
           f"        a = b;\n        b = t;\n    }}\n    return a;\n}}\n")
    return CMod("gcd", m, _header(m, f"int {m}_gcd(int a, int b);\n"), src,
                [f'printf("{m}_gcd(%d, {k}) = %d\\n", n, {m}_gcd(n, {k}));'],
                lambda w, n: [f"{m}_gcd({n}, {k}) = {math.gcd(n, k)}"], [f"{m}_gcd"], consts={"k": k})


def _mod_series(rng: random.Random, m: str) -> CMod:
    k = rng.randint(3, 11)
    src = (f'#include "{m}.h"\n\nlong {m}_sum(int n)\n{{\n    long total = 0;\n    for (int i = 1; i <= n; i++)\n'
           f"        total += i % {k};\n    return total;\n}}\n")
    return CMod("series", m, _header(m, f"long {m}_sum(int n);\n"), src,
                [f'printf("{m}_sum(%d) = %ld\\n", n, {m}_sum(n));'],
                lambda w, n: [f"{m}_sum({n}) = {sum(i % k for i in range(1, n + 1))}"], [f"{m}_sum"],
                consts={"k": k})


def _mod_geom(rng: random.Random, m: str) -> CMod:
    k = rng.randint(2, 40)
    src = f'#include <math.h>\n#include "{m}.h"\n\ndouble {m}_dist(double x, double y)\n{{\n    return sqrt(x * x + y * y);\n}}\n'
    return CMod("geom", m, _header(m, f"double {m}_dist(double x, double y);\n"), src,
                [f'printf("{m}_dist(%d, {k}) = %.3f\\n", n, {m}_dist(n, {k}));'],
                lambda w, n: [f"{m}_dist({n}, {k}) = {math.sqrt(n * n + k * k):.3f}"], [f"{m}_dist"],
                needs_m=True, consts={"k": k})


def _mod_reverse(rng: random.Random, m: str) -> CMod:
    src = (f'#include <string.h>\n#include "{m}.h"\n\nvoid {m}_rev(const char *s, char *out)\n{{\n'
           f"    size_t len = strlen(s);\n    for (size_t i = 0; i < len; i++)\n        out[i] = s[len - 1 - i];\n"
           f"    out[len] = '\\0';\n}}\n")
    return CMod("reverse", m, _header(m, f"void {m}_rev(const char *s, char *out);\n"), src,
                [f"char {m}_buf[256];", f"{m}_rev(word, {m}_buf);",
                 f'printf("{m}_rev(%s) = %s\\n", word, {m}_buf);'],
                lambda w, n: [f"{m}_rev({w}) = {w[::-1]}"], [f"{m}_rev"])


def _mod_rect(rng: random.Random, m: str) -> CMod:
    k = rng.randint(2, 30)
    hdr = _header(m, f"struct {m}_rect {{\n    int w;\n    int h;\n}};\n\nint {m}_area(const struct {m}_rect *r);\n"
                     f"int {m}_perimeter(const struct {m}_rect *r);\n")
    src = (f'#include "{m}.h"\n\nint {m}_area(const struct {m}_rect *r)\n{{\n    return r->w * r->h;\n}}\n\n'
           f"int {m}_perimeter(const struct {m}_rect *r)\n{{\n    return 2 * (r->w + r->h);\n}}\n")
    return CMod("rect", m, hdr, src,
                [f"struct {m}_rect {m}_r = {{ n, {k} }};",
                 f'printf("{m}_area = %d\\n", {m}_area(&{m}_r));',
                 f'printf("{m}_perimeter = %d\\n", {m}_perimeter(&{m}_r));'],
                lambda w, n: [f"{m}_area = {n * k}", f"{m}_perimeter = {2 * (n + k)}"],
                [f"{m}_area", f"{m}_perimeter"], consts={"k": k})


_MAKERS = {"linear": _mod_linear, "hash": _mod_hash, "letters": _mod_letters, "gcd": _mod_gcd,
           "series": _mod_series, "geom": _mod_geom, "reverse": _mod_reverse, "rect": _mod_rect}


def _modules(rng: random.Random, kinds: list[str]) -> list[CMod]:
    used: set[str] = set()
    mods = []
    for kind in kinds:
        name = pick(rng, [n for n in _NAMES[kind] if n not in used])
        used.add(name)
        mods.append(_MAKERS[kind](rng, name))
    return mods


def _pick_kinds(rng: random.Random, k: int, required: tuple[str, ...] = (), exclude: tuple[str, ...] = ()) -> list[str]:
    rest = [x for x in _MAKERS if x not in required and x not in exclude]
    kinds = list(required) + rng.sample(rest, max(0, k - len(required)))
    rng.shuffle(kinds)
    return kinds


def _main_c(prog: str, mods: list[CMod], extra_includes: tuple[str, ...] = (), extra_lines: tuple[str, ...] = ()) -> str:
    inc = "".join(f'#include "{m.name}.h"\n' for m in mods) + "".join(f"#include {i}\n" for i in extra_includes)
    body = "".join(f"    {c}\n" for m in mods for c in m.calls) + "".join(f"    {c}\n" for c in extra_lines)
    return (f"#include <stdio.h>\n#include <stdlib.h>\n{inc}\nint main(int argc, char **argv)\n{{\n"
            f"    if (argc != 3) {{\n        fprintf(stderr, \"usage: {prog} WORD N\\n\");\n        return 2;\n    }}\n"
            f"    const char *word = argv[1];\n    int n = atoi(argv[2]);\n{body}    return 0;\n}}\n")


def _cases(rng: random.Random, k: int = 3) -> list[tuple[str, int]]:
    ws = rng.sample([w for w in WORDS if w.isascii() and w.isalpha()], k)
    return [(w, rng.randint(3, 400)) for w in ws]


def _expected(mods: list[CMod], cases, extra: Callable[[str, int], list[str]] | None = None) -> list[list[str]]:
    out = []
    for w, n in cases:
        lines = [ln for m in mods for ln in m.expect(w, n)]
        if extra:
            lines += extra(w, n)
        out.append(lines)
    return out


def _project_files(root: str, prog: str, mods: list[CMod], main: str | None = None) -> dict[str, str]:
    files = {f"{root}/src/main.c": main or _main_c(prog, mods)}
    for m in mods:
        files[f"{root}/include/{m.name}.h"] = m.header
        files[f"{root}/src/{m.name}.c"] = m.source
    return files


def _given_makefile(prog: str, objs: list[str], ldlibs: str) -> str:
    return (f"CC = gcc\nCFLAGS = -Wall -O2 -Iinclude\nLDLIBS = {ldlibs}\n"
            f"OBJS = {' '.join(f'build/{o}.o' for o in objs)}\nBIN = {prog}\n\n"
            "all: $(BIN)\n\n$(BIN): $(OBJS)\n\t$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)\n\n"
            "build/%.o: src/%.c | build\n\t$(CC) $(CFLAGS) -c -o $@ $<\n\n"
            "build:\n\tmkdir -p build\n\nclean:\n\trm -rf build $(BIN)\n\n.PHONY: all clean\n")


def _run_tests_src(binary: str, cases, expected, cwd: str) -> str:
    """pytest source: build the project with make, run the binary on each case."""
    return f"""
import subprocess
from pathlib import Path

PROJECT = {cwd!r}
BINARY = {binary!r}
CASES = {py([list(c) for c in cases])}
EXPECTED = {py(expected)}


def _make(*args):
    return subprocess.run(["make", *args], cwd=PROJECT, capture_output=True, text=True, timeout=180)


def test_clean_build_succeeds():
    _make("clean")
    r = _make()
    assert r.returncode == 0, r.stdout + r.stderr
    assert Path(BINARY).is_file()


def test_program_output():
    if not Path(BINARY).is_file():
        assert _make().returncode == 0
    for (word, n), want in zip(CASES, EXPECTED):
        r = subprocess.run([BINARY, word, str(n)], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines() == want
"""


def _proj_root(rng: random.Random) -> tuple[str, str]:
    prog = word(rng) + pick(rng, ("", "ctl", "calc", "tool", "d"))
    root = f"/app/{pick(rng, ('', 'src-', 'proj-'))}{prog}"
    return prog, root


# --------------------------------------------------------------------------------------------
# build.makefile-multi
# --------------------------------------------------------------------------------------------

@family("build.makefile-multi", category="build", skills=("build.make", "build.gcc"), difficulty="medium")
def makefile_multi(rng: random.Random, inp) -> Step:
    prog, root = _proj_root(rng)
    mods = _modules(rng, _pick_kinds(rng, rng.randint(2, 4)))
    needs_m = any(m.needs_m for m in mods)
    geom = [m.name for m in mods if m.needs_m]
    objdir = pick(rng, ("obj", "build", "out/obj"))
    bin_rel = pick(rng, (prog, f"bin/{prog}"))
    flags = pick(rng, (("-Wall", "-O2"), ("-Wall", "-Wextra", "-O2"), ("-Wall", "-g", "-std=c11"),
                       ("-O2", "-std=c11", "-Wall", "-Wextra")))
    with_check = rng.random() < 0.6
    cases = _cases(rng)
    expected = _expected(mods, cases)
    files = _project_files(root, prog, mods)
    check_word, check_n = cases[0]
    if with_check:
        files[f"{root}/expected.txt"] = lines_text(expected[0])
    stems = ["main"] + [m.name for m in mods]
    binary = f"{root}/{bin_rel}"

    targets = [f"`all` (the default goal) builds the program `{bin_rel}` (relative to the project directory)",
               f"every `src/<name>.c` is compiled separately to `{objdir}/<name>.o` and the objects are then linked"
               + (f" (`src/{geom[0]}.c` needs the math library)" if geom else ""),
               f"every compile command uses the flags `{' '.join(flags)}` (and `-Iinclude` for the headers)",
               f"`clean` removes all object files and the program (the tree is left as it was before the build)",
               f"`install` copies the program to `$(PREFIX)/bin/{prog}` with mode 0755, creating the directory "
               f"if needed; `PREFIX` defaults to `/usr/local` and can be overridden on the command line"]
    if with_check:
        targets.append(f"`check` builds the program if needed, runs `{bin_rel} {check_word} {check_n}` and compares "
                       f"its output with `expected.txt`; it must fail (non-zero exit) when they differ")
    spec = "\n".join(f"- {t}" for t in targets)
    instruction = phrasing(
        rng,
        "The C project in `{root}` (sources in `src/`, headers in `include/`) has no build system. "
        "Write `{root}/Makefile` (GNU make, paths relative to the project directory) so that:\n\n{spec}\n\n"
        "Do not change the sources.",
        "Create a Makefile for the multi-file C program in `{root}`. Requirements:\n\n{spec}\n\n"
        "Leave `src/` and `include/` unchanged; the Makefile must work when make is run from `{root}`.",
        "Nobody wrote a Makefile for `{root}` yet. Add `{root}/Makefile` with these targets and rules:\n\n{spec}\n\n"
        "Use gcc; keep the C sources as they are.",
        root=root, spec=spec,
    )

    obj_rule_dir = objdir
    mk = [f"CC = gcc", f"CFLAGS = {' '.join(flags)} -Iinclude", f"LDLIBS = {'-lm' if needs_m else ''}",
          "PREFIX ?= /usr/local", f"BIN = {bin_rel}", f"OBJDIR = {obj_rule_dir}",
          "SRCS = $(wildcard src/*.c)", "OBJS = $(patsubst src/%.c,$(OBJDIR)/%.o,$(SRCS))", "",
          "all: $(BIN)", "", "$(BIN): $(OBJS)", "\t@mkdir -p $(dir $@)", "\t$(CC) $(CFLAGS) -o $@ $(OBJS) $(LDLIBS)", "",
          "$(OBJDIR)/%.o: src/%.c", "\t@mkdir -p $(dir $@)", "\t$(CC) $(CFLAGS) -c -o $@ $<", "",
          "install: $(BIN)", "\tmkdir -p $(PREFIX)/bin", f"\tinstall -m 0755 $(BIN) $(PREFIX)/bin/{prog}", ""]
    if with_check:
        mk += ["check: $(BIN)", f"\t./$(BIN) {check_word} {check_n} | diff -u expected.txt -", ""]
    top = objdir.split("/")[0]
    bindir_clean = " bin" if bin_rel.startswith("bin/") else ""
    mk += ["clean:", f"\trm -rf {top}{bindir_clean} $(BIN)", "",
           f".PHONY: all clean install{' check' if with_check else ''}"]
    solution = "cd " + sh_quote(root) + "\n" + "cat > Makefile <<'EOF'\n" + "\n".join(mk) + "\nEOF\nmake\n"

    tests = f"""
import os
import shutil
import stat
import subprocess
from pathlib import Path

ROOT = {root!r}
BINARY = {binary!r}
PROG = {prog!r}
OBJECTS = {py([f"{root}/{objdir}/{s}.o" for s in stems])}
FLAGS = {py(list(flags))}
CASES = {py([list(c) for c in cases])}
EXPECTED = {py(expected)}
WITH_CHECK = {with_check!r}


def make(*args, cwd=ROOT):
    return subprocess.run(["make", *args], cwd=cwd, capture_output=True, text=True, timeout=180)


def test_makefile_exists():
    assert Path(ROOT, "Makefile").is_file() or Path(ROOT, "makefile").is_file()


def test_default_goal_builds_program_and_objects():
    make("clean")
    r = make()
    assert r.returncode == 0, r.stdout + r.stderr
    assert Path(BINARY).is_file() and os.access(BINARY, os.X_OK)
    for obj in OBJECTS:
        assert Path(obj).is_file(), obj


def test_program_output():
    if not Path(BINARY).is_file():
        assert make().returncode == 0
    for (word, n), want in zip(CASES, EXPECTED):
        r = subprocess.run([BINARY, word, str(n)], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0
        assert r.stdout.splitlines() == want


def test_compile_flags():
    r = make("-n", "-B")
    assert r.returncode == 0, r.stderr
    compiles = [ln for ln in r.stdout.splitlines() if " -c " in f" {{ln}} " and ".c" in ln]
    assert len(compiles) >= len(OBJECTS)
    for ln in compiles:
        for flag in FLAGS:
            assert flag in ln.split(), (flag, ln)


def test_clean_removes_build_outputs():
    assert make().returncode == 0
    r = make("clean")
    assert r.returncode == 0
    assert not Path(BINARY).exists()
    leftovers = [str(p) for p in Path(ROOT).rglob("*.o")]
    assert leftovers == []
    assert Path(ROOT, "src", "main.c").is_file()


def test_install_honours_prefix(tmp_path):
    prefix = tmp_path / "prefix"
    r = make("install", f"PREFIX={{prefix}}")
    assert r.returncode == 0, r.stdout + r.stderr
    installed = prefix / "bin" / PROG
    assert installed.is_file()
    assert stat.S_IMODE(installed.stat().st_mode) == 0o755
    word, n = CASES[1]
    out = subprocess.run([str(installed), word, str(n)], capture_output=True, text=True).stdout
    assert out.splitlines() == EXPECTED[1]


def test_check_target(tmp_path):
    if not WITH_CHECK:
        return
    assert make("check").returncode == 0
    copy = tmp_path / "copy"
    shutil.copytree(ROOT, copy)
    (copy / "expected.txt").write_text("something else\\n")
    assert make("check", cwd=copy).returncode != 0
"""
    return Step(instruction, solution, tests, files=files,
                params={"root": root, "modules": [m.name for m in mods], "objdir": objdir, "bin": bin_rel,
                        "flags": list(flags), "check": with_check})


# --------------------------------------------------------------------------------------------
# build.fix-compile-errors
# --------------------------------------------------------------------------------------------

_COMPILE_BUGS = {
    # bug id: (module kind it needs, description for params only)
    "stdint": "hash",
    "project-include": "rect",
    "pointer-arg": "rect",
    "arrow": "rect",
    "typo": "series",
    "semicolon": "linear",
    "conflicting": "series",
}


def _inject_compile_bug(bug: str, files: dict[str, str], root: str, mods: list[CMod]) -> None:
    by_kind = {m.kind: m for m in mods}
    m = by_kind[_COMPILE_BUGS[bug]].name
    h, c, main = f"{root}/include/{m}.h", f"{root}/src/{m}.c", f"{root}/src/main.c"

    def sub(path, old, new):
        assert old in files[path], (bug, old)
        files[path] = files[path].replace(old, new, 1)

    if bug == "stdint":
        sub(h, "#include <stdint.h>\n", "")
    elif bug == "project-include":
        sub(main, f'#include "{m}.h"\n', "")
    elif bug == "pointer-arg":
        sub(main, f"{m}_area(&{m}_r)", f"{m}_area({m}_r)")
    elif bug == "arrow":
        sub(c, "return r->w * r->h;", "return r.w * r.h;")
    elif bug == "typo":
        sub(c, "    return total;", "    return totl;")
    elif bug == "semicolon":
        sub(c, ";\n}", "\n}")
    elif bug == "conflicting":
        sub(c, f"long {m}_sum(int n)", f"int {m}_sum(int n)")


@family("build.fix-compile-errors", category="build", skills=("build.debug", "build.gcc"), difficulty="medium")
def fix_compile_errors(rng: random.Random, inp) -> Step:
    prog, root = _proj_root(rng)
    bugs = rng.sample(sorted(_COMPILE_BUGS), rng.randint(2, 3))
    if "project-include" in bugs and "pointer-arg" in bugs:
        bugs.remove("pointer-arg")
    if "typo" in bugs and "conflicting" in bugs:
        bugs.remove("conflicting")
    required = tuple(sorted({_COMPILE_BUGS[b] for b in bugs}))
    mods = _modules(rng, _pick_kinds(rng, len(required) + rng.randint(1, 2), required, exclude=("geom",)))
    files = _project_files(root, prog, mods)
    for b in bugs:
        _inject_compile_bug(b, files, root, mods)
    makefile = _given_makefile(prog, ["main"] + [m.name for m in mods], "")
    files[f"{root}/Makefile"] = makefile
    cases = _cases(rng)
    expected = _expected(mods, cases)
    good = _project_files(root, prog, mods)
    instruction = phrasing(
        rng,
        "`make` fails in `{root}`: the C sources do not compile. Fix the compile errors in `src/` and "
        "`include/` so that `make clean && make` builds `{root}/{prog}` without errors. Do not modify the "
        "Makefile, and keep every function's behaviour as written (the program prints the results of the "
        "project's functions for `{prog} WORD N`).",
        "The build of `{prog}` in `{root}` is broken by a few compile errors (run `make` to see them). "
        "Repair the source and header files — not the Makefile — so the project compiles and `./{prog} WORD N` "
        "works. Don't change what the functions compute.",
        "Someone left `{root}` in a state where it no longer compiles. Get `make` to produce the `{prog}` binary "
        "again by fixing the C code (headers and sources). The Makefile is correct and must stay unchanged; the "
        "functions must keep computing what they compute now.",
        root=root, prog=prog,
    )
    fix = []
    for path, content in good.items():
        if files[path] != content:
            fix.append(f"cat > {sh_quote(path)} <<'EOF'\n{content}EOF")
    solution = "\n".join(fix) + f"\ncd {sh_quote(root)} && make clean && make\n"
    mk_sha = hashlib.sha256(makefile.encode()).hexdigest()
    tests = _run_tests_src(f"{root}/{prog}", cases, expected, root) + f"""

def test_makefile_unchanged():
    import hashlib
    assert hashlib.sha256(Path(PROJECT, "Makefile").read_bytes()).hexdigest() == {mk_sha!r}
"""
    return Step(instruction, solution, tests, files=files,
                params={"root": root, "bugs": bugs, "modules": [m.name for m in mods]})


# --------------------------------------------------------------------------------------------
# build.fix-link-errors
# --------------------------------------------------------------------------------------------

@family("build.fix-link-errors", category="build", skills=("build.debug", "build.make"), difficulty="hard")
def fix_link_errors(rng: random.Random, inp) -> Step:
    prog, root = _proj_root(rng)
    bugs = rng.sample(["missing-object", "missing-libm", "static", "name-mismatch"], rng.randint(2, 3))
    required = ("geom",) if "missing-libm" in bugs else ()
    mods = _modules(rng, _pick_kinds(rng, rng.randint(3, 4), required))
    files = _project_files(root, prog, mods)
    good = dict(files)
    needs_m = any(m.needs_m for m in mods)
    objs = ["main"] + [m.name for m in mods]
    # a module whose source still compiles without its own header can be made static
    static_ok = [m for m in mods if m.kind in ("linear", "letters", "gcd", "series", "reverse")]
    others = [m for m in mods if m.kind != "geom"]
    victims = rng.sample(others, min(len(others), 3))
    ldlibs = "-lm" if needs_m else ""
    detail = []
    if "missing-libm" in bugs:
        ldlibs = ""
        detail.append("libm")
    if "missing-object" in bugs:
        v = victims.pop()
        objs.remove(v.name)
        detail.append(f"object:{v.name}")
    if "static" in bugs and [m for m in static_ok if m in victims]:
        v = pick(rng, [m for m in static_ok if m in victims])
        victims.remove(v)
        path = f"{root}/src/{v.name}.c"
        src = files[path].replace(f'#include "{v.name}.h"\n', "")
        fn = v.funcs[0]
        # make every function of the module static: it compiles, but main cannot link to it
        for f in v.funcs:
            ret = src.split(f + "(")[0].rsplit("\n", 1)[-1]
            src = src.replace(f"{ret}{f}(", f"static {ret}{f}(", 1)
        files[path] = src
        detail.append(f"static:{fn}")
    if "name-mismatch" in bugs and victims:
        v = victims.pop()
        path = f"{root}/src/{v.name}.c"
        f = v.funcs[0]
        typo = f[:-2] + f[-1] + f[-2]
        files[path] = files[path].replace(f + "(", typo + "(", 1)
        detail.append(f"rename:{f}->{typo}")
    makefile = _given_makefile(prog, objs, ldlibs)
    files[f"{root}/Makefile"] = makefile
    cases = _cases(rng)
    expected = _expected(mods, cases)
    instruction = phrasing(
        rng,
        "Every file in `{root}` compiles, but linking `{prog}` fails (try `make`). Find the causes of the "
        "undefined references — in the Makefile and/or the sources — and fix them so that `make clean && make` "
        "in `{root}` produces a working `{root}/{prog}`. The program's output for `{prog} WORD N` must stay what "
        "the code intends; don't delete functions or calls.",
        "The linker refuses to build `{root}/{prog}`: run `make` there and read the undefined-reference errors. "
        "Fix the build (Makefile, sources, or both) so a clean build works and the program runs. Every function "
        "that `main` calls must still be called and behave as written.",
        "`make` in `{root}` stops at the link step. Repair whatever is wrong — a missing object, a library that "
        "is not linked, a symbol that is not visible or misspelt — so that `make clean && make` succeeds and "
        "`./{prog} WORD N` prints the results of all the project's functions.",
        root=root, prog=prog,
    )
    good_mk = _given_makefile(prog, ["main"] + [m.name for m in mods], "-lm" if needs_m else "")
    fix = [f"cat > {sh_quote(root + '/Makefile')} <<'EOF'\n{good_mk}EOF"]
    for path, content in good.items():
        if files[path] != content:
            fix.append(f"cat > {sh_quote(path)} <<'EOF'\n{content}EOF")
    solution = "\n".join(fix) + f"\ncd {sh_quote(root)} && make clean && make\n"
    tests = _run_tests_src(f"{root}/{prog}", cases, expected, root) + f"""

def test_all_functions_still_defined():
    import subprocess
    out = subprocess.run(["nm", BINARY], capture_output=True, text=True).stdout
    defined = {{ln.split()[-1] for ln in out.splitlines() if len(ln.split()) == 3}}
    for fn in {py(sorted(f for m in mods for f in m.funcs))}:
        assert fn in defined, fn
"""
    return Step(instruction, solution, tests, files=files,
                params={"root": root, "bugs": detail, "modules": [m.name for m in mods]})


# --------------------------------------------------------------------------------------------
# build.static-library
# --------------------------------------------------------------------------------------------

@family("build.static-library", category="build", skills=("build.gcc",), difficulty="medium")
def static_library(rng: random.Random, inp) -> Step:
    lib = word(rng) + pick(rng, ("", "util", "core", "x"))
    root = f"/app/{lib}-{pick(rng, ('lib', 'sdk', 'kit'))}"
    app = word(rng) + pick(rng, ("", "-cli", "app"))
    shared = rng.random() < 0.35
    mods = _modules(rng, _pick_kinds(rng, rng.randint(2, 4)))
    needs_m = any(m.needs_m for m in mods)
    files = {}
    # one public header that includes the module headers
    for m in mods:
        files[f"{root}/include/{lib}/{m.name}.h"] = m.header
        files[f"{root}/src/{m.name}.c"] = m.source.replace(f'#include "{m.name}.h"', f'#include "{lib}/{m.name}.h"')
    files[f"{root}/include/{lib}.h"] = _header(f"{lib}_api", "", tuple(f'"{lib}/{m.name}.h"' for m in mods))
    main = _main_c(app, []).replace("#include <stdlib.h>\n", f'#include <stdlib.h>\n#include "{lib}.h"\n')
    main = main.replace("    return 0;\n}", "".join(f"    {c}\n" for m in mods for c in m.calls) + "    return 0;\n}")
    files[f"{root}/app/main.c"] = main
    cases = _cases(rng)
    expected = _expected(mods, cases)
    libdir = pick(rng, ("lib", "build/lib", "out"))
    bindir = pick(rng, ("bin", "build/bin", "out"))
    libfile = f"{root}/{libdir}/lib{lib}.{'so' if shared else 'a'}"
    binary = f"{root}/{bindir}/{app}"
    members = sorted(f"{m.name}.o" for m in mods)
    if shared:
        what = (f"a shared library `{libfile}` built from every file in `src/` (position-independent code), "
                f"and the program `{binary}` from `app/main.c`, linked against it with `-L`/`-l{lib}` (not by "
                f"naming the .so file). The program must run without setting `LD_LIBRARY_PATH`: embed a run path "
                f"so it finds the library in `{root}/{libdir}`")
    else:
        what = (f"a static library `{libfile}` whose archive members are exactly the object files of the sources "
                f"in `src/` (named `<source>.o`, e.g. `{mods[0].name}.o`), and the program `{binary}` from "
                f"`app/main.c`, linked against the archive with `-L`/`-l{lib}`")
    instruction = phrasing(
        rng,
        "`{root}` contains the sources of the `{lib}` library (`src/`, public headers under `include/`) and a "
        "program that uses it (`app/main.c`). Build {what}.{libm}",
        "Package the C code in `{root}/src` as a library and link the program in `{root}/app` against it. "
        "Produce {what}.{libm}",
        "Build the `{lib}` library from `{root}`: {what}. The headers live in `{root}/include`.{libm}",
        root=root, lib=lib, what=what,
        libm=" Some of the code uses the C math library." if needs_m else "",
    )
    m_flag = " -lm" if needs_m else ""
    objs = " ".join(f"{root}/build/obj/{m.name}.o" for m in mods)
    lines = [f"cd {sh_quote(root)}", f"mkdir -p build/obj {libdir} {bindir}"]
    for m in mods:
        lines.append(f"gcc -Wall -O2 {'-fPIC ' if shared else ''}-Iinclude -c src/{m.name}.c -o build/obj/{m.name}.o")
    if shared:
        lines.append(f"gcc -shared -o {libdir}/lib{lib}.so {objs}{m_flag}")
        lines.append(f"gcc -Wall -O2 -Iinclude app/main.c -L{libdir} -l{lib}{m_flag} -Wl,-rpath,{root}/{libdir} -o {bindir}/{app}")
    else:
        lines.append(f"(cd build/obj && ar rcs {root}/{libdir}/lib{lib}.a {' '.join(members)})")
        lines.append(f"gcc -Wall -O2 -Iinclude app/main.c -L{libdir} -l{lib}{m_flag} -o {bindir}/{app}")
    solution = "\n".join(lines) + "\n"
    funcs = sorted(f for m in mods for f in m.funcs)
    tests = f"""
import os
import subprocess
from pathlib import Path

LIB = {libfile!r}
BINARY = {binary!r}
SHARED = {shared!r}
MEMBERS = {py(members)}
FUNCS = {py(funcs)}
LIBNAME = {lib!r}
CASES = {py([list(c) for c in cases])}
EXPECTED = {py(expected)}


def run(*cmd, env=None):
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=60, env=env)


def test_library_exists_and_exports_functions():
    assert Path(LIB).is_file()
    out = run("nm", "-D" if SHARED else "-g", "--defined-only", LIB).stdout
    names = {{ln.split()[-1] for ln in out.splitlines() if len(ln.split()) >= 2}}
    for fn in FUNCS:
        assert fn in names, fn


def test_library_kind():
    if SHARED:
        hdr = run("readelf", "-h", LIB).stdout
        assert "DYN" in hdr
    else:
        members = sorted(run("ar", "t", LIB).stdout.split())
        assert members == MEMBERS


def test_program_runs_with_clean_environment():
    env = {{"PATH": "/usr/bin:/bin"}}
    for (word, n), want in zip(CASES, EXPECTED):
        r = run(BINARY, word, str(n), env=env)
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines() == want


def test_program_uses_the_library():
    dyn = run("readelf", "-d", BINARY).stdout
    if SHARED:
        assert f"lib{{LIBNAME}}.so" in dyn
        assert "RPATH" in dyn or "RUNPATH" in dyn
        exported = run("nm", "-D", "--defined-only", BINARY).stdout
        for fn in FUNCS:
            assert fn not in exported.split(), "functions should come from the shared library"
    else:
        assert f"lib{{LIBNAME}}" not in dyn
        defined = run("nm", "--defined-only", BINARY).stdout.split()
        for fn in FUNCS:
            assert fn in defined, fn
"""
    return Step(instruction, solution, tests, files=files,
                params={"root": root, "lib": lib, "shared": shared, "modules": [m.name for m in mods]})


# --------------------------------------------------------------------------------------------
# build.incremental-make
# --------------------------------------------------------------------------------------------

@family("build.incremental-make", category="build", skills=("build.make",), difficulty="hard")
def incremental_make(rng: random.Random, inp) -> Step:
    prog, root = _proj_root(rng)
    mods = _modules(rng, _pick_kinds(rng, rng.randint(3, 4)))
    needs_m = any(m.needs_m for m in mods)
    cfg = pick(rng, ("config.h", "version.h", "settings.h", "common.h"))
    macro = f"{prog.upper()}_VERSION"
    version = f"{rng.randint(1, 5)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
    cfg_users = sorted(m.name for m in rng.sample(mods, rng.randint(1, len(mods) - 1)))
    files = {}
    for m in mods:
        src = m.source
        if m.name in cfg_users:
            src = f'#include "{cfg}"\n' + src
        files[f"{root}/src/{m.name}.c"] = src
        files[f"{root}/include/{m.name}.h"] = m.header
    files[f"{root}/include/{cfg}"] = _header(cfg.split(".")[0] + "_cfg", f'#define {macro} "{version}"\n')
    main = _main_c(prog, mods, extra_includes=(f'"{cfg}"',),
                   extra_lines=(f'printf("version = %s\\n", {macro});',))
    files[f"{root}/src/main.c"] = main
    objdir = pick(rng, ("build", "obj", ".objs"))
    bindir = pick(rng, ("bin", "dist", "."))
    bin_rel = prog if bindir == "." else f"{bindir}/{prog}"
    cases = _cases(rng, 2)
    expected = _expected(mods, cases, lambda w, n: [f"version = {version}"])
    stems = ["main"] + [m.name for m in mods]
    # which objects each input file affects (direct includes only: headers include nothing local)
    deps = {f"src/{s}.c": [s] for s in stems}
    for m in mods:
        deps[f"include/{m.name}.h"] = sorted({"main", m.name})
    deps[f"include/{cfg}"] = sorted({"main", *cfg_users})
    touch_src = pick(rng, [f"src/{m.name}.c" for m in mods])
    touch_hdr = pick(rng, [f"include/{m.name}.h" for m in mods])
    scenarios = {touch_src: deps[touch_src], touch_hdr: deps[touch_hdr], f"include/{cfg}": deps[f"include/{cfg}"]}
    new_mod = pick(rng, ["extra", "plugin", "helpers", "misc"])
    instruction = phrasing(
        rng,
        "Write `{root}/Makefile` for the C project in `{root}` so that incremental builds are correct and minimal:\n\n"
        "- `make` (default goal) builds `{bin_rel}` from every `src/*.c` — sources are found with a wildcard, so a "
        "new `.c` file dropped into `src/` is built and linked without editing the Makefile;\n"
        "- each `src/X.c` is compiled to `{objdir}/X.o` by a single pattern rule, with `-Iinclude`{libm};\n"
        "- header dependencies are tracked automatically (e.g. gcc's `-MMD -MP`): after a header changes exactly "
        "the objects whose source includes it are recompiled, and after a `.c` file changes only its object is "
        "recompiled — then the program is relinked;\n"
        "- running `make` again when nothing changed rebuilds nothing;\n"
        "- `make clean` removes `{objdir}/` and the program.",
        "The project in `{root}` needs a proper Makefile (`{root}/Makefile`). Requirements: the default target "
        "produces `{bin_rel}`; objects go to `{objdir}/<name>.o`, one per `src/<name>.c`, built by a pattern rule "
        "(compile with `-Iinclude`{libm}); the source list comes from a wildcard over `src/*.c`; header "
        "dependencies are generated automatically so that touching a header recompiles only the objects that "
        "include it, touching one `.c` recompiles only that object, and an up-to-date tree rebuilds nothing; "
        "`clean` deletes `{objdir}/` and the program.",
        "Create a GNU Makefile at `{root}/Makefile` that does minimal rebuilds. `make` must build `{bin_rel}`, "
        "compiling each `src/*.c` (found by wildcard — new files must be picked up) into `{objdir}/*.o` through "
        "a pattern rule with `-Iinclude`{libm}. Track header dependencies automatically: a change to a header must "
        "recompile exactly the objects whose sources include it, a change to one source only its object, and "
        "nothing at all when everything is up to date. Provide `make clean` (removes `{objdir}/` and the program).",
        root=root, bin_rel=bin_rel, objdir=objdir, libm=" and link with `-lm`" if needs_m else "",
    )
    bin_mkdir = "" if bindir == "." else "\t@mkdir -p $(dir $@)\n"
    mk = (f"CC = gcc\nCFLAGS = -Wall -O2 -Iinclude -MMD -MP\nLDLIBS = {'-lm' if needs_m else ''}\n"
          f"OBJDIR = {objdir}\nBIN = {bin_rel}\nSRCS = $(wildcard src/*.c)\n"
          "OBJS = $(patsubst src/%.c,$(OBJDIR)/%.o,$(SRCS))\n\n"
          "all: $(BIN)\n\n$(BIN): $(OBJS)\n" + bin_mkdir + "\t$(CC) -o $@ $(OBJS) $(LDLIBS)\n\n"
          "$(OBJDIR)/%.o: src/%.c | $(OBJDIR)\n\t$(CC) $(CFLAGS) -c -o $@ $<\n\n"
          "$(OBJDIR):\n\tmkdir -p $@\n\nclean:\n\trm -rf $(OBJDIR) $(BIN)\n\n"
          "-include $(OBJS:.o=.d)\n\n.PHONY: all clean\n")
    solution = f"cat > {sh_quote(root + '/Makefile')} <<'EOF'\n{mk}EOF\ncd {sh_quote(root)} && make\n"
    tests = f"""
import os
import subprocess
import time
from pathlib import Path

ROOT = Path({root!r})
BINARY = ROOT / {bin_rel!r}
OBJDIR = ROOT / {objdir!r}
STEMS = {py(stems)}
CASES = {py([list(c) for c in cases])}
EXPECTED = {py(expected)}
SCENARIOS = {py(scenarios)}
NEW_MOD = {new_mod!r}


def make(*args):
    r = subprocess.run(["make", *args], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def outputs():
    return [BINARY] + [OBJDIR / f"{{s}}.o" for s in STEMS]


def settle():
    \"\"\"Make every input older than every output, all in the past, so mtime changes are visible.\"\"\"
    now = time.time()
    for p in list((ROOT / "src").rglob("*")) + list((ROOT / "include").rglob("*")) + [ROOT / "Makefile"]:
        os.utime(p, (now - 2000, now - 2000))
    built = [p for p in OBJDIR.rglob("*")] + [OBJDIR, BINARY]
    if BINARY.parent != ROOT:
        built.append(BINARY.parent)
    for p in built:
        os.utime(p, (now - 1000, now - 1000))
    return {{p: p.stat().st_mtime for p in outputs()}}


def rebuilt(before):
    return sorted(p.name for p, t in before.items() if p.stat().st_mtime != t)


def test_build_and_run():
    make("clean")
    make()
    for p in outputs():
        assert p.is_file(), p
    for (word, n), want in zip(CASES, EXPECTED):
        r = subprocess.run([str(BINARY), word, str(n)], capture_output=True, text=True, timeout=30)
        assert r.stdout.splitlines() == want


def test_up_to_date_tree_rebuilds_nothing():
    make()
    before = settle()
    make()
    assert rebuilt(before) == []


def test_minimal_rebuilds():
    make()
    for path, objs in SCENARIOS.items():
        before = settle()
        t = time.time() - 500
        os.utime(ROOT / path, (t, t))
        make()
        want = sorted([f"{{s}}.o" for s in objs] + [BINARY.name])
        assert rebuilt(before) == want, path


def test_new_source_is_picked_up():
    src = ROOT / "src" / f"{{NEW_MOD}}.c"
    try:
        src.write_text(f"int {{NEW_MOD}}_unused(void)\\n{{{{\\n    return 42;\\n}}}}\\n")
        make()
        assert (OBJDIR / f"{{NEW_MOD}}.o").is_file()
        syms = subprocess.run(["nm", str(BINARY)], capture_output=True, text=True).stdout
        assert f"{{NEW_MOD}}_unused" in syms
    finally:
        src.unlink(missing_ok=True)
        for leftover in OBJDIR.glob(f"{{NEW_MOD}}.*"):
            leftover.unlink()


def test_clean():
    make()
    make("clean")
    assert not OBJDIR.exists()
    assert not BINARY.exists()
    assert (ROOT / "src" / "main.c").is_file()
"""
    return Step(instruction, solution, tests, files=files,
                params={"root": root, "objdir": objdir, "bin": bin_rel, "modules": [m.name for m in mods],
                        "header": cfg, "cfg_users": cfg_users})
