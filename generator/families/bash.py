"""Bash families: scripts with options and exit codes, debugging broken scripts, environment and
config precedence, pipelines with exit statuses, directory linting.

Most tasks ask for a script that the tests run on several inputs they create themselves (in a
temporary directory), comparing exit codes and output with values computed here at generation
time. Composable families additionally ask to run the script on a given input and keep the
result.
"""

from __future__ import annotations

import json
import random
import re

from termforge.generator.draw import (CITIES, FIRST_NAMES, UNICODE_WORDS, csv_text, ident,
                                      lines_text, phrasing, pick, py, sh_quote, word, words)
from termforge.generator.registry import family
from termforge.generator.spec import Artifact, Step

SCENARIO_RUNNER = '''
import os
import subprocess

import pytest

SCRIPT = {script!r}
SCENARIOS = {scenarios}


def materialise(value, root):
    if isinstance(value, str):
        return value.replace("{{dir}}", str(root))
    return value


@pytest.mark.parametrize("i", range(len(SCENARIOS)), ids=[s["name"] for s in SCENARIOS])
def test_scenario(i, tmp_path):
    sc = SCENARIOS[i]
    for name, content in sc.get("files", {{}}).items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode("utf-8"))
    for name in sc.get("dirs", []):
        (tmp_path / name).mkdir(parents=True, exist_ok=True)
    env = {{"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/root", "LC_ALL": "C.UTF-8"}}
    env.update({{k: materialise(v, tmp_path) for k, v in sc.get("env", {{}}).items()}})
    args = [materialise(a, tmp_path) for a in sc["args"]]
    r = subprocess.run([SCRIPT, *args], input=sc.get("stdin", "").encode(), capture_output=True,
                       timeout=60, cwd=tmp_path, env=env)
    out, err = r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")
    assert r.returncode == sc["rc"], f"exit status {{r.returncode}}, stderr: {{err}}"
    if "stdout" in sc:
        assert out == materialise(sc["stdout"], tmp_path)
    if sc.get("stderr_nonempty"):
        assert err.strip(), "expected an error message on stderr"
    for name, listing in sc.get("after", {{}}).items():
        assert sorted(os.listdir(tmp_path / name)) == listing
    for name in sc.get("absent", []):
        assert not (tmp_path / name).exists(), f"{{name}} must not exist"
'''


def _runner(script: str, scenarios: list[dict]) -> str:
    return SCENARIO_RUNNER.format(script=script, scenarios=py(scenarios))


# --------------------------------------------------------------------------------------------
# bash.column-stats
# --------------------------------------------------------------------------------------------

NUM_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def _stats(lines_per_file: list[list[str]], delim: str, col: str, header: bool) -> tuple[int, str]:
    """Expected (exit code, stdout) of the column-stats script."""
    vals: list[float] = []
    skipped = 0
    for lines in lines_per_file:
        idx = None
        for n, line in enumerate(lines):
            fields = line.split(delim)
            if header and n == 0:
                if not col.isdigit():
                    if col not in fields:
                        return 2, ""
                    idx = fields.index(col)
                continue
            i = idx if idx is not None else int(col) - 1
            v = fields[i] if i < len(fields) else ""
            if NUM_RE.fullmatch(v):
                vals.append(float(v))
            else:
                skipped += 1
    if not vals:
        return 1, f"count=0\nskipped={skipped}\n"
    total = 0.0
    for v in vals:
        total += v
    return 0, (f"count={len(vals)}\nsum={total:.2f}\nmin={min(vals):.2f}\nmax={max(vals):.2f}\n"
               f"mean={total / len(vals):.2f}\nskipped={skipped}\n")


def _num(rng: random.Random) -> str:
    v = rng.randint(-500, 5000) if rng.random() < 0.2 else rng.randint(0, 5000)
    return str(v) if rng.random() < 0.5 else f"{v}.{rng.randint(0, 99):02d}"


@family("bash.column-stats", category="bash", skills=("bash.script", "bash.pipeline"),
        difficulty="medium", consumes="csv", produces="lines")
