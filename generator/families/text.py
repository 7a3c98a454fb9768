"""Text-processing families (grep, sed, awk, sort/uniq, transformations)."""

from __future__ import annotations

import random
from collections import Counter

from termforge.generator.draw import (app_dir, filename, lines_text, phrasing, pick, py, sh_quote,
                                      words)
from termforge.generator.registry import family
from termforge.generator.spec import Artifact, Step


def _word_lines(rng: random.Random, vocab: list[str], n_lines: int) -> list[str]:
    weights = [rng.randint(1, 9) for _ in vocab]
    return [" ".join(rng.choices(vocab, weights, k=rng.randint(3, 9))) for _ in range(n_lines)]


@family("text.word-frequency", category="text", skills=("text.sort", "text.transform"),
        difficulty="easy", consumes="lines", produces="lines")
def word_frequency(rng: random.Random, inp: Artifact | None) -> Step:
    files = {}
    if inp is None:
        src = f"{app_dir(rng)}/{filename(rng, 'txt', spaces=True)}"
        lines = _word_lines(rng, words(rng, rng.randint(6, 14)), rng.randint(20, 60))
        files[src] = lines_text(lines)
    else:
        src, lines = inp.path, [str(x) for x in inp.value]
    k = rng.randint(3, 6)
    out = f"/app/{filename(rng, 'txt')}"
    counts = Counter(w for ln in lines for w in ln.split())
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    expected = [f"{w} {n}" for w, n in top]
    instruction = phrasing(
        rng,
        "Count how often each whitespace-separated word occurs in `{src}` and write the {k} most "
        "frequent words to `{out}`, one per line as `<word> <count>`, most frequent first (ties "
        "broken alphabetically).",
        "Write the top {k} words of `{src}` by number of occurrences to `{out}`. Each line must be "
        "`<word> <count>`; order by count descending, then by word ascending.",
        "Produce a word-frequency ranking of `{src}`: save the {k} most common words and their "
        "counts to `{out}` (format `<word> <count>`, highest count first, equal counts in "
        "alphabetical order).",
        src=src, k=k, out=out,
    )
    solution = (f"tr -s ' \\t' '\\n\\n' < {sh_quote(src)} | grep -v '^$' | sort | uniq -c "
                f"| awk '{{print $2, $1}}' | sort -k2,2nr -k1,1 | head -n {k} > {sh_quote(out)}")
    tests = f"""
from pathlib import Path

EXPECTED = {py(expected)}


def test_output_exists():
    assert Path({out!r}).is_file()


def test_ranking():
    got = [ln.strip() for ln in Path({out!r}).read_text().splitlines() if ln.strip()]
    assert got == EXPECTED
"""
    return Step(instruction, solution, tests, files=files,
                output=Artifact(out, "lines", expected), params={"k": k, "src": src, "out": out})


@family("text.regex-extract", category="text", skills=("text.grep",), difficulty="easy",
        produces="lines")
def regex_extract(rng: random.Random, inp: Artifact | None) -> Step:
    domain = pick(rng, ("example.com", "corp.test", "mail.internal", "acme.org"))
    users = words(rng, rng.randint(5, 10))
    noise = words(rng, 8)
    lines = []
    for u in users:
        lines.append(f"{pick(rng, noise)} contact: {u}.{rng.randint(1, 99)}@{domain} {pick(rng, noise)}")
        if rng.random() < 0.5:
            lines.append(f"{pick(rng, noise)} {pick(rng, noise)} no address here")
    lines.append(f"broken address {pick(rng, noise)}@ and @{domain} should be ignored")
    rng.shuffle(lines)
    src = f"{app_dir(rng)}/{filename(rng, 'log')}"
    out = f"/app/{filename(rng, 'txt')}"
    import re as _re

    found = sorted(set(_re.findall(r"[a-z]+\.[0-9]+@" + _re.escape(domain), "\n".join(lines))))
    instruction = phrasing(
        rng,
        "Extract every e-mail address of the form `<name>.<number>@{domain}` from `{src}` and write "
        "them to `{out}`: one per line, sorted, without duplicates.",
        "The file `{src}` mentions addresses like `someone.12@{domain}`. Collect all such addresses "
        "into `{out}` — unique, sorted alphabetically, one per line.",
        domain=domain, src=src, out=out,
    )
    solution = (f"grep -oE '[a-z]+\\.[0-9]+@{domain.replace('.', chr(92) + '.')}' {sh_quote(src)} "
                f"| sort -u > {sh_quote(out)}")
    tests = f"""
from pathlib import Path

EXPECTED = {py(found)}


def test_addresses():
    got = [ln.strip() for ln in Path({out!r}).read_text().splitlines() if ln.strip()]
    assert got == EXPECTED
"""
    return Step(instruction, solution, tests, files={src: lines_text(lines)},
                output=Artifact(out, "lines", found), params={"domain": domain, "n": len(found)})


