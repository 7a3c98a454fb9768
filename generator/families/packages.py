"""Package families, fully offline: venvs, local source installs, wheelhouses, .deb packages, PATH.

The base image has pip 23 and setuptools 66 (no `wheel`), so source directories use a classic
`setup.py` (pip installs them with the legacy path, offline); wheels are built here in Python,
byte-for-byte deterministic, and baked into the image. Nothing is ever downloaded.
"""

from __future__ import annotations

import base64
import hashlib
import io
import random
import zipfile

from termforge.generator.draw import ident, phrasing, pick, py, sh_quote, word, words
from termforge.generator.registry import family
from termforge.generator.spec import Artifact, Step


def _version(rng: random.Random) -> str:
    return f"{rng.randint(0, 3)}.{rng.randint(0, 12)}.{rng.randint(0, 9)}"


def _setup_py(name: str, version: str, requires: list[str], scripts: dict[str, str]) -> str:
    eps = ""
    if scripts:
        eps = f"    entry_points={{'console_scripts': {[f'{k}={v}' for k, v in scripts.items()]!r}}},\n"
    return ("from setuptools import setup\n\n"
            f"setup(\n    name={name!r},\n    version={version!r},\n    packages=[{name!r}],\n"
            f"    install_requires={requires!r},\n{eps})\n")


# --------------------------------------------------------------------------------------------
# packages.venv-local-install
# --------------------------------------------------------------------------------------------

@family("packages.venv-local-install", category="packages", skills=("packages.venv", "packages.pip-local"),
        difficulty="medium")