def column_stats(rng: random.Random, inp: Artifact | None) -> Step:
    script = f"/app/bin/{pick(rng, ('colstats', 'col-summary', 'numstat', 'fieldstats'))}"
    out = f"/app/{pick(rng, ('stats.txt', 'summary.txt', 'column-report.txt'))}"
    files: dict[str, str] = {}
    if inp is None:
        header = ["id", pick(rng, ("amount", "price", "latency_ms", "weight")), "city", "note"]
        rows = []
        for i in range(rng.randint(12, 25)):
            val = _num(rng) if rng.random() < 0.85 else pick(rng, ("", "n/a", "-", "12,5"))
            rows.append([str(i + 1), val, pick(rng, CITIES), " ".join(words(rng, 2))])
        src = f"/app/data/{word(rng)}.csv"
        files[src] = csv_text(header, [[c.replace(",", ";") for c in r] for r in rows])
        rows = [[c.replace(",", ";") for c in r] for r in rows]
        col_name = header[1]
    else:
        src = inp.path
        header = [str(h) for h in inp.value["header"]]
        rows = [[str(c) for c in r] for r in inp.value["rows"]]

        def clean(j):
            return all("," not in c and '"' not in c and "\n" not in c
                       for r in [header] + rows for c in r[:j + 1])

        def numeric(j):
            return sum(1 for r in rows if j < len(r) and NUM_RE.fullmatch(r[j]))

        cands = [j for j in range(len(header)) if clean(j)] or [0]
        col_name = header[max(cands, key=lambda j: (numeric(j), -j))]
    raw = [",".join(header)] + [",".join(r) for r in rows]
    art_rc, art_out = _stats([raw], ",", col_name, True)
    expected_lines = art_out.splitlines()
    # scenarios the tests run on their own inputs
    scen = []
    d1 = pick(rng, (",", ";", "\t"))
    lines1 = [d1.join([pick(rng, FIRST_NAMES), _num(rng), _num(rng)]) for _ in range(rng.randint(5, 9))]
    lines1.insert(rng.randrange(len(lines1)), d1.join(["broken", "x1", ""]))
    dname = {",": ",", ";": ";", "\t": "$'\\t'"}[d1]
    rc, so = _stats([lines1], d1, "2", False)
    dargs = [] if d1 == "," else ["-d", d1]
    scen.append({"name": "by-number", "files": {"in.txt": lines_text(lines1)},
                 "args": dargs + ["-c", "2", "{dir}/in.txt"], "rc": rc, "stdout": so})
    hdr = ["host", "bytes", "ms"]
    fa = [";".join(hdr)] + [";".join([pick(rng, CITIES), _num(rng), _num(rng)]) for _ in range(4)]
    fb = [";".join(hdr)] + [";".join([pick(rng, CITIES), _num(rng), pick(rng, ("", "?", _num(rng)))])
                             for _ in range(5)]
    rc, so = _stats([fa, fb], ";", "ms", True)
    scen.append({"name": "header-two-files", "files": {"a.csv": lines_text(fa), "b b.csv": lines_text(fb)},
                 "args": ["-H", "-d", ";", "-c", "ms", "{dir}/a.csv", "{dir}/b b.csv"], "rc": rc,
                 "stdout": so})
    fs = [",".join([_num(rng), word(rng)]) for _ in range(rng.randint(3, 6))]
    rc, so = _stats([fs], ",", "1", False)
    scen.append({"name": "stdin", "stdin": lines_text(fs), "args": ["-c", "1"], "rc": rc, "stdout": so})
    fn = [",".join([word(rng), pick(rng, ("none", "", "1e5", "--"))]) for _ in range(3)]
    scen.append({"name": "no-numbers", "files": {"n.csv": lines_text(fn)},
                 "args": ["-c", "2", "{dir}/n.csv"], "rc": 1, "stdout": _stats([fn], ",", "2", False)[1]})
    scen.append({"name": "missing-column-option", "files": {"n.csv": "1\n"}, "args": ["{dir}/n.csv"],
                 "rc": 2, "stderr_nonempty": True})
    scen.append({"name": "unknown-name", "files": {"a.csv": lines_text(fa)},
                 "args": ["-H", "-d", ";", "-c", "nosuchcol", "{dir}/a.csv"], "rc": 2,
                 "stderr_nonempty": True})
    scen.append({"name": "missing-file", "args": ["-c", "1", "{dir}/missing.csv"], "rc": 2,
                 "stderr_nonempty": True})
    instruction = phrasing(
        rng,
        "Write an executable bash script `{script}` that prints statistics of one numeric column "
        "of delimited text files. Usage: `{script} [-d DELIM] [-H] -c COL [FILE...]` — fields are "
        "separated by DELIM (default `,`; no quoting), COL is a 1-based column number, or, with "
        "`-H`, also a column name looked up in the header (with `-H` the first line of every "
        "file is a header and is not data). Without FILE it reads standard input. A value counts "
        "if it matches `-?[0-9]+(\\.[0-9]+)?` exactly; every other data line (including a missing "
        "field) is skipped. Output, one per line: `count=N`, `sum=S`, `min=S`, `max=S`, "
        "`mean=S`, `skipped=N`, where S is printed with exactly two decimals (`%.2f`). If no value "
        "counts, print only `count=0` and `skipped=N` and exit 1. Usage errors (no `-c`, unknown "
        "column name, unreadable file) print a message on stderr and exit 2. Finally run it on "
        "`{src}` for the column `{col}` (the file has a header) and save the output to `{out}`.",
        "Create `{script}` (bash, executable): `{script} -c COL [-d DELIM] [-H] [FILE...]` "
        "summarises column COL. DELIM defaults to a comma (plain splitting, no CSV quoting). "
        "`-H` means each input file starts with a header line, which is skipped, and lets COL be "
        "a header name instead of a 1-based number. With no files, read stdin. Numbers are values "
        "matching the regex `^-?[0-9]+(\\.[0-9]+)?$`; other data lines are counted as skipped. "
        "Print `count=`, `sum=`, `min=`, `max=`, `mean=` and `skipped=` lines in that order, the "
        "four decimal statistics with two digits after the point; exit 0. With nothing numeric: "
        "only `count=0` and `skipped=N`, exit 1. Exit 2 with an error on stderr for a missing "
        "`-c`, a column name that is not in the header, or a file that cannot be read. Then save "
        "`{script} -H -c {col} {src}`'s output in `{out}`.",
        "We need a small column statistics tool in bash at `{script}`. Options: `-c COL` "
        "(required; 1-based index, or a header name when `-H` is given), `-d DELIM` (default "
        "`,`, fields are simply split on it), `-H` (first line of each file is a header, not "
        "data). Remaining arguments are files; none means stdin. Only values fully matching "
        "`-?[0-9]+(\\.[0-9]+)?` are used; the number of other data lines is reported as skipped. "
        "It prints `count=N`, `sum`, `min`, `max`, `mean` (each `%.2f`) and `skipped=N`, one "
        "`key=value` per line in this order. No usable value: print `count=0` and `skipped=N` "
        "and exit 1. Bad usage (missing `-c`, unknown column name, unreadable file): message to "
        "stderr, exit 2. Use it on `{src}` (column `{col}`, with header) and write the result "
        "to `{out}`.",
        script=script, src=src, col=col_name, out=out,
    )
    solution = f"""mkdir -p /app/bin
cat > {script} <<'EOF'
#!/bin/bash
usage() {{ echo "usage: $0 [-d DELIM] [-H] -c COL [FILE...]" >&2; exit 2; }}
delim=,
header=0
col=
while getopts 'd:Hc:' opt; do
  case $opt in
    d) delim=$OPTARG ;;
    H) header=1 ;;
    c) col=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ -n "$col" ] || usage
for f in "$@"; do
  [ -r "$f" ] && [ -f "$f" ] || {{ echo "$0: cannot read $f" >&2; exit 2; }}
done
[ $# -gt 0 ] || set -- -
awk -F"$delim" -v col="$col" -v header="$header" '
  FNR == 1 && header {{
    idx = 0
    if (col ~ /^[0-9]+$/) idx = col
    else for (i = 1; i <= NF; i++) if ($i == col) {{ idx = i; break }}
    if (!idx) {{ print "unknown column: " col > "/dev/stderr"; bad = 1; exit 2 }}
    next
  }}
  {{
    i = header ? idx : col
    v = $i
    if (v ~ /^-?[0-9]+(\\.[0-9]+)?$/) {{
      v += 0; n++; sum += v
      if (n == 1 || v < min) min = v
      if (n == 1 || v > max) max = v
    }} else skipped++
  }}
  END {{
    if (bad) exit 2
    if (!n) {{ printf "count=0\\nskipped=%d\\n", skipped; exit 1 }}
    printf "count=%d\\nsum=%.2f\\nmin=%.2f\\nmax=%.2f\\nmean=%.2f\\nskipped=%d\\n", n, sum, min, max, sum / n, skipped
  }}' "$@"
EOF
chmod +x {script}
{script} -H -c {sh_quote(col_name)} {sh_quote(src)} > {out} || true
"""
    tests = _runner(script, scen) + f"""

def test_saved_report():
    with open({out!r}) as f:
        assert f.read().splitlines() == {py(expected_lines)}
"""
    return Step(instruction, solution, tests, files=files,
                output=Artifact(out, "lines", expected_lines),
                params={"script": script, "column": col_name, "delim": d1, "art_rc": art_rc})


# --------------------------------------------------------------------------------------------
# bash.prune-backups
# --------------------------------------------------------------------------------------------