# --------------------------------------------------------------------------------------------
_CONFIG_KEYS = ("listen_port", "max_connections", "max_connections_per_ip", "log_level", "log_file",
                "timeout", "timeout_ms", "cache_size", "worker_threads", "data_dir", "tls_enabled",
                "keepalive", "compression", "backup_dir", "retry_count", "admin_email", "bind_address")


def _config_value(rng: random.Random, key: str) -> str:
    if key.endswith(("port", "connections", "ip", "threads", "count", "size", "timeout", "_ms")):
        return str(rng.randint(2, 9000))
    if key.endswith(("enabled", "keepalive", "compression")):
        return pick(rng, ("on", "off", "yes", "no"))
    if key.endswith(("dir", "file")):
        return f"/var/{pick(rng, ('lib', 'log', 'cache'))}/{words(rng, 1)[0]}"
    if key == "log_level":
        return pick(rng, ("debug", "info", "warn"))
    if key == "admin_email":
        return f"{words(rng, 1)[0]}@example.com"
    return f"10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


@family("text.sed-config-rewrite", category="text", skills=("text.sed", "text.grep"),
        difficulty="medium", produces="lines")
def sed_config_rewrite(rng: random.Random, inp: Artifact | None) -> Step:
    # a key that is a prefix of another one is always present: a classic unanchored-sed trap
    others = [k for k in _CONFIG_KEYS if not k.startswith("max_connections")]
    keys = ["max_connections", "max_connections_per_ip"] + rng.sample(others, rng.randint(6, 9))
    rng.shuffle(keys)
    eq = pick(rng, ("=", " = "))
    values = {k: _config_value(rng, k) for k in keys}
    commented = set(rng.sample([k for k in keys if k != "max_connections"], 2))
    lines = [f"# {pick(rng, ('Server', 'Daemon', 'Service'))} configuration for {words(rng, 1)[0]}",
             "# Lines starting with # are comments.", ""]
    for k in keys:
        if rng.random() < 0.3:
            lines.append(f"# {k.replace('_', ' ')} setting")
        lines.append(f"#{k}{eq}{values[k]}" if k in commented else f"{k}{eq}{values[k]}")
        if rng.random() < 0.25:
            lines.append("")
    active = [k for k in keys if k not in commented]
    change = "max_connections" if rng.random() < 0.6 else pick(rng, active)
    disable = pick(rng, [k for k in active if k != change])
    enable = pick(rng, sorted(commented))
    new_key = pick(rng, [k for k in _CONFIG_KEYS if k not in keys] or ["extra_option"])
    new_change, new_enable, new_add = (_config_value(rng, change), _config_value(rng, enable),
                                       _config_value(rng, new_key))
    for _ in range(20):
        if new_change != values[change]:
            break
        new_change = _config_value(rng, change)
    else:
        new_change = values[change] + "0"
    expected = []
    for ln in lines:
        if ln == f"{change}{eq}{values[change]}":
            ln = f"{change}{eq}{new_change}"
        elif ln == f"#{enable}{eq}{values[enable]}":
            ln = f"{enable}{eq}{new_enable}"
        elif ln == f"{disable}{eq}{values[disable]}":
            ln = f"#{disable}{eq}{values[disable]}"
        expected.append(ln)
    expected.append(f"{new_key}{eq}{new_add}")
    path = f"/etc/{words(rng, 1)[0]}/{pick(rng, ('server', 'daemon', 'app', 'service'))}.conf"
    instruction = phrasing(
        rng,
        "Edit `{path}` in place (settings are written `key{eq}value`; a `#` directly before the "
        "key means the setting is disabled): set `{change}` to `{new_change}`; enable the "
        "commented-out `{enable}` setting by removing its `#` and setting it to `{new_enable}`; "
        "disable `{disable}` by putting `#` directly in front of it (keep its value); and append "
        "`{new_key}{eq}{new_add}` as the last line. Every other line must stay exactly as it is.",
        "Apply these changes to the configuration file `{path}` without touching any other line "
        "(format: `key{eq}value`, disabled settings are prefixed with `#`, no space after it):\n"
        "- `{change}` must become `{new_change}`\n"
        "- the disabled `{enable}` line must become an active setting with the value `{new_enable}`\n"
        "- `{disable}` must be commented out by prefixing `#` (value unchanged)\n"
        "- a new line `{new_key}{eq}{new_add}` must be added at the end of the file",
        "Update `{path}`: change the value of `{change}` to `{new_change}` (careful: other keys "
        "may start with the same letters), turn the commented line `#{enable}{eq}...` into "
        "`{enable}{eq}{new_enable}`, comment out `{disable}` as `#{disable}{eq}<old value>`, and "
        "add `{new_key}{eq}{new_add}` at the very end. Preserve all other lines, comments and "
        "blank lines byte for byte.",
        path=path, eq=eq, change=change, new_change=new_change, enable=enable,
        new_enable=new_enable, disable=disable, new_key=new_key, new_add=new_add,
    )

    def sed_escape(s: str) -> str:
        return s.replace("\\", "\\\\").replace("|", "\\|").replace("&", "\\&")

    q = sed_escape
    solution = (
        f"sed -i -E \\\n"
        f"  -e 's|^{change}[[:space:]]*=.*$|{change}{eq}{q(new_change)}|' \\\n"
        f"  -e 's|^#{enable}[[:space:]]*=.*$|{enable}{eq}{q(new_enable)}|' \\\n"
        f"  -e 's|^({disable}[[:space:]]*=.*)$|#\\1|' \\\n"
        f"  {sh_quote(path)}\n"
        f"printf '%s\\n' {sh_quote(f'{new_key}{eq}{new_add}')} >> {sh_quote(path)}"
    )
    tests = f"""
from pathlib import Path

EXPECTED = {py(lines_text(expected))}


def test_config_rewritten():
    assert Path({path!r}).read_text(encoding="utf-8") == EXPECTED
"""
    return Step(instruction, solution, tests, files={path: lines_text(lines)},
                output=Artifact(path, "lines", expected),
                params={"path": path, "change": change, "enable": enable, "disable": disable,
                        "add": new_key})