def venv_local_install(rng: random.Random, inp) -> Step:
    pkg, dep = words(rng, 2)
    pkg, dep = f"{pkg}kit", f"{dep}lib"
    tool = f"{pkg[:-3]}-{pick(rng, ('cli', 'score', 'rank'))}"
    ver, dep_ver = _version(rng), _version(rng)
    weight, mod = rng.randint(2, 9), pick(rng, (97, 101, 211, 1009))
    src_root = pick(rng, ("/opt/src", "/srv/packages", "/app/vendor"))
    pkg_dir, dep_dir = f"{src_root}/{pkg}-{ver}", f"{src_root}/{dep}-{dep_ver}"
    venv = pick(rng, (f"/opt/venvs/{pkg}", f"/app/.venv-{pkg}", f"/srv/{pkg}/venv"))
    editable = rng.random() < 0.4
    files = {
        f"{dep_dir}/setup.py": _setup_py(dep, dep_ver, [], {}),
        f"{dep_dir}/{dep}/__init__.py": (f'__version__ = "{dep_ver}"\n\n\ndef score(word):\n'
                                         f'    return sum((ord(c) - 96) * {weight} for c in word.lower() if c.isalpha()) % {mod}\n'),
        f"{pkg_dir}/setup.py": _setup_py(pkg, ver, [f"{dep}>={dep_ver}"], {tool: f"{pkg}.cli:main"}),
        f"{pkg_dir}/{pkg}/__init__.py": f'__version__ = "{ver}"\n',
        f"{pkg_dir}/{pkg}/cli.py": (f"import sys\n\nfrom {dep} import score\n\nfrom {pkg} import __version__\n\n\n"
                                    "def main():\n    args = sys.argv[1:]\n    if args == ['--version']:\n"
                                    f"        print('{pkg}', __version__)\n        return 0\n"
                                    "    for w in args:\n        print(f'{w}: {score(w)}')\n    return 0\n"),
        f"{pkg_dir}/README.txt": f"{pkg} {ver}\n\nRequires {dep} >= {dep_ver} (source in {dep_dir}).\n",
    }
    samples = words(rng, 3)
    expected = [f"{w}: {sum((ord(c) - 96) * weight for c in w if c.isalpha()) % mod}" for w in samples]
    how = ("in editable (development) mode, so that the venv imports the code directly from `{d}`".format(d=pkg_dir)
           if editable else "as a regular (non-editable) install")
    instruction = phrasing(
        rng,
        "There is no network access. Create a Python virtual environment at `{venv}` and install the package in "
        "`{pkg_dir}` into it {how}. It depends on `{dep}`, whose source is in `{dep_dir}` — install that too, from "
        "the local source. Afterwards `{venv}/bin/{tool}` must work (e.g. `{tool} --version`). Do not install "
        "anything into the system Python.",
        "Offline setup: make a venv in `{venv}`, then install `{pkg}` from its source directory `{pkg_dir}` {how}. "
        "Its dependency `{dep}` is not on any index you can reach; its source is at `{dep_dir}`. When you are done the "
        "console script `{venv}/bin/{tool}` must run. The system interpreter must stay untouched.",
        "Install the local project `{pkg_dir}` into a new virtual environment `{venv}` ({how_short}). pip cannot "
        "download anything here, so satisfy the `{dep}` requirement from `{dep_dir}`. Check that "
        "`{venv}/bin/{tool} WORD...` runs; keep the global Python clean.",
        venv=venv, pkg_dir=pkg_dir, how=how, dep=dep, dep_dir=dep_dir, tool=tool, pkg=pkg,
        how_short="editable install" if editable else "regular install, not editable",
    )
    solution = (f"python3 -m venv {sh_quote(venv)}\n"
                f"{sh_quote(venv)}/bin/pip install --no-index {sh_quote(dep_dir)}\n"
                f"{sh_quote(venv)}/bin/pip install --no-index {'-e ' if editable else ''}{sh_quote(pkg_dir)}\n"
                f"{sh_quote(venv)}/bin/{tool} --version\n")
    tests = f"""
import subprocess
from pathlib import Path

VENV = {venv!r}
PKG, DEP = {pkg!r}, {dep!r}
VER, DEP_VER = {ver!r}, {dep_ver!r}
TOOL = {tool!r}
PKG_DIR = {pkg_dir!r}
EDITABLE = {editable!r}
SAMPLES = {py(samples)}
EXPECTED = {py(expected)}


def vpy(code):
    return subprocess.run([f"{{VENV}}/bin/python", "-c", code], capture_output=True, text=True, timeout=60)


def test_is_a_venv():
    assert Path(VENV, "pyvenv.cfg").is_file()
    assert Path(VENV, "bin", "python").exists()


def test_packages_importable_in_venv():
    r = vpy(f"import {{PKG}}, {{DEP}}; print({{PKG}}.__version__, {{DEP}}.__version__)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [VER, DEP_VER]


def test_install_mode():
    r = vpy(f"import {{PKG}}; print({{PKG}}.__file__)")
    path = r.stdout.strip()
    if EDITABLE:
        assert path.startswith(PKG_DIR + "/"), path
    else:
        assert path.startswith(VENV + "/"), path


def test_console_script():
    r = subprocess.run([f"{{VENV}}/bin/{{TOOL}}", *SAMPLES], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == EXPECTED
    r = subprocess.run([f"{{VENV}}/bin/{{TOOL}}", "--version"], capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == [PKG, VER]


def test_system_python_untouched():
    for mod in (PKG, DEP):
        r = subprocess.run(["/usr/bin/python3", "-c", f"import {{mod}}"], capture_output=True, cwd="/")
        assert r.returncode != 0, mod
"""
    return Step(instruction, solution, tests, files=files,
                params={"pkg": pkg, "dep": dep, "venv": venv, "editable": editable})


# --------------------------------------------------------------------------------------------
# packages.wheelhouse-lock
# --------------------------------------------------------------------------------------------