@family("bash.prune-backups", category="bash", skills=("bash.script",), difficulty="medium")
def prune_backups(rng: random.Random, inp: Artifact | None) -> Step:
    script = f"/app/bin/{pick(rng, ('prune-backups', 'rotate', 'keep-latest', 'backup-gc'))}"
    ext = pick(rng, (".tar.gz", ".sql.gz", ".tgz", ".dump"))
    default_keep = rng.randint(2, 5)
    esc = re.escape(ext)
    pat = re.compile(r"(.+)-([0-9]{8})-([0-9]{6})" + esc)

    def stamp() -> str:
        return (f"20{rng.randint(20, 25)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}-"
                f"{rng.randint(0, 23):02d}{rng.randint(0, 59):02d}{rng.randint(0, 59):02d}")

    def backup_dir() -> dict[str, str]:
        names = rng.sample(["db", "web-static", "mail", "ldap", "wiki-data", "git"], 3)
        fs = {}
        for n in names:
            for _ in range(rng.randint(1, default_keep + 4)):
                fs[f"{n}-{stamp()}{ext}"] = "x\n"
        fs["README.txt"] = "backups\n"
        fs[f"{names[0]}-latest{ext}"] = "link\n"
        fs[f"{names[1]}-2023{ext}"] = "odd\n"
        fs[f"{names[0]}-{stamp()}{ext}.partial"] = "partial\n"
        return fs

    def plan(fs: dict[str, str], keep: int) -> list[str]:
        groups: dict[str, list[tuple[str, str]]] = {}
        for f in fs:
            if "/" in f:
                continue
            m = pat.fullmatch(f)
            if m:
                groups.setdefault(m.group(1), []).append((m.group(2) + m.group(3), f))
        doomed = []
        for items in groups.values():
            doomed += [f for _, f in sorted(items, reverse=True)[keep:]]
        return sorted(doomed, key=lambda s: s.encode())

    scen = []
    for name, keep_arg, dry, sub in (("default", None, False, "backups"),
                                     ("keep-one", 1, False, "nightly backups"),
                                     ("dry-run", 2, True, "b")):
        fs = backup_dir()
        fs_in = {f"{sub}/{k}": v for k, v in fs.items()}
        if name == "default":
            fs_in[f"{sub}/old/{pick(rng, ['db', 'mail'])}-20200101-000000{ext}"] = "nested\n"
        keep = keep_arg or default_keep
        doomed = plan(fs, keep)
        args = (["-k", str(keep_arg)] if keep_arg else []) + (["-n"] if dry else []) + [f"{{dir}}/{sub}"]
        after = sorted(set(fs) - (set() if dry else set(doomed)) | ({"old"} if name == "default" else set()))
        scen.append({"name": name, "files": fs_in, "args": args, "rc": 0,
                     "stdout": lines_text(doomed), "after": {sub: after}})
    scen.append({"name": "bad-keep", "files": {"b/x.txt": "x\n"}, "args": ["-k", "0", "{dir}/b"], "rc": 2,
                 "stderr_nonempty": True, "after": {"b": ["x.txt"]}})
    scen.append({"name": "no-dir", "args": ["{dir}/missing"], "rc": 2, "stderr_nonempty": True})
    instruction = phrasing(
        rng,
        "Backups are files named `NAME-YYYYMMDD-HHMMSS{ext}` (NAME may contain dashes). Write an "
        "executable bash script `{script}` with usage `{script} [-k KEEP] [-n] DIR` that, for "
        "each NAME, keeps the KEEP newest backups directly inside DIR (newest by the timestamp in "
        "the file name) and deletes the older ones. KEEP defaults to {keep} and must be a "
        "positive integer. Files that do not match the pattern exactly, and anything in "
        "subdirectories, are never touched. The script prints the names (not paths) of the "
        "deleted files, one per line, sorted (`LC_ALL=C sort`). With `-n` it deletes nothing "
        "but prints what it would delete. Exit 0 on success; exit 2 with a message on stderr "
        "when DIR is not a directory or KEEP is invalid. DIR may contain spaces.",
        "Implement backup rotation in bash: `{script} [-k KEEP] [-n] DIR`. In DIR (top level "
        "only; the path may contain spaces) look at files named exactly `<name>-<YYYYMMDD>-"
        "<HHMMSS>{ext}`; group them by `<name>` (which can contain `-`), keep the KEEP most recent "
        "per group according to the date and time in the name (default KEEP = {keep}) and remove "
        "the rest. Print each removed file name on its own line in byte order. `-n` is a dry "
        "run: print the same list, remove nothing. Other files are left alone. Invalid KEEP "
        "(not a positive integer) or a DIR that is not a directory: error on stderr, exit 2.",
        "Our backup directory grows forever. Write `{script}` (bash, executable) that prunes it: "
        "`{script} [-k KEEP] [-n] DIR` keeps, for every backup set, only the KEEP newest files "
        "(default {keep}). A backup file is a regular file directly in DIR whose name is "
        "`SET-YYYYMMDD-HHMMSS{ext}`; SET may contain dashes; age comes from the timestamp in the "
        "name, not from the file's mtime. Output the basenames of the files removed, sorted "
        "bytewise, one per line; `-n` only prints them. Anything else in DIR — and everything in "
        "its subdirectories — stays. Exit 2 (message on stderr) for a bad `-k` value or a "
        "missing DIR; 0 otherwise.",
        script=script, ext=ext, keep=default_keep,
    )
    ext_re = ext.replace(".", "\\.")
    solution = f"""mkdir -p /app/bin
cat > {script} <<'EOF'
#!/bin/bash
keep={default_keep}
dry=0
while getopts 'k:n' opt; do
  case $opt in
    k) keep=$OPTARG ;;
    n) dry=1 ;;
    *) echo "usage: $0 [-k KEEP] [-n] DIR" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if ! [[ $keep =~ ^[1-9][0-9]*$ ]]; then echo "$0: KEEP must be a positive integer" >&2; exit 2; fi
dir=$1
if [ $# -ne 1 ] || [ ! -d "$dir" ]; then echo "$0: not a directory: $dir" >&2; exit 2; fi
re='^(.+)-([0-9]{{8}})-([0-9]{{6}}){ext_re}$'
doomed=$(for f in "$dir"/*; do
  base=${{f##*/}}
  [ -f "$f" ] && [[ $base =~ $re ]] || continue
  printf '%s\\t%s%s\\t%s\\n' "${{BASH_REMATCH[1]}}" "${{BASH_REMATCH[2]}}" "${{BASH_REMATCH[3]}}" "$base"
done | sort -t$'\\t' -k1,1 -k2,2r | awk -F'\\t' -v k="$keep" '++n[$1] > k {{ print $3 }}' | LC_ALL=C sort)
[ -n "$doomed" ] || exit 0
if [ $dry -eq 0 ]; then
  while IFS= read -r base; do rm -f -- "$dir/$base"; done <<< "$doomed"
fi
printf '%s\\n' "$doomed"
EOF
chmod +x {script}
"""
    return Step(instruction, solution, _runner(script, scen),
                params={"script": script, "ext": ext, "keep": default_keep})


# --------------------------------------------------------------------------------------------
# bash.fix-script
# --------------------------------------------------------------------------------------------

BUGGY_ARCHIVE = """#!/bin/bash
# Compress every *.log file of SRC_DIR into DEST_DIR as NAME.log.gz and report how many.
set -euo pipefail

src=$1
dest=$2
count=0
mkdir -p $dest
for f in $(ls $src/*.log); do
  name=$(basename $f)
  gzip -c $f > $dest/$name.gz
  ((count++))
done
echo "{verb} $count files"
"""