# --------------------------------------------------------------------------------------------
@family("text.awk-column-report", category="text", skills=("text.awk", "text.sort"),
        difficulty="medium", produces="lines")
def awk_column_report(rng: random.Random, inp: Artifact | None) -> Step:
    users = words(rng, rng.randint(3, 6))
    methods = ["GET", "POST", "PUT", "DELETE"]
    paths = [f"/api/{w}" for w in words(rng, 4)]
    records = []
    for i in range(rng.randint(25, 60)):
        ts = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
        status = rng.choices([200, 201, 204, 301, 404, 500, 502, 503], [30, 5, 3, 2, 6, 3, 2, 2])[0]
        records.append((ts, pick(rng, users), pick(rng, methods), pick(rng, paths), status,
                        rng.randint(1, 2500)))
    mode = pick(rng, ("user-latency", "path-errors", "method-avg"))
    lines = [f"# request log exported {rng.randint(1, 9)} {pick(rng, ('hours', 'days'))} ago",
             "# time user method path status ms"]
    for r in records:
        sep = [pick(rng, (" ", "  ", "\t", "   ")) for _ in range(5)]
        lines.append("".join(str(f) + s for f, s in zip(r, sep + [""])))
        if rng.random() < 0.08:
            lines.append("")
    src = f"/var/log/{words(rng, 1)[0]}/requests.log"
    out = f"/app/{pick(rng, ('report', 'summary', 'stats'))}-{words(rng, 1)[0]}.txt"
    if mode == "user-latency":
        agg: dict[str, list[int]] = {}
        for r in records:
            a = agg.setdefault(r[1], [0, 0])
            a[0] += 1
            a[1] += r[5]
        expected = [f"{u} {c} {t}" for u, (c, t) in sorted(agg.items(), key=lambda kv: (-kv[1][1], kv[0]))]
        what = ("for every user (column 2): the number of requests and the total of the `ms` "
                "column (6), as `<user> <requests> <total_ms>`, sorted by total_ms descending, "
                "ties by user name ascending")
        solution = (f"awk '!/^#/ && NF {{ n[$2]++; t[$2] += $6 }} END {{ for (u in n) print u, n[u], t[u] }}' "
                    f"{sh_quote(src)} | sort -k3,3nr -k1,1 > {sh_quote(out)}")
    elif mode == "path-errors":
        agg2: dict[str, list[int]] = {}
        for r in records:
            a = agg2.setdefault(r[3], [0, 0])
            a[0] += 1
            a[1] += r[4] >= 500
        expected = [f"{p} {e} {n}" for p, (n, e) in sorted(agg2.items())]
        what = ("for every path (column 4): the number of server errors (status, column 5, of 500 "
                "or more) and the total number of requests, as `<path> <errors> <requests>`, "
                "sorted by path (paths with no errors included, with 0)")
        solution = (f"awk '!/^#/ && NF {{ n[$4]++; e[$4] += ($5 >= 500) }} END {{ for (p in n) print p, e[p] + 0, n[p] }}' "
                    f"{sh_quote(src)} | LC_ALL=C sort -k1,1 > {sh_quote(out)}")
    else:
        agg3: dict[str, list[int]] = {}
        for r in records:
            a = agg3.setdefault(r[2], [0, 0])
            a[0] += 1
            a[1] += r[5]
        expected = [f"{m} {c} {t / c:.1f}" for m, (c, t) in sorted(agg3.items())]
        what = ("for every HTTP method (column 3): the number of requests and the mean of the `ms` "
                "column (6) with exactly one decimal, as `<method> <requests> <mean_ms>`, sorted "
                "by method name")
        solution = (f"awk '!/^#/ && NF {{ n[$3]++; t[$3] += $6 }} END {{ for (m in n) printf \"%s %d %.1f\\n\", m, n[m], t[m] / n[m] }}' "
                    f"{sh_quote(src)} | LC_ALL=C sort -k1,1 > {sh_quote(out)}")
    instruction = phrasing(
        rng,
        "`{src}` is a request log: lines starting with `#` are comments, blank lines may occur, "
        "and the six columns (time user method path status ms) are separated by varying runs of "
        "spaces and tabs. Write to `{out}`, one line per group, {what}.",
        "Aggregate the request log `{src}` (whitespace-separated columns: time, user, method, "
        "path, status, ms; ignore `#` comment lines and empty lines). Produce `{out}` with, {what}. "
        "Separate the fields of each output line by a single space.",
        "Using awk or any tool you like, compute from `{src}` — {what}. Skip comments (`#`) and "
        "blank lines; fields are split on any whitespace. Save the lines in `{out}`, fields "
        "separated by one space.",
        src=src, out=out, what=what,
    )
    tests = f"""
from pathlib import Path

EXPECTED = {py(expected)}


def test_report():
    got = [" ".join(ln.split()) for ln in Path({out!r}).read_text().splitlines() if ln.strip()]
    assert got == EXPECTED
"""
    return Step(instruction, solution, tests, files={src: lines_text(lines)},
                output=Artifact(out, "lines", expected),
                params={"mode": mode, "n_records": len(records), "src": src})