def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(name: str, version: str, requires: list[str], module_src: str, summary: str = "") -> tuple[str, bytes]:
    """A minimal, deterministic pure-Python wheel: (file name, bytes)."""
    di = f"{name}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: {summary or name}\n"
    meta += "".join(f"Requires-Dist: {r}\n" for r in requires)
    entries = [(f"{name}/__init__.py", module_src.encode()),
               (f"{di}/METADATA", meta.encode()),
               (f"{di}/WHEEL", b"Wheel-Version: 1.0\nGenerator: termforge\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
               (f"{di}/top_level.txt", f"{name}\n".encode())]
    record = "".join(f"{p},{_record_hash(d)},{len(d)}\n" for p, d in entries) + f"{di}/RECORD,,\n"
    entries.append((f"{di}/RECORD", record.encode()))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in entries:
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return f"{name}-{version}-py3-none-any.whl", buf.getvalue()


def _vkey(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


def _satisfies(v: str, spec: list[tuple[str, str]]) -> bool:
    ops = {">=": lambda a, b: a >= b, "<": lambda a, b: a < b, "==": lambda a, b: a == b,
           "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, "!=": lambda a, b: a != b}
    return all(ops[op](_vkey(v), _vkey(x)) for op, x in spec)


def _spec_text(spec: list[tuple[str, str]]) -> str:
    return ",".join(f"{op}{v}" for op, v in spec)


@family("packages.wheelhouse-lock", category="packages", skills=("packages.pip-local", "packages.venv"),
        difficulty="hard", produces="lines")
def wheelhouse_lock(rng: random.Random, inp) -> Step:
    names = [f"{w}{pick(rng, ('', 'py', 'lib', 'io'))}" for w in words(rng, 4)]
    top, mid, base, extra = names
    versions = {}
    for n in names:
        majors = rng.sample(range(0, 4), 3)
        vs = sorted({f"{m}.{rng.randint(0, 9)}.{rng.randint(0, 9)}" for m in majors for _ in range(rng.randint(1, 2))},
                    key=_vkey)
        versions[n] = vs
    # constraints: top pins an exact version; it needs mid in a range; mid needs base below the newest major
    top_v = pick(rng, versions[top][:-1] or versions[top])
    mid_lo = versions[mid][0]
    mid_spec = [(">=", mid_lo), ("<", versions[mid][-1])] if len(versions[mid]) > 1 else [(">=", mid_lo)]
    base_spec = [("<", versions[base][-1])] if len(versions[base]) > 1 else [(">=", versions[base][0])]
    extra_spec = [(">=", versions[extra][0])]
    reqs: dict[tuple[str, str], list[str]] = {}
    files: dict[str, str | bytes] = {}
    house = pick(rng, ("/opt/wheelhouse", "/srv/wheels", "/var/cache/wheels"))
    for n in names:
        for v in versions[n]:
            deps = []
            if n == top:
                deps = [f"{mid}{_spec_text(mid_spec)}"]
            elif n == mid:
                deps = [f"{base}{_spec_text(base_spec)}"]
            fname, data = make_wheel(n, v, deps, f'__version__ = "{v}"\n')
            files[f"{house}/{fname}"] = data
    chosen = {
        top: top_v,
        mid: max((v for v in versions[mid] if _satisfies(v, mid_spec)), key=_vkey),
        base: max((v for v in versions[base] if _satisfies(v, base_spec)), key=_vkey),
        extra: max(versions[extra], key=_vkey),
    }
    req_file = pick(rng, ("/app/requirements.txt", f"/app/{top}/requirements.in", "/root/requirements.txt"))
    files[req_file] = f"# runtime dependencies\n{top}=={top_v}\n{extra}{_spec_text(extra_spec)}\n"
    venv = pick(rng, ("/app/.venv", f"/opt/{top}-env", "/root/venv"))
    lock = pick(rng, ("/app/requirements.lock", f"/app/{top}.lock", "/root/constraints.txt"))
    expected = [f"{n}=={chosen[n]}" for n in sorted(chosen, key=str.lower)]
    instruction = phrasing(
        rng,
        "This machine is offline; the wheels you may use are in `{house}`. Create a virtual environment `{venv}`, "
        "install the requirements listed in `{req}` into it (dependencies resolved from the wheelhouse only), and "
        "write the exact installed set to `{lock}` in `pip freeze` format (`name==version`, one per line, sorted "
        "by name, without pip/setuptools).",
        "Using only the local wheel directory `{house}` (no index is reachable), build the environment `{venv}` from "
        "`{req}`. Then lock it: `{lock}` must list every package installed in the venv as `name==version`, like "
        "`pip freeze` prints it.",
        "Set up `{venv}` (a Python venv) with the packages required by `{req}`. There's no internet: point pip at "
        "`{house}`. Finally save the resolved versions of everything that ended up installed (pip freeze style, "
        "alphabetical) to `{lock}`.",
        house=house, venv=venv, req=req_file, lock=lock,
    )
    solution = (f"python3 -m venv {sh_quote(venv)}\n"
                f"{sh_quote(venv)}/bin/pip install --no-index --find-links {sh_quote(house)} -r {sh_quote(req_file)}\n"
                f"{sh_quote(venv)}/bin/pip freeze > {sh_quote(lock)}\ncat {sh_quote(lock)}\n")
    tests = f"""
import subprocess
from pathlib import Path

VENV = {venv!r}
LOCK = {lock!r}
EXPECTED = {py(expected)}
CHOSEN = {py(chosen)}


def test_installed_versions():
    for mod, ver in CHOSEN.items():
        r = subprocess.run([f"{{VENV}}/bin/python", "-c", f"import {{mod}}; print({{mod}}.__version__)"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == ver, mod


def test_venv_freeze():
    r = subprocess.run([f"{{VENV}}/bin/python", "-m", "pip", "freeze"], capture_output=True, text=True, timeout=120)
    got = sorted((ln.strip() for ln in r.stdout.splitlines() if ln.strip()), key=str.lower)
    assert got == EXPECTED


def test_lock_file():
    got = [ln.strip() for ln in Path(LOCK).read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert sorted(got, key=str.lower) == EXPECTED
"""
    return Step(instruction, solution, tests, files=files, output=Artifact(lock, "lines", expected),
                params={"house": house, "venv": venv, "chosen": chosen})


# --------------------------------------------------------------------------------------------
# packages.deb-build
# --------------------------------------------------------------------------------------------

@family("packages.deb-build", category="packages", skills=("packages.deb-local",), difficulty="hard")
def deb_build(rng: random.Random, inp) -> Step:
    name = f"{word(rng)}-{pick(rng, ('tools', 'utils', 'agent', 'ctl'))}"
    tool = name.replace("-", "")[:10]
    ver = f"{rng.randint(0, 4)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}-{rng.randint(1, 3)}"
    maint = f"{pick(rng, ('Ada Ops', 'Build Bot', 'Platform Team'))} <{word(rng)}@example.org>"
    desc = f"{pick(rng, ('small', 'handy', 'internal'))} helpers for {word(rng)} hosts"
    mult = rng.randint(2, 9)
    tree = f"/app/pkg/{name}"
    conf = rng.random() < 0.5
    postinst = rng.random() < 0.5
    depends = pick(rng, ("bash (>= 5.0), coreutils", "coreutils", "bash, gawk | mawk"))
    files = {
        f"{tree}/usr/bin/{tool}": (f"#!/bin/bash\n# {name} {ver}\nif [ \"$1\" = --version ]; then echo \"{tool} {ver}\"; "
                                   f"exit 0; fi\ntotal=0\nfor n in \"$@\"; do total=$((total + n * {mult})); done\n"
                                   "echo \"$total\"\n"),
        f"{tree}/usr/share/doc/{name}/README": f"{name}: {desc}.\n",
    }
    if conf:
        files[f"{tree}/etc/{name}/{name}.conf"] = f"# {name} settings\nlevel = {rng.randint(1, 5)}\n"
    deb = f"/app/dist/{name}_{ver}_all.deb"
    reqs = [f"`Package: {name}`", f"`Version: {ver}`", "`Architecture: all`", f"`Maintainer: {maint}`",
            f"`Depends: {depends}`", f"a `Description:` whose first line is `{desc}`"]
    extras = []
    if conf:
        extras.append(f"`/etc/{name}/{name}.conf` must be registered as a conffile")
    if postinst:
        extras.append(f"a `postinst` script creates the directory `/var/lib/{name}` on configure")
    extras.append(f"`/usr/bin/{tool}` is installed executable (mode 0755) and every file is owned by root:root")
    extra = "; ".join(extras)
    instruction = phrasing(
        rng,
        "`{tree}` holds the file tree of a package (paths relative to `/`). Turn it into a Debian package: write the "
        "control file with {reqs}; {extra}. Build it with dpkg-deb as `{deb}` and install it with dpkg.",
        "Package the files staged under `{tree}` as a .deb (no debhelper needed: use `dpkg-deb --build`). Control "
        "fields: {reqs}. Also: {extra}. The result must be `{deb}`, and the package must be installed on this "
        "system afterwards.",
        "Build and install a local Debian package from `{tree}`. Its metadata: {reqs}. Requirements: {extra}. Save "
        "the package as `{deb}` and install it with `dpkg -i`.",
        tree=tree, reqs=", ".join(reqs), extra=extra, deb=deb,
    )
    ctrl = (f"Package: {name}\nVersion: {ver}\nArchitecture: all\nMaintainer: {maint}\nDepends: {depends}\n"
            f"Section: utils\nPriority: optional\nDescription: {desc}\n Built from {tree}.\n")
    sol = [f"cd {sh_quote(tree)}", "mkdir -p DEBIAN", f"cat > DEBIAN/control <<'EOF'\n{ctrl}EOF"]
    if conf:
        sol.append(f"echo /etc/{name}/{name}.conf > DEBIAN/conffiles")
    if postinst:
        sol.append(f"cat > DEBIAN/postinst <<'EOF'\n#!/bin/sh\nset -e\nif [ \"$1\" = configure ]; then\n"
                   f"  mkdir -p /var/lib/{name}\nfi\nexit 0\nEOF\nchmod 0755 DEBIAN/postinst")
    sol += [f"chmod 0755 usr/bin/{tool}", "chmod 0755 DEBIAN", "mkdir -p /app/dist",
            f"dpkg-deb --root-owner-group --build {sh_quote(tree)} {sh_quote(deb)}", f"dpkg -i {sh_quote(deb)}"]
    solution = "\n".join(sol) + "\n"
    args = [rng.randint(1, 50) for _ in range(rng.randint(2, 4))]
    tests = f"""
import os
import subprocess

DEB = {deb!r}
NAME = {name!r}
VER = {ver!r}
TOOL = {tool!r}
FIELDS = {py({"Package": name, "Version": ver, "Architecture": "all", "Maintainer": maint, "Depends": depends})}
DESC = {desc!r}
CONF = {conf!r}
POSTINST = {postinst!r}
ARGS = {py(args)}
TOTAL = {sum(args) * mult}


def run(*cmd):
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=60)


def test_deb_fields():
    assert os.path.isfile(DEB)
    for field, want in FIELDS.items():
        assert run("dpkg-deb", "-f", DEB, field).stdout.strip() == want, field
    assert run("dpkg-deb", "-f", DEB, "Description").stdout.splitlines()[0].strip() == DESC


def test_deb_contents():
    listing = run("dpkg-deb", "-c", DEB).stdout.splitlines()
    assert listing
    for ln in listing:
        assert ln.split()[1] == "root/root", ln
    tool = [ln for ln in listing if ln.endswith(f"./usr/bin/{{TOOL}}")]
    assert tool and tool[0].startswith("-rwxr-xr-x")
    assert not any("DEBIAN" in ln for ln in listing)


def test_installed():
    r = run("dpkg-query", "-W", "-f", "${{Status}}|${{Version}}", NAME)
    assert r.stdout == f"install ok installed|{{VER}}"


def test_tool_runs():
    assert run(f"/usr/bin/{{TOOL}}", *map(str, ARGS)).stdout.strip() == str(TOTAL)
    assert run(f"/usr/bin/{{TOOL}}", "--version").stdout.strip() == f"{{TOOL}} {{VER}}"


def test_conffile_and_postinst():
    if CONF:
        conffiles = run("dpkg-query", "-W", "-f", "${{Conffiles}}", NAME).stdout
        assert f"/etc/{{NAME}}/{{NAME}}.conf" in conffiles
    if POSTINST:
        assert os.path.isdir(f"/var/lib/{{NAME}}")
"""
    return Step(instruction, solution, tests, files=files,
                params={"name": name, "version": ver, "conffile": conf, "postinst": postinst})


# --------------------------------------------------------------------------------------------
# packages.path-shebang
# --------------------------------------------------------------------------------------------

@family("packages.path-shebang", category="packages", skills=("packages.path", "bash.env"), difficulty="medium")
def path_shebang(rng: random.Random, inp) -> Step:
    vendor = ident(rng, 1)
    bindir = pick(rng, (f"/opt/{vendor}/bin", f"/opt/{vendor}-tools/bin", f"/usr/local/{vendor}/bin"))
    k = rng.randint(3, 17)
    tools = {}
    # a python tool with a shebang pointing at an interpreter that does not exist
    py_tool = f"{vendor[:4]}-sum"
    bad_py = pick(rng, ("#!/usr/local/bin/python3.9", "#!/usr/bin/python", "#!/opt/python/bin/python3"))
    tools[py_tool] = (bad_py, "import sys\n\n"
                      f"print(sum(int(a) for a in sys.argv[1:]) * {k})\n", "py")
    # a shell tool saved with CRLF line endings
    sh_tool = f"{vendor[:4]}-greet"
    greet = pick(rng, ("hello", "hi", "welcome"))
    tools[sh_tool] = ("#!/bin/bash", f'name="${{1:-world}}"\necho "{greet}, $name from {vendor}"\n', "crlf")
    # a tool that is simply not executable
    plain = f"{vendor[:4]}-count"
    tools[plain] = ("#!/bin/sh", 'printf "%s\\n" "$#"\n', "noexec")
    files = {}
    run_cmds = []
    for t, (shebang, body, kind) in tools.items():
        text = f"{shebang}\n{body}"
        if kind == "crlf":
            text = text.replace("\n", "\r\n")
        files[f"{bindir}/{t}"] = text
    execs = [f"{bindir}/{py_tool}", f"{bindir}/{sh_tool}"]
    stale = rng.random() < 0.5
    if stale:
        files[f"/usr/local/bin/{py_tool}"] = "#!/bin/sh\necho 'this old copy is deprecated' >&2\nexit 1\n"
        execs.append(f"/usr/local/bin/{py_tool}")
    profile = f"/etc/profile.d/{vendor}.sh"
    nums = [rng.randint(-20, 90) for _ in range(rng.randint(2, 4))]
    who = pick(rng, ("ada", "ops", "Zoë", "build bot"))
    count_args = words(rng, rng.randint(1, 4))
    instruction = phrasing(
        rng,
        "The vendor tools in `{bindir}` (`{t1}`, `{t2}`, `{t3}`) cannot be run by name. Make each of them work as a "
        "plain command in every login shell: fix whatever keeps a script from starting (interpreter line, line "
        "endings, permissions) without changing what the scripts do, and add `{bindir}` to `PATH` for login shells "
        "through `{profile}`.{stale}",
        "Users complain that `{t1}`, `{t2}` and `{t3}` (installed in `{bindir}`) are 'not found' or fail to start. "
        "Repair the scripts so they execute (only the shebang line, line endings and file modes may change — the "
        "logic stays the same) and put `{bindir}` on the `PATH` of login shells with a new file `{profile}`.{stale}",
        "Make the tools in `{bindir}` usable: `bash -l` should find `{t1}`, `{t2}` and `{t3}` by name (configure this "
        "in `{profile}`), and each must actually run — check their interpreter lines, line endings and execute "
        "bits, but don't alter their behaviour.{stale}",
        bindir=bindir, t1=py_tool, t2=sh_tool, t3=plain, profile=profile,
        stale=(f" An outdated `{py_tool}` also exists elsewhere on the default `PATH`; the command must resolve to "
               f"the one in `{bindir}`." if stale else ""),
    )
    solution = (f"sed -i '1s|.*|#!/usr/bin/env python3|' {sh_quote(bindir + '/' + py_tool)}\n"
                f"sed -i 's/\\r$//' {sh_quote(bindir + '/' + sh_tool)}\n"
                f"chmod 0755 {sh_quote(bindir)}/*\n"
                f"cat > {sh_quote(profile)} <<'EOF'\nexport PATH=\"{bindir}:$PATH\"\nEOF\n"
                f"bash -lc 'command -v {py_tool}; {py_tool} 1 2'\n")
    bodies = {t: body for t, (shebang, body, kind) in tools.items()}
    tests = f"""
import os
import subprocess

BINDIR = {bindir!r}
PROFILE = {profile!r}
TOOLS = {py(sorted(tools))}
BODIES = {py(bodies)}
PY_TOOL, SH_TOOL, PLAIN = {py_tool!r}, {sh_tool!r}, {plain!r}
NUMS = {py(nums)}
SUM = {sum(nums) * k}
WHO = {who!r}
GREETING = {f"{greet}, {who} from {vendor}"!r}
COUNT_ARGS = {py(count_args)}


def login(cmd):
    env = {{"HOME": "/root", "TERM": "dumb"}}
    return subprocess.run(["bash", "-lc", cmd], capture_output=True, text=True, timeout=60, env=env)


def test_profile_file():
    assert os.path.isfile(PROFILE)


def test_tools_resolve_to_vendor_dir():
    for t in TOOLS:
        r = login(f"command -v {{t}}")
        assert r.stdout.strip() == f"{{BINDIR}}/{{t}}", t


def test_python_tool():
    r = login(f"{{PY_TOOL}} " + " ".join(map(str, NUMS)))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(SUM)


def test_shell_tool():
    r = login(f"{{SH_TOOL}} '{{WHO}}'")
    assert r.returncode == 0, r.stderr
    assert r.stdout == GREETING + "\\n"


def test_plain_tool():
    r = login(f"{{PLAIN}} " + " ".join(COUNT_ARGS))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(len(COUNT_ARGS))


def test_logic_unchanged():
    for t, body in BODIES.items():
        text = open(f"{{BINDIR}}/{{t}}", encoding="utf-8").read().replace("\\r\\n", "\\n")
        assert text.split("\\n", 1)[1] == body, t
"""
    return Step(instruction, solution, tests, files=files, run=[f"chmod 0755 {' '.join(map(sh_quote, execs))}"],
                params={"bindir": bindir, "stale": stale, "tools": sorted(tools)})