FIXED_ARCHIVE = """#!/bin/bash
# Compress every *.log file of SRC_DIR into DEST_DIR as NAME.log.gz and report how many.
set -euo pipefail
shopt -s nullglob

if [ $# -ne 2 ] || [ ! -d "$1" ]; then
  echo "usage: $0 SRC_DIR DEST_DIR" >&2
  exit 2
fi
src=$1
dest=$2
count=0
mkdir -p "$dest"
for f in "$src"/*.log; do
  [ -f "$f" ] || continue
  name=$(basename "$f")
  gzip -c "$f" > "$dest/$name.gz"
  count=$((count + 1))
done
echo "{verb} $count files"
"""

BUGGY_LEDGER = """#!/bin/bash
# Sum the {col} column of a CSV ledger (header: {key},{col}) per {key}.
file=$1
declare -A totals
errors=0
cat $file | tail -n +2 | while IFS=, read {key} {col}; do
  if [ ${col} -eq ${col} ] 2>/dev/null; then
    totals[${key}]=$(( ${{totals[${key}]}} + {col} ))
  else
    errors=$((errors + 1))
  fi
done
for {key} in ${{!totals[@]}}; do
  echo "${key} ${{totals[${key}]}}"
done
echo "errors: $errors"
"""

FIXED_LEDGER = """#!/bin/bash
# Sum the {col} column of a CSV ledger (header: {key},{col}) per {key}.
file=$1
if [ $# -ne 1 ] || [ ! -r "$file" ]; then
  echo "usage: $0 LEDGER.csv" >&2
  exit 2
fi
declare -A totals
errors=0
while IFS=, read -r {key} {col} || [ -n "${key}" ]; do
  if [[ ${col} =~ ^-?[0-9]+$ ]]; then
    totals[${key}]=$(( ${{totals[${key}]:-0}} + {col} ))
  else
    errors=$((errors + 1))
  fi
done < <(tail -n +2 "$file")
for {key} in "${{!totals[@]}}"; do
  printf '%s %s\\n' "${key}" "${{totals[${key}]}}"
done | LC_ALL=C sort
echo "errors: $errors"
[ "$errors" -eq 0 ]
"""

BUGGY_BATCHES = """#!/bin/bash
# usage: {name} TOTAL SIZE
# Print the {units} that cover items 1..TOTAL, SIZE items each, one per line as START-END.
total=$1
size=$2
i=0
while [ $i -lt $total ]; do
  end=$((i + size))
  echo "$i-$end"
  i=$end
done
"""

FIXED_BATCHES = """#!/bin/bash
# usage: {name} TOTAL SIZE
# Print the {units} that cover items 1..TOTAL, SIZE items each, one per line as START-END.
if [ $# -ne 2 ] || ! [[ $1 =~ ^[0-9]+$ ]] || ! [[ $2 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 TOTAL SIZE" >&2
  exit 2
fi
total=$1
size=$2
for ((start = 1; start <= total; start += size)); do
  end=$((start + size - 1))
  if ((end > total)); then end=$total; fi
  echo "$start-$end"
done
"""