# --------------------------------------------------------------------------------------------
@family("text.normalize-dedupe", category="text", skills=("text.transform", "text.sort"),
        difficulty="easy", consumes="lines", produces="lines")
def normalize_dedupe(rng: random.Random, inp: Artifact | None) -> Step:
    files = {}
    if inp is None:
        vocab = words(rng, 12)
        base = [" ".join(rng.sample(vocab, rng.randint(1, 3))) for _ in range(rng.randint(8, 14))]
        raw = []
        for _ in range(rng.randint(20, 40)):
            s = pick(rng, base)
            r = rng.random()
            if r < 0.25:
                s = s.upper()
            elif r < 0.4:
                s = s.title()
            s += pick(rng, ("", "", " ", "  ", "\t", " \t"))
            raw.append(s)
            if rng.random() < 0.1:
                raw.append(pick(rng, ("", "   ", "\t")))
        if rng.random() < 0.5:
            raw.append(pick(rng, ("Café au lait", "naïve ÉCOLE", "Straße")))
        src = f"/app/{pick(rng, ('raw', 'export', 'dump', 'list'))} {words(rng, 1)[0]}.txt" \
            if rng.random() < 0.4 else f"/app/{words(rng, 1)[0]}-raw.txt"
        crlf = rng.random() < 0.5
        content = "".join(f"{ln}\r\n" if crlf else f"{ln}\n" for ln in raw)
        files[src] = content
        lines = [ln for ln in raw]
    else:
        src, lines = inp.path, [str(x) for x in inp.value]
        crlf = False
    lower = rng.random() < 0.6
    order = pick(rng, ("first", "sorted"))
    out = f"/app/{pick(rng, ('clean', 'normalized', 'unique'))}-{words(rng, 1)[0]}.txt"

    def norm(s: str) -> str:
        s = s.rstrip(" \t\r")
        if lower:
            s = s.translate({c: c + 32 for c in range(ord("A"), ord("Z") + 1)})
        return s

    seen: list[str] = []
    for ln in lines:
        n = norm(ln)
        if n and n not in seen:
            seen.append(n)
    expected = sorted(seen) if order == "sorted" else seen
    steps = ["strip trailing spaces, tabs and carriage returns (`\\r`) from every line"]
    if lower:
        steps.append("convert the ASCII letters A-Z to lowercase (leave other characters as they are)")
    steps.append("drop lines that are then empty")
    if order == "first":
        steps.append("remove duplicate lines, keeping only the first occurrence and the original order")
    else:
        steps.append("remove duplicates and sort the lines in byte order (as `LC_ALL=C sort -u`)")
    steps_txt = "; ".join(steps)
    instruction = phrasing(
        rng,
        "Clean up the text file `{src}` into `{out}` (LF line endings, do not modify the "
        "original): {steps}.",
        "Write a normalised copy of `{src}` to `{out}`. In order: {steps}. The output must end "
        "each line with a single `\\n`.",
        "`{src}` has inconsistent whitespace{case_hint} and repeated entries. Produce `{out}` "
        "where you {steps}. Leave `{src}` unchanged.",
        src=src, out=out, steps=steps_txt, case_hint=" and letter case" if lower else "",
    )
    pipe = [f"sed $'s/[ \\t\\r]*$//' {sh_quote(src)}"]
    if lower:
        pipe.append("tr 'A-Z' 'a-z'")
    pipe.append("grep -v '^$'")
    pipe.append("awk '!seen[$0]++'" if order == "first" else "LC_ALL=C sort -u")
    solution = " | ".join(pipe) + f" > {sh_quote(out)} || true\ntest -f {sh_quote(out)}"
    tests = f"""
from pathlib import Path

EXPECTED = {py(expected)}


def test_normalized():
    data = Path({out!r}).read_bytes().decode("utf-8")
    assert "\\r" not in data
    assert data.split("\\n")[:-1] == EXPECTED
    assert data == "".join(line + "\\n" for line in EXPECTED)
"""
    return Step(instruction, solution, tests, files=files,
                output=Artifact(out, "lines", expected),
                params={"src": src, "lower": lower, "order": order, "crlf": crlf,
                        "n_in": len(lines), "n_out": len(expected)})


