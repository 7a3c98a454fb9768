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