@family("bash.fix-script", category="bash", skills=("bash.debug", "bash.env"), difficulty="hard")
def fix_script(rng: random.Random, inp: Artifact | None) -> Step:
    kind = pick(rng, ("archive", "ledger", "batches"))
    d = f"/opt/{ident(rng, 1)}/bin"
    if kind == "archive":
        verb = pick(rng, ("archived", "compressed", "packed"))
        script = f"{d}/{pick(rng, ('archive-logs', 'pack-logs', 'gzip-logs'))}.sh"
        buggy, fixed = BUGGY_ARCHIVE.format(verb=verb), FIXED_ARCHIVE.format(verb=verb)
        logs = {f"{w}.log": lines_text(words(rng, 3)) for w in words(rng, 2)}
        logs[f"{word(rng)} {word(rng)}.log"] = "spaced name\n"
        logs[f"{word(rng)}.txt"] = "not a log\n"
        spec = (f"`{script} SRC_DIR DEST_DIR` writes a gzip-compressed copy of every regular file "
                f"ending in `.log` directly inside SRC_DIR to `DEST_DIR/<name>.log.gz` (creating "
                f"DEST_DIR if needed, keeping the originals) and prints `{verb} N files`, exiting "
                f"0 — also when there are no `.log` files (N = 0). File and directory names may "
                f"contain spaces. If SRC_DIR is not a directory (or the arguments are wrong) it "
                f"prints a message on stderr and exits 2.")
        symptoms = "it breaks on file names with spaces and dies silently in other cases"
        n_logs = sum(1 for k in logs if k.endswith(".log"))
        tests = f"""
import gzip
import os
import subprocess

SCRIPT = {script!r}
LOGS = {py(logs)}


def run(*args):
    return subprocess.run(["bash", SCRIPT, *args], capture_output=True, text=True, timeout=30)


def test_archives_all_logs(tmp_path):
    src = tmp_path / "app logs"
    src.mkdir()
    (src / "nested.log").mkdir()
    for name, content in LOGS.items():
        (src / name).write_text(content)
    dest = tmp_path / "out dir"
    r = run(str(src), str(dest))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "{verb} {n_logs} files\\n"
    got = sorted(os.listdir(dest))
    assert got == sorted(n + ".gz" for n in LOGS if n.endswith(".log"))
    for name in got:
        assert gzip.decompress((dest / name).read_bytes()).decode() == LOGS[name[:-3]]
    assert sorted(os.listdir(src)) == sorted(list(LOGS) + ["nested.log"])


def test_no_logs(tmp_path):
    src = tmp_path / "empty"
    src.mkdir()
    (src / "readme.txt").write_text("x")
    r = run(str(src), str(tmp_path / "d"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "{verb} 0 files\\n"


def test_bad_source(tmp_path):
    r = run(str(tmp_path / "missing"), str(tmp_path / "d"))
    assert r.returncode == 2
    assert r.stderr.strip()
"""
    elif kind == "ledger":
        key = pick(rng, ("account", "customer", "project", "team"))
        col = pick(rng, ("amount", "cents", "delta", "units"))
        script = f"{d}/{pick(rng, ('ledger-totals', 'sum-ledger', 'tally'))}.sh"
        buggy, fixed = BUGGY_LEDGER.format(key=key, col=col), FIXED_LEDGER.format(key=key, col=col)
        names = [w for w in words(rng, 3)] + [f"{word(rng)} {word(rng)}"]
        rows = []
        for _ in range(rng.randint(8, 14)):
            rows.append([pick(rng, names), str(rng.randint(-300, 900))])
        bad_rows = [[pick(rng, names), pick(rng, ("12.5", "", "n/a"))] for _ in range(rng.randint(1, 2))]
        all_rows = rows + bad_rows
        rng.shuffle(all_rows)
        text = csv_text([key, col], all_rows).rstrip("\n")  # no final newline: a classic
        totals: dict[str, int] = {}
        for n, v in rows:
            totals[n] = totals.get(n, 0) + int(v)
        out_lines = [f"{n} {t}" for n, t in sorted(totals.items(), key=lambda kv: kv[0].encode())]
        expected = lines_text(out_lines + [f"errors: {len(bad_rows)}"])
        clean_rows = rows[:3]
        clean_totals: dict[str, int] = {}
        for n, v in clean_rows:
            clean_totals[n] = clean_totals.get(n, 0) + int(v)
        clean_expected = lines_text([f"{n} {t}" for n, t in sorted(clean_totals.items(),
                                                                   key=lambda kv: kv[0].encode())]
                                    + ["errors: 0"])
        spec = (f"`{script} FILE` reads a CSV ledger whose first line is the header "
                f"`{key},{col}`; {key} names may contain spaces and the last line may lack a "
                f"trailing newline. For every {key} it prints `<{key}> <total>` (the sum of its "
                f"integer {col} values, which may be negative), one line per {key} sorted by name "
                f"in byte order, followed by a last line `errors: N` where N is the number of data "
                f"lines whose {col} is not an integer. Exit status: 0 if N is 0, 1 otherwise; 2 "
                f"(with a message on stderr) if FILE is missing or unreadable.")
        symptoms = "its totals come out empty and the error count is always 0"
        tests = f"""
import subprocess

SCRIPT = {script!r}


def run(*args):
    return subprocess.run(["bash", SCRIPT, *args], capture_output=True, text=True, timeout=30)


def test_totals_with_errors(tmp_path):
    p = tmp_path / "ledger.csv"
    p.write_text({text!r})
    r = run(str(p))
    assert r.stdout == {expected!r}
    assert r.returncode == 1


def test_clean_ledger(tmp_path):
    p = tmp_path / "clean ledger.csv"
    p.write_text({csv_text([key, col], clean_rows)!r})
    r = run(str(p))
    assert r.stdout == {clean_expected!r}
    assert r.returncode == 0


def test_missing_file(tmp_path):
    r = run(str(tmp_path / "nope.csv"))
    assert r.returncode == 2
    assert r.stderr.strip()
"""
    else:
        unit, units = pick(rng, (("batch", "batches"), ("page", "pages"), ("chunk", "chunks")))
        name = units
        script = f"{d}/{name}.sh"
        buggy, fixed = (BUGGY_BATCHES.format(name=name, unit=unit, units=units),
                        FIXED_BATCHES.format(name=name, unit=unit, units=units))
        cases = []
        for total, size in ((rng.randint(10, 40), rng.randint(3, 7)), (rng.randint(2, 5), 10),
                            (12, 4), (0, 3), (1, 1)):
            expected = "".join(f"{s}-{min(s + size - 1, total)}\n" for s in range(1, total + 1, size))
            cases.append([str(total), str(size), expected])
        spec = (f"`{script} TOTAL SIZE` prints the {units} covering items 1..TOTAL with SIZE items "
                f"per {unit}: one line `START-END` per {unit} (1-based, inclusive, the last {unit} "
                f"ends at TOTAL), e.g. `10 4` gives `1-4`, `5-8`, `9-10`. TOTAL = 0 prints nothing "
                f"and exits 0. TOTAL must be a non-negative integer and SIZE a positive integer; "
                f"otherwise (or with the wrong number of arguments) it prints a message on stderr "
                f"and exits 2.")
        symptoms = "its ranges are off and bad input makes it loop or print garbage"
        tests = f"""
import subprocess

import pytest

SCRIPT = {script!r}
CASES = {py(cases)}


def run(*args):
    return subprocess.run(["bash", SCRIPT, *args], capture_output=True, text=True, timeout=10)


@pytest.mark.parametrize("total,size,expected", CASES)
def test_ranges(total, size, expected):
    r = run(total, size)
    assert r.returncode == 0, r.stderr
    assert r.stdout == expected


@pytest.mark.parametrize("args", [["5", "0"], ["x", "2"], ["5"], ["-3", "2"], ["4", "1.5"]])
def test_bad_input(args):
    r = run(*args)
    assert r.returncode == 2
    assert r.stderr.strip()
    assert r.stdout == ""
"""
    instruction = phrasing(
        rng,
        "The bash script `{script}` is buggy: {symptoms}. Fix it in place (it must stay a bash "
        "script at that path) so that it does exactly this: {spec}",
        "Debug `{script}`. Intended behaviour: {spec} Right now {symptoms}. Make the script "
        "behave as specified; keep it at the same path, written in bash.",
        "Someone wrote `{script}` in a hurry and {symptoms}. Here is what it is supposed to do: "
        "{spec} Repair the script (same path, still bash) so that it meets this specification "
        "for every input.",
        script=script, symptoms=symptoms, spec=spec,
    )
    solution = f"cat > {script} <<'FIXED_EOF'\n{fixed}FIXED_EOF\nchmod +x {script}\n"
    return Step(instruction, solution, tests, files={script: buggy}, executable=(script,),
                params={"kind": kind, "script": script})


# --------------------------------------------------------------------------------------------
# bash.env-config
# --------------------------------------------------------------------------------------------

SERVER_STUB = """#!/usr/bin/env python3
# Stand-in for the real server: prints the arguments it was started with as JSON.
import json
import sys

print(json.dumps(sys.argv[1:]))
"""