# --------------------------------------------------------------------------------------------
@family("text.diff-patch", category="text", skills=("text.diff",), difficulty="medium")
def diff_patch(rng: random.Random, inp: Artifact | None) -> Step:
    proj = words(rng, 1)[0]
    mode = pick(rng, ("file", "dir"))
    base = f"/app/{proj}"

    def make_file() -> list[str]:
        out = []
        for _ in range(rng.randint(12, 30)):
            k = rng.randint(0, 3)
            out.append(("    " * k) + " ".join(words(rng, rng.randint(2, 6))) + pick(rng, ("", ";", ":", ",")))
        return out

    def mutate(lines: list[str]) -> list[str]:
        new = list(lines)
        for _ in range(rng.randint(2, 4)):
            i = rng.randrange(len(new))
            op = rng.random()
            if op < 0.4:
                new[i] = new[i] + f" {words(rng, 1)[0]}"
            elif op < 0.7:
                new.insert(i, " ".join(words(rng, 3)))
            elif len(new) > 5:
                del new[i]
        return new

    if mode == "file":
        name = pick(rng, ("settings.conf", "README.txt", "notes.md", "rules.txt", "schedule.txt"))
        old_files = {name: make_file()}
    else:
        names = rng.sample(("main.txt", "lib/util.txt", "lib/io.txt", "docs/guide.md",
                            "docs/faq.md", "config/app.ini"), rng.randint(3, 4))
        old_files = {n: make_file() for n in sorted(names)}
    new_files = {n: mutate(v) for n, v in old_files.items()}
    if mode == "dir":
        new_files[pick(rng, ("CHANGELOG.md", "lib/extra.txt", "docs/new.md"))] = make_file()
    new_files = dict(sorted(new_files.items()))
    old_txt = {n: lines_text(v) for n, v in old_files.items()}
    new_txt = {n: lines_text(v) for n, v in new_files.items()}
    deploy = f"/srv/{proj}-live"
    patch = f"/app/{pick(rng, ('update', 'changes', 'release', 'fix'))}-{rng.randint(1, 99)}.patch"
    files = {}
    for n, t in old_txt.items():
        files[f"{base}/old/{n}"] = t
        files[f"{deploy}/{n}"] = t
    for n, t in new_txt.items():
        files[f"{base}/new/{n}"] = t
    if mode == "file":
        name = next(iter(old_files))
        instruction = phrasing(
            rng,
            "`{base}/old/{name}` was edited into `{base}/new/{name}`. Create a unified diff from "
            "the old to the new version at `{patch}` (it must apply with `patch <file> {patch}`), "
            "then use it to update the deployed copy `{deploy}/{name}`, which is identical to the "
            "old version. Do not modify `{base}/old` or `{base}/new`.",
            "Produce a unified-format patch `{patch}` that turns `{base}/old/{name}` into "
            "`{base}/new/{name}`, and apply that patch to `{deploy}/{name}` (currently the old "
            "version) so that it matches the new one. Leave no `.orig` or `.rej` files in "
            "`{deploy}`.",
            "Ship an edit as a patch: diff `{base}/old/{name}` against `{base}/new/{name}` in "
            "unified format into `{patch}`, and patch the live file `{deploy}/{name}` with it.",
            base=base, name=name, patch=patch, deploy=deploy,
        )
        solution = (f"diff -u {base}/old/{name} {base}/new/{name} > {patch} || true\n"
                    f"patch {deploy}/{name} < {patch}")
        apply_cmd = f'["patch", "-s", os.path.join(d, {name!r}), {patch!r}]'
    else:
        instruction = phrasing(
            rng,
            "The directory `{base}/old` was changed into `{base}/new` (files edited and one file "
            "added). Write a recursive unified diff of the two trees to `{patch}` such that "
            "running `patch -p1 < {patch}` inside a copy of `old` turns it into `new`. Then apply "
            "it to `{deploy}`, which currently equals `old`.",
            "Create `{patch}`: a unified, recursive diff (new files included) from `{base}/old` to "
            "`{base}/new` that applies with `patch -p1` from the top of the old tree. Apply the "
            "patch to the deployed tree `{deploy}` so that it becomes identical to `{base}/new` "
            "(no leftover `.orig`/`.rej` files).",
            "Package the changes between `{base}/old` and `{base}/new` as one patch file "
            "`{patch}` (unified format, paths with one leading directory component so that "
            "`patch -p1` works inside the old tree; include newly added files), and bring "
            "`{deploy}` up to date by applying it.",
            base=base, patch=patch, deploy=deploy,
        )
        solution = (f"cd {base} && diff -ruN old new > {patch} || true\n"
                    f"cd {deploy} && patch -p1 < {patch}")
        apply_cmd = f'["patch", "-s", "-p1", "-d", d, "-i", {patch!r}]'
    tests = f"""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

OLD = {py(old_txt)}
NEW = {py(new_txt)}


def _tree(root):
    out = {{}}
    for p in Path(root).rglob("*"):
        if p.is_file():
            out[p.relative_to(root).as_posix()] = p.read_text()
    return out


def test_patch_is_unified():
    text = Path({patch!r}).read_text()
    assert "\\n@@ " in text and text.lstrip().startswith(("---", "diff"))


def test_patch_turns_old_into_new():
    d = tempfile.mkdtemp()
    for name, content in OLD.items():
        os.makedirs(os.path.dirname(os.path.join(d, name)), exist_ok=True)
        Path(d, name).write_text(content)
    subprocess.run({apply_cmd}, check=True, cwd=d)
    assert _tree(d) == NEW
    shutil.rmtree(d)


def test_deployed_copy_updated():
    assert _tree({deploy!r}) == NEW


def test_sources_untouched():
    assert _tree({base + '/old'!r}) == OLD
    assert _tree({base + '/new'!r}) == NEW
"""
    return Step(instruction, solution, tests, files=files,
                params={"mode": mode, "files": sorted(new_files), "patch": patch})