@family("bash.env-config", category="bash", skills=("bash.env", "bash.script"), difficulty="medium")
def env_config(rng: random.Random, inp: Artifact | None) -> Step:
    app = word(rng)
    prefix = app.upper()
    launcher = f"/app/bin/{app}-launch"
    server = f"/opt/{app}/bin/{app}-server"
    default_conf = f"/etc/{app}/{app}.conf"
    defaults = {"port": str(rng.randint(7000, 9000)), "host": "127.0.0.1",
                "workers": str(rng.randint(2, 8)), "log_level": "info",
                "banner": pick(rng, ("welcome", "hello", "ready"))}
    order = ["host", "port", "workers", "log_level", "banner"]
    flag = {k: "--" + k.replace("_", "-") for k in order}
    levels = ["debug", "info", "warning", "error"]

    def resolve(conf_text: str | None, env: dict[str, str], args: list[str]) -> tuple[int, str]:
        vals = dict(defaults)
        if conf_text is not None:
            for line in conf_text.splitlines():
                s = line.strip()
                if not s or s.startswith("#") or "=" not in s:
                    continue
                k, v = s.split("=", 1)
                k, v = k.strip(), v.strip()
                if len(v) >= 2 and v[0] == v[-1] == '"':
                    v = v[1:-1]
                if k in vals:
                    vals[k] = v
        for k in order:
            if env.get(f"{prefix}_{k.upper()}"):
                vals[k] = env[f"{prefix}_{k.upper()}"]
        it = iter(args)
        for a in it:
            k = a[2:].replace("-", "_")
            if a not in flag.values():
                return 2, ""
            v = next(it, None)
            if v is None:
                return 2, ""
            vals[k] = v
        if not (vals["port"].isdigit() and 1 <= int(vals["port"]) <= 65535):
            return 3, ""
        if not (vals["workers"].isdigit() and int(vals["workers"]) >= 1):
            return 3, ""
        if vals["log_level"] not in levels:
            return 3, ""
        argv = []
        for k in order:
            argv += [flag[k], vals[k]]
        return 0, json.dumps(argv) + "\n"

    etc_text = (f"# {app} settings\nport = {rng.randint(9001, 9999)}\n\nworkers=3\n"
                f"banner = \"{pick(rng, ('Good morning', 'Service up', 'Hi there'))}\"\n")
    conf1 = (f"# local overrides\nhost = 0.0.0.0\n  log_level = {pick(rng, ('debug', 'warning'))}\n"
             f"unknown_key = 1\nworkers = {rng.randint(9, 16)}\nport={rng.randint(1024, 5000)}\n"
             f"port = {rng.randint(5001, 6000)}\n")
    evil = f"banner = $(touch pwned) `touch pwned` {word(rng)}\n"
    scen = []

    def add(name, conf, env, args, extra=None):
        env = dict(env)
        conf_for_resolve = None
        if conf == "etc":
            conf_for_resolve = etc_text
        elif conf == "none":
            env[f"{prefix}_CONFIG"] = "{dir}/does-not-exist.conf"
        elif conf is not None:
            env[f"{prefix}_CONFIG"] = "{dir}/app.conf"
            conf_for_resolve = conf
        rc, out = resolve(conf_for_resolve, env, args)
        sc = {"name": name, "env": env, "args": args, "rc": rc}
        if conf not in (None, "etc", "none"):
            sc["files"] = {"app.conf": conf}
        if rc == 0:
            sc["stdout"] = out
        else:
            sc["stdout"] = ""
            sc["stderr_nonempty"] = True
        sc.update(extra or {})
        scen.append(sc)

    add("defaults", "none", {}, [])
    add("default-config-file", "etc", {}, [])
    add("config-file", conf1, {}, [])
    add("env-over-config", conf1, {f"{prefix}_PORT": str(rng.randint(6001, 6999)),
                                   f"{prefix}_BANNER": "from env with spaces"}, [])
    add("flag-over-env", conf1, {f"{prefix}_PORT": "6500", f"{prefix}_LOG_LEVEL": "error"},
        ["--port", str(rng.randint(10000, 20000)), "--banner", "two words", "--workers", "1"])
    add("empty-env-ignored", conf1, {f"{prefix}_HOST": ""}, [])
    add("literal-values", evil, {}, [], {"absent": ["pwned"]})
    add("bad-port", "none", {f"{prefix}_PORT": str(rng.choice([0, 70000]))}, [])
    add("bad-level", "none", {}, ["--log-level", "verbose"])
    add("bad-workers", conf1.replace("workers =", "workers = -"), {}, [])
    add("unknown-option", "none", {}, ["--colour", "red"])
    settings = "\n".join(
        f"- `{k}`: flag `{flag[k]}`, environment variable `{prefix}_{k.upper()}`, default "
        f"`{defaults[k]}`" for k in order)
    instruction = phrasing(
        rng,
        "Write the launcher `{launcher}` (bash, executable) for the `{app}` server. It works out "
        "five settings and then replaces itself (`exec`) with `{server} --host H --port P "
        "--workers W --log-level L --banner B` — exactly these arguments in this order, each "
        "value passed as a single argument.\n\n{settings}\n\nPrecedence, highest first: "
        "command-line flag (`--flag VALUE`), environment variable (when set and non-empty), "
        "config file, default. The config file is `${prefix}_CONFIG` if set, else `{conf}`; a "
        "missing file is fine. Its lines are `key = value` (spaces around `=` optional), blank "
        "lines and lines starting with `#` are ignored, a value in double quotes loses the "
        "quotes, unknown keys are ignored, a later line wins. Values are literal text: the "
        "config file must never be executed or expanded. Validation after resolving: port an "
        "integer 1-65535, workers an integer >= 1, log level one of {levels}; otherwise print an "
        "error on stderr and exit 3 without starting the server. An unknown option or a flag "
        "without a value: error on stderr, exit 2.",
        "`{server}` must be started through a launcher script that resolves its configuration. "
        "Create `{launcher}` in bash. Settings (name: flag, environment variable, default):\n\n"
        "{settings}\n\nSources in order of priority: flags given to the launcher (`--flag "
        "VALUE`), then non-empty environment variables, then the config file, then the defaults. "
        "Config file path: `${prefix}_CONFIG`, or `{conf}` when that variable is unset; skip it "
        "if it does not exist. Format: `key=value` lines, optional whitespace around key and "
        "value, `#` comment lines, blank lines; surrounding double quotes are stripped; unknown "
        "keys are ignored; the last occurrence wins. Treat the file as data, never source or "
        "eval it. Check the result: port 1..65535, workers >= 1 (integers), log level in "
        "{levels} — on failure write an error to stderr and exit 3. Reject unknown options or "
        "a missing flag value with exit 2. Finally `exec {server} --host H --port P --workers W "
        "--log-level L --banner B` (that argument order; each value one argument).",
        "Implement configuration loading for `{app}` in a bash launcher at `{launcher}`. It must "
        "end by exec-ing `{server}` with the arguments `--host H --port P --workers W "
        "--log-level L --banner B` in this order (values may contain spaces and must stay single "
        "arguments). The settings are:\n\n{settings}\n\nA flag beats an environment variable, "
        "which beats the config file, which beats the default; empty environment variables do "
        "not count. The config file (`${prefix}_CONFIG`, default `{conf}`, ignored if absent) "
        "contains `key = value` lines with optional spaces, `#` comments, blank lines, optional "
        "double quotes around the value; unknown keys are skipped and later lines override "
        "earlier ones. Never execute its contents. Invalid port (not 1-65535), workers (< 1 or "
        "not an integer) or log level (not one of {levels}): message on stderr, exit 3, server "
        "not started. Unknown option or missing value: exit 2.",
        launcher=launcher, app=app, server=server, settings=settings, prefix=prefix,
        conf=default_conf, levels=", ".join(f"`{lv}`" for lv in levels),
    )
    keys_case = "|".join(order)
    solution = f"""mkdir -p /app/bin
cat > {launcher} <<'EOF'
#!/bin/bash
declare -A conf=([host]={defaults['host']} [port]={defaults['port']} [workers]={defaults['workers']} [log_level]={defaults['log_level']} [banner]={defaults['banner']})
trim() {{ local s=$1; s=${{s#"${{s%%[![:space:]]*}}"}}; s=${{s%"${{s##*[![:space:]]}}"}}; printf '%s' "$s"; }}
cfg=${{{prefix}_CONFIG:-{default_conf}}}
if [ -f "$cfg" ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    line=$(trim "$line")
    [[ -z $line || $line == \\#* || $line != *=* ]] && continue
    key=$(trim "${{line%%=*}}")
    val=$(trim "${{line#*=}}")
    if [[ ${{#val}} -ge 2 && $val == \\"*\\" ]]; then val=${{val:1:${{#val}}-2}}; fi
    case $key in {keys_case}) conf[$key]=$val ;; esac
  done < "$cfg"
fi
for key in {' '.join(order)}; do
  var={prefix}_${{key^^}}
  if [ -n "${{!var:-}}" ]; then conf[$key]=${{!var}}; fi
done
while [ $# -gt 0 ]; do
  case $1 in
    {'|'.join(flag[k] for k in order)})
      [ $# -ge 2 ] || {{ echo "$0: $1 needs a value" >&2; exit 2; }}
      key=${{1#--}}; key=${{key//-/_}}; conf[$key]=$2; shift 2 ;;
    *) echo "$0: unknown option $1" >&2; exit 2 ;;
  esac
done
if ! [[ ${{conf[port]}} =~ ^[0-9]+$ ]] || (( 10#${{conf[port]}} < 1 || 10#${{conf[port]}} > 65535 )); then
  echo "$0: invalid port: ${{conf[port]}}" >&2; exit 3
fi
if ! [[ ${{conf[workers]}} =~ ^[0-9]+$ ]] || (( 10#${{conf[workers]}} < 1 )); then
  echo "$0: invalid workers: ${{conf[workers]}}" >&2; exit 3
fi
case ${{conf[log_level]}} in {'|'.join(levels)}) ;; *) echo "$0: invalid log level" >&2; exit 3 ;; esac
exec {server} --host "${{conf[host]}}" --port "${{conf[port]}}" --workers "${{conf[workers]}}" \\
  --log-level "${{conf[log_level]}}" --banner "${{conf[banner]}}"
EOF
chmod +x {launcher}
"""
    return Step(instruction, solution, _runner(launcher, scen),
                files={server: SERVER_STUB, default_conf: etc_text}, executable=(server,),
                params={"app": app, "defaults": defaults})