# --------------------------------------------------------------------------------------------
@family("text.grep-line-numbers", category="text", skills=("text.grep",), difficulty="easy",
        consumes="lines", produces="lines")
def grep_line_numbers(rng: random.Random, inp: Artifact | None) -> Step:
    import re as _re

    files = {}
    if inp is None:
        vocab = words(rng, 10)
        key, excl = vocab[0], vocab[1]
        lines = []
        for _ in range(rng.randint(30, 70)):
            ws = rng.sample(vocab[2:], rng.randint(2, 6))
            r = rng.random()
            if r < 0.3:
                ws.insert(rng.randrange(len(ws) + 1), pick(rng, (key, key.upper(), key.capitalize())))
            elif r < 0.4:
                ws.insert(rng.randrange(len(ws) + 1), key + pick(rng, ("s", "_id", "ing")))  # not a whole word
            if rng.random() < 0.25:
                ws.append(pick(rng, (excl, excl.upper())))
            lines.append(" ".join(ws) + pick(rng, ("", ".", ";")))
        src = f"/app/{pick(rng, ('notes', 'journal', 'incidents', 'minutes'))}.txt"
        files[src] = lines_text(lines)
    else:
        src, lines = inp.path, [str(x) for x in inp.value]
        tokens = sorted({t for ln in lines for t in _re.findall(r"[A-Za-z]{3,}", ln)})
        key = pick(rng, tokens).lower() if tokens else words(rng, 1)[0]
        others = [t.lower() for t in tokens if t.lower() != key]
        excl = pick(rng, others) if others else words(rng, 1)[0]
    wre = _re.compile(r"(?<![\w])" + _re.escape(key) + r"(?![\w])", _re.IGNORECASE)
    expected = [f"{i}:{ln}" for i, ln in enumerate(lines, 1)
                if wre.search(ln) and excl.lower() not in ln.lower()]
    out = f"/app/{key}-{pick(rng, ('hits', 'matches', 'lines'))}.txt"
    instruction = phrasing(
        rng,
        "Find the lines of `{src}` that contain the word `{key}` as a whole word, in any letter "
        "case (so `{key}s` alone does not count), but do not contain `{excl}` anywhere (any case). "
        "Write them to `{out}` prefixed with their line number in the form `<n>:<line>` (as "
        "`grep -n` prints), in file order.",
        "Write to `{out}` every line of `{src}` that mentions `{key}` as a separate word "
        "(case-insensitive) and does not include the text `{excl}` (case-insensitive). Keep the "
        "original order and prefix each line with its 1-based line number and a colon, e.g. "
        "`12:<line>`.",
        "I need the numbered occurrences of the whole word `{key}` (ignore case) in `{src}`, "
        "excluding lines that contain `{excl}` in any case. Save them as `<lineno>:<text>` lines "
        "in `{out}`, in the order they appear.",
        src=src, key=key, excl=excl, out=out,
    )
    solution = (f"grep -n -i -w -- {sh_quote(key)} {sh_quote(src)} | grep -v -i -F -- {sh_quote(excl)} "
                f"> {sh_quote(out)} || true\ntest -f {sh_quote(out)}")
    tests = f"""
from pathlib import Path

EXPECTED = {py(expected)}


def test_numbered_matches():
    got = Path({out!r}).read_text(encoding="utf-8").splitlines()
    assert got == EXPECTED
"""
    return Step(instruction, solution, tests, files=files,
                output=Artifact(out, "lines", expected),
                params={"src": src, "key": key, "excl": excl, "n_match": len(expected)})