# --------------------------------------------------------------------------------------------
# bash.pipeline-status
# --------------------------------------------------------------------------------------------

VALIDATOR_PY = '''#!/usr/bin/env python3
"""{tool} FILE: normalise the records of FILE (one per line).

Each record is whitespace-collapsed and lower-cased and printed on stdout. Blank lines are
skipped. Records that needed normalising are reported as "WARN line N: normalised" on stderr;
records with characters outside [a-z0-9 ._@-] are rejected with "ERROR line N: invalid
character" on stderr (and not printed). Exit status {code} if any record was rejected, else 0.
"""
import re
import sys

bad = False
with open(sys.argv[1], encoding="utf-8", errors="replace", newline="\\n") as f:
    for n, raw in enumerate(f, 1):
        line = raw.rstrip("\\n")
        norm = " ".join(line.split()).lower()
        if not norm:
            continue
        if re.search(r"[^a-z0-9 ._@-]", norm):
            print(f"ERROR line {{n}}: invalid character", file=sys.stderr, flush=True)
            bad = True
            continue
        if norm != line:
            print(f"WARN line {{n}}: normalised", file=sys.stderr, flush=True)
        print(norm, flush=True)
sys.exit({code} if bad else 0)
'''


@family("bash.pipeline-status", category="bash", skills=("bash.pipeline", "bash.env"),
        difficulty="medium", consumes="lines", produces="lines")
def pipeline_status(rng: random.Random, inp: Artifact | None) -> Step:
    tool = pick(rng, ("normalise-records", "clean-list", "canon"))
    code = rng.randint(3, 9)
    files: dict[str, str] = {}
    if inp is None:
        src = f"/app/{pick(rng, ('contacts', 'hosts', 'tags', 'entries'))}.txt"
        lines = []
        for _ in range(rng.randint(12, 20)):
            r = rng.random()
            w = f"{word(rng)}.{word(rng)}@{pick(rng, ('example.com', 'corp.test'))}"
            if r < 0.2:
                w = w.upper()
            elif r < 0.35:
                w = f"  {w}   "
            elif r < 0.45:
                w = f"{w}!" if rng.random() < 0.5 else f"{pick(rng, UNICODE_WORDS)}@example.com"
            lines.append(w)
        lines += [lines[0], ""]
        rng.shuffle(lines)
        files[src] = lines_text(lines)
    else:
        src = inp.path
        lines = [str(x) for x in inp.value]
    records, errors, status = [], [], 0
    for n, line in enumerate(lines, 1):
        norm = " ".join(line.split()).lower()
        if not norm:
            continue
        if re.search(r"[^a-z0-9 ._@-]", norm):
            errors.append(f"ERROR line {n}: invalid character")
            status = code
            continue
        records.append(norm)
    uniq = sorted(set(records), key=lambda s: s.encode())
    out = f"/app/{pick(rng, ('clean.txt', 'records.txt', 'normalised.txt'))}"
    err = f"/app/{pick(rng, ('rejected.log', 'errors.log', 'invalid.log'))}"
    st = f"/app/{pick(rng, ('status', 'exit-code', 'rc'))}.txt"
    instruction = phrasing(
        rng,
        "Run `{tool} {src}` (it prints normalised records on stdout, and `WARN ...`/`ERROR ...` "
        "diagnostics on stderr) and capture its results: write its stdout records to `{out}`, "
        "sorted and without duplicates (`LC_ALL=C sort -u`); write only the `ERROR` lines of its "
        "stderr, in their original order, to `{err}`; and write the exit status of `{tool}` "
        "itself (not of any other command in your pipeline) to `{st}` as a bare number.",
        "`{tool}` cleans the list in `{src}`. Run it once and keep three results: (1) `{out}`: "
        "the records it printed on standard output, de-duplicated and sorted in byte order; "
        "(2) `{err}`: the lines of its standard error that start with `ERROR`, unchanged and in "
        "order (no `WARN` lines); (3) `{st}`: the exit code `{tool}` returned, just the number. "
        "Careful: the exit code of a pipeline is normally that of its last command.",
        "Capture the output of `{tool} {src}` properly: unique sorted stdout lines into `{out}` "
        "(`LC_ALL=C` order), the `ERROR` diagnostics it writes to stderr into `{err}` (same order, "
        "warnings dropped), and `{tool}`'s own exit status into `{st}` (a single number followed "
        "by a newline).",
        tool=tool, src=src, out=out, err=err, st=st,
    )
    solution = f"""{tool} {sh_quote(src)} 2> >(grep '^ERROR' > {err}) | LC_ALL=C sort -u > {out}
echo "${{PIPESTATUS[0]}}" > {st}
sleep 0.5
"""
    tests = f"""
def read(path):
    with open(path, encoding="utf-8") as f:
        return [ln.rstrip("\\n") for ln in f if ln.strip()]


def test_records():
    assert read({out!r}) == {py(uniq)}


def test_errors():
    assert read({err!r}) == {py(errors)}


def test_status():
    assert open({st!r}).read().strip() == "{status}"
"""
    files[f"/usr/local/bin/{tool}"] = VALIDATOR_PY.format(tool=tool, code=code)
    return Step(instruction, solution, tests, files=files, executable=(f"/usr/local/bin/{tool}",),
                output=Artifact(out, "lines", uniq),
                params={"tool": tool, "code": code, "n_errors": len(errors), "status": status})


# --------------------------------------------------------------------------------------------
# bash.lint-tree
# --------------------------------------------------------------------------------------------

RULE_DOC = {
    "trailing-whitespace": "a line ends with spaces or tabs (before the line terminator)",
    "crlf": "a line ends with CR LF instead of LF",
    "no-final-newline": "a non-empty file does not end with a newline (report its last line)",
    "tab-indent": "a line starts with a tab character",
}


def _lint(tree: dict[str, str], rules: list[str]) -> list[str]:
    found = []
    for path, text in tree.items():
        if not text:
            continue
        lines = text.split("\n")
        last_complete = text.endswith("\n")
        if last_complete:
            lines = lines[:-1]
        for n, line in enumerate(lines, 1):
            body = line
            if body.endswith("\r"):
                if "crlf" in rules:
                    found.append((path, n, "crlf"))
                body = body[:-1]
            if "trailing-whitespace" in rules and body != body.rstrip(" \t"):
                found.append((path, n, "trailing-whitespace"))
            if "tab-indent" in rules and body.startswith("\t"):
                found.append((path, n, "tab-indent"))
        if "no-final-newline" in rules and not last_complete:
            found.append((path, len(lines), "no-final-newline"))
    found.sort(key=lambda t: (t[0].encode(), t[1], t[2]))
    return [f"{p}:{n}: {r}" for p, n, r in found]


def _messy_tree(rng: random.Random, rules: list[str]) -> dict[str, str]:
    tree = {}
    for _ in range(rng.randint(4, 6)):
        d = pick(rng, ("", "src/", "docs/", "conf/sub/"))
        name = f"{d}{word(rng)}{pick(rng, (' notes', '', ''))}.{pick(rng, ('txt', 'md', 'cfg'))}"
        lines = []
        for _ in range(rng.randint(2, 6)):
            ln = " ".join(words(rng, rng.randint(1, 4)))
            r = rng.random()
            if r < 0.15:
                ln += pick(rng, (" ", "\t", "  "))
            elif r < 0.25:
                ln = "\t" + ln
            elif r < 0.32:
                ln += "\r"
            lines.append(ln)
        text = "\n".join(lines) + ("\n" if rng.random() < 0.75 else "")
        tree[name] = text
    tree["empty.txt"] = ""
    return tree


@family("bash.lint-tree", category="bash", skills=("bash.script", "bash.pipeline"),
        difficulty="medium", consumes="tree", produces="lines")
def lint_tree(rng: random.Random, inp: Artifact | None) -> Step:
    script = f"/app/bin/{pick(rng, ('lint-text', 'wslint', 'check-whitespace', 'textlint'))}"
    rules = sorted(rng.sample(sorted(RULE_DOC), 3))
    files: dict[str, str] = {}
    if inp is None:
        target = f"/app/{pick(rng, ('docs', 'site', 'notes', 'content'))}"
        tree = _messy_tree(rng, rules)
        for rel, text in tree.items():
            files[f"{target}/{rel}"] = text
    else:
        target = inp.path.rstrip("/")
        tree = {str(k): str(v) for k, v in inp.value.items()}
    report = f"/app/{pick(rng, ('lint-report.txt', 'whitespace.txt', 'lint.txt'))}"
    expected = _lint(tree, rules)
    scen = []
    for i in range(2):
        t = _messy_tree(rng, rules)
        exp = _lint(t, rules)
        scen.append({"name": f"tree{i}", "files": {f"t{i}/{k}": v for k, v in t.items()},
                     "args": [f"{{dir}}/t{i}"], "rc": 1 if exp else 0, "stdout": lines_text(exp)})
    scen.append({"name": "clean", "files": {"ok dir/a.txt": "fine\n", "ok dir/b/c.md": "also fine\n"},
                 "args": ["{dir}/ok dir"], "rc": 0, "stdout": ""})
    scen.append({"name": "not-a-dir", "files": {"f.txt": "x\n"}, "args": ["{dir}/f.txt"], "rc": 2,
                 "stderr_nonempty": True})
    rules_doc = "\n".join(f"- `{r}`: {RULE_DOC[r]}" for r in rules)
    instruction = phrasing(
        rng,
        "Write an executable bash script `{script}` that checks every regular file under a "
        "directory (recursively; names may contain spaces) for these problems:\n\n{rules}\n\n"
        "Usage: `{script} DIR`. For each problem print `PATH:LINE: RULE`, where PATH is relative "
        "to DIR and LINE is 1-based, sorted by PATH (byte order), then LINE (numerically), then "
        "RULE. Exit 0 when nothing is found, 1 when something is, 2 (with a message on stderr) "
        "when DIR is not a directory. Then run it on `{target}` and save its output to "
        "`{report}`.",
        "Create a whitespace linter in bash at `{script}`: `{script} DIR` scans all regular files "
        "below DIR and reports, one per line, `<relative path>:<line number>: <rule>` for each of "
        "the following rules that a line violates:\n\n{rules}\n\nOrder the report by path "
        "(bytewise), line number, rule name. Exit status 1 if anything was reported, 0 if the "
        "tree is clean, 2 plus an error message on stderr if DIR is not a directory. Save the "
        "report for `{target}` to `{report}`.",
        "We want to catch sloppy whitespace. Implement `{script} DIR` (bash, executable). It "
        "walks DIR recursively (file names can contain spaces) and prints a line "
        "`PATH:LINE: RULE` (PATH relative to DIR, LINE counted from 1) for every violation of:\n"
        "\n{rules}\n\nSort the output by PATH in `LC_ALL=C` order, then numerically by LINE, "
        "then by RULE. Exit codes: 0 clean, 1 problems found, 2 DIR missing or not a directory "
        "(error on stderr). Run it on `{target}` and store the output in `{report}`.",
        script=script, rules=rules_doc, target=target, report=report,
    )
    checks = []
    if "crlf" in rules:
        checks.append('if (crlf) print p ":" FNR ": crlf"')
    if "trailing-whitespace" in rules:
        checks.append('if (line ~ /[ \\t]$/) print p ":" FNR ": trailing-whitespace"')
    if "tab-indent" in rules:
        checks.append('if (line ~ /^\\t/) print p ":" FNR ": tab-indent"')
    final_check = ""
    if "no-final-newline" in rules:
        final_check = """  if [ -s "$f" ] && [ -n "$(tail -c 1 "$f")" ]; then
    echo "$rel:$(( $(wc -l < "$f") + 1 )): no-final-newline"
  fi
"""
    solution = f"""mkdir -p /app/bin
cat > {script} <<'EOF'
#!/bin/bash
dir=$1
if [ $# -ne 1 ] || [ ! -d "$dir" ]; then echo "usage: $0 DIR" >&2; exit 2; fi
dir=${{dir%/}}
report=$(find "$dir" -type f -print0 | while IFS= read -r -d '' f; do
  rel=${{f#"$dir"/}}
  LC_ALL=C awk -v p="$rel" '{{
    line = $0; crlf = 0
    if (line ~ /\\r$/) {{ crlf = 1; sub(/\\r$/, "", line) }}
    {'; '.join(checks)}
  }}' "$f"
{final_check}done | LC_ALL=C sort -t: -k1,1 -k2,2n -k3,3)
[ -n "$report" ] || exit 0
printf '%s\\n' "$report"
exit 1
EOF
chmod +x {script}
{script} {sh_quote(target)} > {report} || true
"""
    tests = _runner(script, scen) + f"""

def test_saved_report():
    with open({report!r}, encoding="utf-8") as f:
        assert f.read().splitlines() == {py(expected)}
"""
    return Step(instruction, solution, tests, files=files, output=Artifact(report, "lines", expected),
                params={"script": script, "rules": rules, "n_findings": len(expected)})
