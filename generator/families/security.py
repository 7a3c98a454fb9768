"""Security families: checksum manifests, secret redaction, X.509 certificates, openssl enc, password audits.

Where a value depends on randomness inside the container (salts, key material, certificate dates)
the tests compute their reference with openssl at test time from what the solution left behind
(e.g. decrypt with the stated parameters, verify a chain, compare public keys); everything else
(hashes of drawn content, redacted files, cracked passwords) is computed here and baked in.
"""

from __future__ import annotations

import hashlib
import random
import re
import string

from termforge.generator.draw import (FIRST_NAMES, UNICODE_WORDS, ident, lines_text, phrasing, pick, py,
                                      sh_quote, token, word, words)
from termforge.generator.registry import family
from termforge.generator.spec import Artifact, Step

# --------------------------------------------------------------------------------------------
# security.checksum-verify
# --------------------------------------------------------------------------------------------

_ALGOS = {"sha256": ("sha256sum", "SHA256SUMS"), "sha512": ("sha512sum", "SHA512SUMS"),
          "sha1": ("sha1sum", "SHA1SUMS"), "md5": ("md5sum", "MD5SUMS")}


def _release_tree(rng: random.Random, name: str) -> dict[str, str]:
    tree = {f"bin/{name}": f"#!/bin/sh\necho {name} {rng.randint(1, 9)}.{rng.randint(0, 9)}\n",
            "README.md": f"# {name}\n\n{' '.join(words(rng, 8))}\n",
            f"docs/{pick(rng, ('release notes.txt', 'CHANGES.txt', 'upgrade guide.txt'))}":
                lines_text(f"- {pick(rng, UNICODE_WORDS)} {' '.join(words(rng, 3))}" for _ in range(3))}
    for w in words(rng, rng.randint(2, 4)):
        tree[f"lib/{w}.{pick(rng, ('py', 'sh', 'conf'))}"] = lines_text(f"{w}_{i} = {rng.randint(0, 999)}"
                                                                        for i in range(rng.randint(1, 5)))
    for w in words(rng, rng.randint(1, 3)):
        tree[f"data/{w}.csv"] = "id,value\n" + "".join(f"{i},{rng.randint(0, 99)}\n" for i in range(rng.randint(1, 6)))
    return tree


@family("security.checksum-verify", category="security", skills=("security.hashes", "archives.checksum"),
        difficulty="easy", consumes="tree", produces="lines")
def checksum_verify(rng: random.Random, inp) -> Step:
    algo = pick(rng, sorted(_ALGOS))
    tool, default_manifest = _ALGOS[algo]
    files: dict[str, str] = {}
    if inp is None:
        name = ident(rng, 1)
        root = pick(rng, (f"/srv/releases/{name}-{rng.randint(1, 9)}.{rng.randint(0, 9)}", f"/app/{name}-dist"))
        original = _release_tree(rng, name)
        inside = rng.random() < 0.5
        manifest = f"{root}/{default_manifest}" if inside else f"/app/{name}.{algo}"
    else:
        name = ident(rng, 1)
        root, original = inp.path, {k: str(v) for k, v in inp.value.items()}
        inside = False
        manifest = f"/app/{name}-{algo}.txt"
    rels = sorted(original)
    problems: dict[str, str] = {}
    listed = dict(original)                    # what the manifest describes
    actual = dict(original)                    # what is on disk
    n_fail = 1 if len(rels) < 4 else rng.randint(1, 2)
    for rel in rng.sample(rels, min(n_fail, len(rels))):
        problems[rel] = "FAILED"
        if inp is None:
            actual[rel] = original[rel].replace("\n", " \n", 1) if rng.random() < 0.5 else original[rel] + "# patched\n"
        else:   # we cannot change a file we did not create: the manifest records other content instead
            listed[rel] = original[rel] + "\n"
    ghost = f"{pick(rng, ('lib', 'bin', 'data'))}/{word(rng)}-{token(rng, 4)}.{pick(rng, ('so', 'dat', 'txt'))}"
    listed[ghost] = "gone\n"
    problems[ghost] = "MISSING"
    unlisted_pool = [r for r in rels if r not in problems]
    if inp is None:
        extra = f"{pick(rng, ('lib', 'data', 'bin'))}/{word(rng)}-{pick(rng, ('patch', 'hotfix', 'local'))}.{pick(rng, ('sh', 'txt'))}"
        actual[extra] = f"echo {word(rng)}\n"
        problems[extra] = "UNLISTED"
    elif len(unlisted_pool) >= 2:
        extra = pick(rng, unlisted_pool)
        del listed[extra]
        problems[extra] = "UNLISTED"
    hashes = {r: hashlib.new(algo, c.encode()).hexdigest() for r, c in listed.items()}
    order = sorted(listed)
    rng.shuffle(order)
    manifest_text = "".join(f"{hashes[r]}  {r}\n" for r in order)
    files[manifest] = manifest_text
    if inp is None:
        for rel, content in actual.items():
            files[f"{root}/{rel}"] = content
    report = pick(rng, ("/app/verify-report.txt", f"/app/{name}-integrity.txt", "/root/checksum-problems.txt"))
    expected = [f"{problems[r]} {r}" for r in sorted(problems, key=lambda p: p.encode())]
    note = (" (the manifest itself is not part of the release)" if inside else "")
    instruction = phrasing(
        rng,
        "Verify the release in `{root}` against the {algo_u} manifest `{manifest}` (`{tool}` format, paths relative "
        "to `{root}`). Write every problem to `{report}`, one per line as `<STATUS> <path>`, sorted by path in byte "
        "order: `FAILED` for a listed file whose checksum differs, `MISSING` for a listed file that does not exist, "
        "`UNLISTED` for a file under `{root}` that the manifest does not mention{note}. Files that verify are not "
        "reported.",
        "Someone may have tampered with `{root}`. Check it against `{manifest}` ({algo_u} checksums of paths relative "
        "to that directory) and list the discrepancies in `{report}`: `FAILED <path>` (checksum mismatch), "
        "`MISSING <path>` (in the manifest, not on disk), `UNLISTED <path>` (on disk, not in the manifest){note}. "
        "Sort the lines by path (byte order); report nothing for intact files.",
        "Integrity audit: the expected {algo_u} sums for the files in `{root}` are in `{manifest}`. Produce "
        "`{report}` with one line per problem — `FAILED`, `MISSING` or `UNLISTED`, a space, then the path relative "
        "to `{root}` — ordered by path using `LC_ALL=C` ordering{note}.{spaces}",
        root=root, manifest=manifest, tool=tool, algo_u=algo.upper(), report=report, note=note,
        spaces=" Some paths contain spaces." if any(" " in p for p in listed.keys() | actual.keys()) else "",
    )
    skip = f" ! -path {sh_quote('./' + default_manifest)}" if inside else ""
    solution = f"""cd {sh_quote(root)}
{tool} -c {sh_quote(manifest)} > /tmp/check.txt 2>/dev/null || true
{{
  sed -n 's/^\\(.*\\): FAILED open or read$/MISSING \\1/p' /tmp/check.txt
  sed -n 's/^\\(.*\\): FAILED$/FAILED \\1/p' /tmp/check.txt
  comm -13 <(sed 's/^[0-9a-f]*  //' {sh_quote(manifest)} | LC_ALL=C sort) \\
           <(find . -type f{skip} | sed 's|^\\./||' | LC_ALL=C sort) | sed 's/^/UNLISTED /'
}} | LC_ALL=C sort -t ' ' -k2 > {sh_quote(report)}
cat {sh_quote(report)}
"""
    tests = f"""
from pathlib import Path

REPORT = {report!r}
EXPECTED = {py(expected)}


def test_report():
    got = [ln.rstrip("\\n") for ln in Path(REPORT).read_text(encoding="utf-8").splitlines() if ln.strip()]
    assert got == EXPECTED
"""
    return Step(instruction, solution, tests, files=files, output=Artifact(report, "lines", expected),
                params={"algo": algo, "root": root, "manifest": manifest, "problems": len(problems)})


# --------------------------------------------------------------------------------------------
# security.redact-secrets
# --------------------------------------------------------------------------------------------

_TOKEN_RES = {"aws": r"AKIA[0-9A-Z]{16}", "github": r"ghp_[A-Za-z0-9]{36}",
              "slack": r"xox[bp]-[0-9]+-[0-9]+-[A-Za-z0-9]+"}


def _secret_token(rng: random.Random, kind: str) -> str:
    if kind == "aws":
        return "AKIA" + token(rng, 16, string.ascii_uppercase + string.digits)
    if kind == "github":
        return "ghp_" + token(rng, 36, string.ascii_letters + string.digits)
    return (f"xox{pick(rng, 'bp')}-{rng.randint(10**9, 10**10)}-{rng.randint(10**9, 10**10)}-"
            f"{token(rng, 24, string.ascii_letters + string.digits)}")


def _password(rng: random.Random) -> str:
    return pick(rng, (token(rng, rng.randint(8, 16), string.ascii_letters + string.digits + "!@#%^*_-"),
                      f"{pick(rng, FIRST_NAMES).title()}{rng.randint(1900, 2024)}!", f"{word(rng)}-{word(rng)}-{rng.randint(10, 99)}"))


@family("security.redact-secrets", category="security", skills=("security.secrets", "text.sed"),
        difficulty="medium", produces="tree")
def redact_secrets(rng: random.Random, inp) -> Step:
    proj = ident(rng, 1)
    root = pick(rng, (f"/app/{proj}", f"/srv/git/{proj}", f"/home/dev/{proj}"))
    R = "[REDACTED]"
    # each file: list of (original line, redacted line, kind or None)
    docs: dict[str, list[tuple[str, str, str | None]]] = {}

    def keep(line):
        return (line, line, None)

    env = [keep(f"# {proj} environment"), keep(f"APP_NAME={proj}"), keep(f"DB_HOST=db.{proj}.internal"),
           keep(f"PASSWORD_MIN_LENGTH={rng.randint(8, 16)}")]
    for key in rng.sample(["DB_PASSWORD", "REDIS_PASSWORD", "API_SECRET", "JWT_SECRET", "ADMIN_PASSWORD"], 2):
        v = _password(rng)
        env.append((f"{key}={v}", f"{key}={R}", "assignment"))
    t = _secret_token(rng, "aws")
    env.append((f"AWS_ACCESS_KEY_ID={t}", f"AWS_ACCESS_KEY_ID={R}", "aws"))
    env.append(keep("SMTP_PASSWORD="))          # empty: nothing to redact
    body = env[1:]
    rng.shuffle(body)
    env = env[:1] + body
    docs[pick(rng, (".env", "deploy/.env.production", ".env.local"))] = env

    yaml = [keep(f"service: {proj}"), keep("database:"), keep(f"  host: db.{proj}.internal"),
            keep(f"  port: {rng.randint(5432, 5499)}")]
    v = _password(rng)
    yaml.append((f"  password: {v}", f"  password: {R}", "assignment"))
    yaml.append(keep(f"  password_hint: {pick(rng, ('ask ops', 'see vault', 'rotate monthly'))}"))
    yaml.append(keep("integrations:"))
    t = _secret_token(rng, "github")
    yaml.append((f"  github_token: {t}", f"  github_token: {R}", "github"))
    if rng.random() < 0.6:
        v = _password(rng)
        yaml.append((f"  webhook_secret: {v}", f"  webhook_secret: {R}", "assignment"))
    docs[pick(rng, ("config/settings.yaml", "deploy/values.yaml", "config.yml"))] = yaml

    js = [keep("{"), keep(f'  "name": "{proj}",'), keep(f'  "retries": {rng.randint(1, 9)},')]
    v = _password(rng)
    js.append((f'  "client_secret": "{v}",', f'  "client_secret": "{R}",', "assignment"))
    if rng.random() < 0.5:
        t = _secret_token(rng, "aws")
        js.append((f'  "backup_key": "{t}",', f'  "backup_key": "{R}",', "aws"))
    v = _password(rng)
    js.append((f'  "Password": "{v}",', f'  "Password": "{R}",', "assignment"))
    js.append(keep(f'  "owner": "{pick(rng, FIRST_NAMES)}"'))
    js.append(keep("}"))
    docs[pick(rng, ("config/app.json", "settings.json", "deploy/credentials.json"))] = js

    t = _secret_token(rng, "slack")
    t2 = _secret_token(rng, "github")
    py_lines = [keep("import os"), keep(""), keep(f"SLACK_CHANNEL = \"#{word(rng)}\""),
                (f"SLACK_TOKEN = \"{t}\"  # TODO move to vault", f"SLACK_TOKEN = \"{R}\"  # TODO move to vault", "slack"),
                keep(""), keep("def headers():"),
                (f"    return {{\"Authorization\": \"token {t2}\"}}", f"    return {{\"Authorization\": \"token {R}\"}}", "github"),
                keep("password = os.environ.get(\"DB_PASSWORD\")  # read at runtime")]
    docs[pick(rng, ("src/notify.py", "scripts/deploy.py", "app/client.py"))] = py_lines
    readme = [keep(f"# {proj}"), keep(""), keep("Configure credentials in `.env`; never commit real keys."),
              keep("Example key id: AKIAEXAMPLE (not a real key)."),
              keep(f"Maintainer: {pick(rng, FIRST_NAMES)} — {pick(rng, UNICODE_WORDS)}")]
    docs["README.md"] = readme
    # consistency: the documented rules reproduce the redaction exactly
    assign_res = [re.compile(r"^([A-Za-z0-9_]*(?:[Pp][Aa][Ss][Ss][Ww][Oo][Rr][Dd]|[Ss][Ee][Cc][Rr][Ee][Tt]))=(.+)$"),
                  re.compile(r"^(\s*[A-Za-z0-9_]*(?:[Pp][Aa][Ss][Ss][Ww][Oo][Rr][Dd]|[Ss][Ee][Cc][Rr][Ee][Tt])): (.+)$"),
                  re.compile(r'^(\s*"[A-Za-z0-9_]*(?:[Pp][Aa][Ss][Ss][Ww][Oo][Rr][Dd]|[Ss][Ee][Cc][Rr][Ee][Tt])": ")([^"]+)(".*)$')]
    files, value, report = {}, {}, []
    for rel, lines in docs.items():
        for i, (orig, red, kind) in enumerate(lines, 1):
            assert _apply_rules(orig, assign_res) == (red, kind), (rel, orig)
            if kind:
                report.append((rel, i, kind))
        files[f"{root}/{rel}"] = lines_text(o for o, _, _ in lines)
        value[rel] = lines_text(r for _, r, _ in lines)
    report_lines = [f"{rel}:{i}:{kind}" for rel, i, kind in sorted(report, key=lambda x: (x[0].encode(), x[1]))]
    out = pick(rng, ("/app/secrets-report.txt", f"/app/{proj}-leaks.txt", "/root/redactions.txt"))
    rules = (f"- AWS access key ids `AKIA[0-9A-Z]{{16}}` → kind `aws`\n"
             f"- GitHub tokens `ghp_[A-Za-z0-9]{{36}}` → kind `github`\n"
             f"- Slack tokens `xox[bp]-[0-9]+-[0-9]+-[A-Za-z0-9]+` → kind `slack`\n"
             f"- a non-empty value assigned to a key whose name ends in `password` or `secret` (case-insensitive) in "
             f"one of the forms `KEY=value` (at the start of a line), `key: value` (YAML, possibly indented) or "
             f"`\"key\": \"value\"` (JSON) → kind `assignment`; only the value is replaced (for JSON, the text between "
             f"the quotes)")
    instruction = phrasing(
        rng,
        "Secrets were committed to the project in `{root}`. Redact them in place: replace every secret with the "
        "literal text `[REDACTED]`, changing nothing else in any file. What counts as a secret:\n\n{rules}\n\n"
        "Also write `{out}` listing each redacted line as `<path>:<line number>:<kind>` (path relative to `{root}`), "
        "sorted by path (byte order) and then line number. No line contains more than one secret.",
        "Scrub the leaked credentials from every file under `{root}`. Each match of the rules below must be replaced "
        "by `[REDACTED]` — keep all other text byte-for-byte, including comments and spacing:\n\n{rules}\n\n"
        "Write an audit list to `{out}`: one `<relative path>:<line>:<kind>` entry per redacted line, ordered by path "
        "then line number.",
        "Before this repository (`{root}`) goes public, remove its secrets. Rules (replace the secret, and only the "
        "secret, with `[REDACTED]`):\n\n{rules}\n\nThen document the redactions in `{out}` as "
        "`<path relative to {root}>:<line number>:<kind>`, sorted by path and line.",
        root=root, rules=rules, out=out,
    )
    solution = f"""cd {sh_quote(root)}
python3 - <<'PYEOF'
import os, re
ROOT, OUT = {root!r}, {out!r}
TOKENS = [("aws", re.compile(r"AKIA[0-9A-Z]{{16}}")), ("github", re.compile(r"ghp_[A-Za-z0-9]{{36}}")),
          ("slack", re.compile(r"xox[bp]-[0-9]+-[0-9]+-[A-Za-z0-9]+"))]
KEY = r"[A-Za-z0-9_]*(?:[Pp][Aa][Ss][Ss][Ww][Oo][Rr][Dd]|[Ss][Ee][Cc][Rr][Ee][Tt])"
ASSIGN = [re.compile(rf"^({{KEY}})=(.+)$"), re.compile(rf"^(\\s*{{KEY}}): (.+)$"),
          re.compile(rf'^(\\s*"{{KEY}}": ")([^"]+)(".*)$')]
report = []
for dirpath, dirs, names in os.walk(ROOT):
    for name in names:
        path = os.path.join(dirpath, name)
        rel = os.path.relpath(path, ROOT)
        lines = open(path, encoding="utf-8").read().split("\\n")
        for i, line in enumerate(lines):
            kind = None
            for k, rx in TOKENS:
                if rx.search(line):
                    line, kind = rx.sub("[REDACTED]", line), k
            if kind is None:
                for rx in ASSIGN:
                    m = rx.match(line)
                    if m:
                        line = m.group(1) + ("=" if rx is ASSIGN[0] else ": " if rx is ASSIGN[1] else "") + "[REDACTED]" + (m.group(3) if rx is ASSIGN[2] else "")
                        kind = "assignment"
                        break
            if kind:
                lines[i] = line
                report.append((rel.encode(), i + 1, f"{{rel}}:{{i + 1}}:{{kind}}"))
        open(path, "w", encoding="utf-8").write("\\n".join(lines))
open(OUT, "w").write("".join(r[2] + "\\n" for r in sorted(report)))
PYEOF
cat {sh_quote(out)}
"""
    tests = f"""
import os
from pathlib import Path

ROOT = {root!r}
OUT = {out!r}
TREE = {py(value)}
REPORT = {py(report_lines)}


def test_files_redacted_exactly():
    for rel, want in TREE.items():
        assert Path(ROOT, rel).read_text(encoding="utf-8") == want, rel


def test_no_files_added_or_removed():
    found = sorted(os.path.relpath(os.path.join(d, n), ROOT) for d, _, ns in os.walk(ROOT) for n in ns)
    assert found == sorted(TREE)


def test_report():
    got = [ln.strip() for ln in Path(OUT).read_text(encoding="utf-8").splitlines() if ln.strip()]
    assert got == REPORT
"""
    return Step(instruction, solution, tests, files=files, output=Artifact(root, "tree", value),
                params={"root": root, "files": sorted(docs), "secrets": len(report_lines)})


def _apply_rules(line: str, assign_res) -> tuple[str, str | None]:
    for kind, rx in _TOKEN_RES.items():
        if re.search(rx, line):
            return re.sub(rx, "[REDACTED]", line), kind
    m = assign_res[0].match(line)
    if m:
        return f"{m.group(1)}=[REDACTED]", "assignment"
    m = assign_res[1].match(line)
    if m:
        return f"{m.group(1)}: [REDACTED]", "assignment"
    m = assign_res[2].match(line)
    if m:
        return f"{m.group(1)}[REDACTED]{m.group(3)}", "assignment"
    return line, None


# --------------------------------------------------------------------------------------------
# security.x509-certificate
# --------------------------------------------------------------------------------------------

_X509_HELPERS = r'''
import datetime
import os
import stat
import subprocess


def ossl(*args, check=True):
    r = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
    if check:
        assert r.returncode == 0, r.stderr
    return r.stdout


def subject_set(cert, which="-subject"):
    out = ossl("x509", "-in", cert, "-noout", which, "-nameopt", "RFC2253").strip()
    out = out.split("=", 1)[1] if out.startswith(("subject=", "issuer=")) else out
    return set(p.strip() for p in out.split(","))


def dates(cert):
    fmt = "%b %d %H:%M:%S %Y %Z"
    start = ossl("x509", "-in", cert, "-noout", "-startdate").strip().split("=", 1)[1]
    end = ossl("x509", "-in", cert, "-noout", "-enddate").strip().split("=", 1)[1]
    return (datetime.datetime.strptime(" ".join(start.split()), fmt),
            datetime.datetime.strptime(" ".join(end.split()), fmt))


def sans(cert):
    out = ossl("x509", "-in", cert, "-noout", "-ext", "subjectAltName")
    lines = [ln.strip() for ln in out.splitlines()[1:] if ln.strip()]
    return set(x.strip() for ln in lines for x in ln.split(","))


def ext_text(cert, name):
    return ossl("x509", "-in", cert, "-noout", "-ext", name, check=False)


def same_key(cert, key):
    return ossl("x509", "-in", cert, "-noout", "-pubkey") == ossl("pkey", "-in", key, "-pubout")


def key_desc(key):
    return ossl("pkey", "-in", key, "-noout", "-text")
'''


@family("security.x509-certificate", category="security", skills=("security.certs",), difficulty="hard")
def x509_certificate(rng: random.Random, inp) -> Step:
    svc = word(rng)
    org = f"{word(rng).title()} {pick(rng, ('Labs', 'Systems', 'Networks', 'Analytics'))}"
    country = pick(rng, ("DE", "FR", "JP", "BR", "CA", "NZ", "PT", "KE"))
    domain = pick(rng, ("internal", "corp.test", "example.net", "lan"))
    cn = f"{svc}.{domain}"
    alt = [cn] + [f"{w}.{domain}" for w in words(rng, rng.randint(0, 2)) if w != svc]
    with_ip = rng.random() < 0.5
    keytype = pick(rng, ("rsa2048", "rsa3072", "ec"))
    days = pick(rng, (30, 90, 180, 365, 397, 730))
    ca_mode = rng.random() < 0.5
    d = pick(rng, (f"/etc/ssl/{svc}", f"/app/certs/{svc}", f"/srv/{svc}/tls"))
    key, cert, fp = f"{d}/{svc}.key", f"{d}/{svc}.crt", f"{d}/{svc}.sha256"
    ca_key, ca_cert = f"{d}/ca.key", f"{d}/ca.crt"
    ca_cn = f"{org} Root CA"
    ca_days = days * 4
    subj_parts = [("C", country), ("O", org), ("CN", cn)]
    want_subject = sorted(f"{k}={v}" for k, v in subj_parts)
    san_items = [f"DNS:{a}" for a in alt] + (["IP:127.0.0.1"] if with_ip else [])
    want_sans = sorted([f"DNS:{a}" for a in alt] + (["IP Address:127.0.0.1"] if with_ip else []))
    key_words = {"rsa2048": "an RSA 2048-bit key", "rsa3072": "an RSA 3072-bit key",
                 "ec": "an EC key on the P-256 curve (prime256v1)"}[keytype]
    san_text = ", ".join(f"`{s}`" for s in ([f"DNS:{a}" for a in alt] + (["IP:127.0.0.1"] if with_ip else [])))
    common = (f"subject exactly `C={country}`, `O={org}`, `CN={cn}` (no other attributes), subject alternative "
              f"names {san_text}, valid for exactly {days} days starting now")
    if not ca_mode:
        task = (f"Create a self-signed TLS certificate for `{cn}`: {key_words} in `{key}` (PEM, unencrypted, mode 0600) "
                f"and the certificate in `{cert}` (PEM) with {common}.")
    else:
        task = (f"Set up a tiny private CA and a server certificate in `{d}`. The CA: {key_words} in `{ca_key}` (mode "
                f"0600) and a self-signed CA certificate `{ca_cert}` with subject `CN={ca_cn}`, `O={org}`, "
                f"basicConstraints `CA:TRUE`, valid for {ca_days} days. The server: {key_words} in `{key}` (mode 0600) and "
                f"`{cert}` signed by that CA (not self-signed), with {common}, basicConstraints `CA:FALSE` and extended "
                f"key usage `serverAuth`; `openssl verify -CAfile {ca_cert} {cert}` must succeed.")
    fp_text = (f" Finally write the certificate's SHA-256 fingerprint to `{fp}` as colon-separated upper-case hex "
               f"pairs (e.g. `AB:CD:...`), nothing else.")
    instruction = phrasing(
        rng, "{task}{fp}", "We need TLS material for `{cn}`. {task}{fp}", "{task} Keep private keys out of reach of other "
        "users.{fp}", task=task, fp=fp_text, cn=cn)
    newkey = {"rsa2048": "rsa:2048", "rsa3072": "rsa:3072", "ec": "ec -pkeyopt ec_paramgen_curve:prime256v1"}[keytype]
    genkey = {"rsa2048": "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048",
              "rsa3072": "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072",
              "ec": "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1"}[keytype]
    subj = "/" + "/".join(f"{k}={v}" for k, v in subj_parts)
    san_ext = "subjectAltName=" + ",".join(san_items)
    sol = [f"mkdir -p {sh_quote(d)}", f"cd {sh_quote(d)}", "umask 077"]
    if not ca_mode:
        sol.append(f"openssl req -x509 -newkey {newkey} -nodes -keyout {sh_quote(key)} "
                   f"-out {sh_quote(cert)} -days {days} -subj {sh_quote(subj)} -addext {sh_quote(san_ext)}"
                   if keytype != "ec" else
                   f"{genkey} -out {sh_quote(key)}\nopenssl req -x509 -new -key {sh_quote(key)} -out {sh_quote(cert)} "
                   f"-days {days} -subj {sh_quote(subj)} -addext {sh_quote(san_ext)}")
    else:
        sol += [f"{genkey} -out {sh_quote(ca_key)}",
                f"openssl req -x509 -new -key {sh_quote(ca_key)} -out {sh_quote(ca_cert)} -days {ca_days} "
                f"-subj {sh_quote(f'/O={org}/CN={ca_cn}')} -addext 'basicConstraints=critical,CA:TRUE' "
                f"-addext 'keyUsage=critical,keyCertSign,cRLSign'",
                f"{genkey} -out {sh_quote(key)}",
                f"openssl req -new -key {sh_quote(key)} -subj {sh_quote(subj)} -out /tmp/{svc}.csr",
                f"printf '%s\\n' {sh_quote(san_ext)} 'basicConstraints=CA:FALSE' 'extendedKeyUsage=serverAuth' > /tmp/{svc}.ext",
                f"openssl x509 -req -in /tmp/{svc}.csr -CA {sh_quote(ca_cert)} -CAkey {sh_quote(ca_key)} -CAcreateserial "
                f"-days {days} -extfile /tmp/{svc}.ext -out {sh_quote(cert)}"]
    sol.append(f"chmod 0600 {sh_quote(key)}" + (f" {sh_quote(ca_key)}" if ca_mode else ""))
    sol.append(f"chmod 0644 {sh_quote(cert)}" + (f" {sh_quote(ca_cert)}" if ca_mode else ""))
    sol.append(f"openssl x509 -in {sh_quote(cert)} -noout -fingerprint -sha256 | cut -d= -f2 > {sh_quote(fp)}")
    solution = "\n".join(sol) + "\n"
    tests = _X509_HELPERS + f"""
KEY, CERT, FP = {key!r}, {cert!r}, {fp!r}
CA_KEY, CA_CERT = {ca_key!r}, {ca_cert!r}
CA_MODE = {ca_mode!r}
KEYTYPE = {keytype!r}
DAYS, CA_DAYS = {days}, {ca_days}
SUBJECT = {py(want_subject)}
SANS = {py(want_sans)}
CA_SUBJECT = {py(sorted([f"CN={ca_cn}", f"O={org}"]))}


def check_key(path):
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    text = key_desc(path)
    if KEYTYPE == "ec":
        assert "(256 bit)" in text and "prime256v1" in text
    else:
        assert f"({{KEYTYPE[3:]}} bit" in text


def test_private_key():
    check_key(KEY)
    assert same_key(CERT, KEY)


def test_subject_and_sans():
    assert sorted(subject_set(CERT)) == SUBJECT
    assert sorted(sans(CERT)) == SANS


def test_validity():
    start, end = dates(CERT)
    assert end - start == datetime.timedelta(days=DAYS)
    now = datetime.datetime.utcnow()
    assert abs((start - now).total_seconds()) < 2 * 86400


def test_issuer():
    if not CA_MODE:
        assert subject_set(CERT, "-issuer") == subject_set(CERT)
        return
    check_key(CA_KEY)
    assert same_key(CA_CERT, CA_KEY)
    assert sorted(subject_set(CA_CERT)) == CA_SUBJECT
    assert "CA:TRUE" in ext_text(CA_CERT, "basicConstraints")
    start, end = dates(CA_CERT)
    assert end - start == datetime.timedelta(days=CA_DAYS)
    assert subject_set(CERT, "-issuer") == subject_set(CA_CERT)
    r = subprocess.run(["openssl", "verify", "-CAfile", CA_CERT, CERT], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip().endswith("OK"), r.stdout + r.stderr
    assert "CA:TRUE" not in ext_text(CERT, "basicConstraints")
    assert "TLS Web Server Authentication" in ext_text(CERT, "extendedKeyUsage")


def test_fingerprint_file():
    want = ossl("x509", "-in", CERT, "-noout", "-fingerprint", "-sha256").strip().split("=", 1)[1]
    assert open(FP).read().strip() == want
"""
    return Step(instruction, solution, tests,
                params={"cn": cn, "keytype": keytype, "days": days, "ca": ca_mode, "sans": len(want_sans)})


# --------------------------------------------------------------------------------------------
# security.openssl-encrypt
# --------------------------------------------------------------------------------------------

_CIPHERS = ("aes-256-cbc", "aes-128-cbc", "aes-256-ctr", "aes-192-cbc", "chacha20")


def _enc_args(cipher: str, iters: int, md: str, b64: bool) -> str:
    return f"-{cipher} -pbkdf2 -iter {iters} -md {md}" + (" -a" if b64 else "")


def _enc_words(cipher: str, iters: int, md: str, b64: bool) -> str:
    return (f"cipher `{cipher}`, key derived with PBKDF2 ({iters} iterations, digest `{md}`), salted"
            + (", base64-encoded (`-a`)" if b64 else ", raw binary output"))


@family("security.openssl-encrypt", category="security", skills=("security.encrypt",), difficulty="medium",
        consumes="lines", produces="lines")
def openssl_encrypt(rng: random.Random, inp) -> Step:
    vault = pick(rng, ("/app/vault", "/srv/secure", "/root/vault"))
    name = ident(rng, 1)
    c1, c2 = rng.sample(_CIPHERS, 2)
    i1, i2 = pick(rng, (10000, 100000, 250000)), pick(rng, (20000, 150000, 600000))
    md1, md2 = pick(rng, ("sha256", "sha512")), pick(rng, ("sha256", "sha512", "sha384"))
    b1, b2 = rng.random() < 0.5, rng.random() < 0.5
    pass_in, pass_out = f"{vault}/{name}.pass", f"{vault}/outgoing.pass"
    secret_lines = [f"{w}_{pick(rng, ('url', 'token', 'user', 'host'))}={token(rng, rng.randint(6, 20))}"
                    for w in words(rng, rng.randint(3, 6))]
    secret_lines.insert(rng.randint(0, len(secret_lines)), f"# {pick(rng, UNICODE_WORDS)} notes")
    enc_in = f"{vault}/{name}.enc"
    dec_out = f"/app/{name}-decrypted.txt"
    files = {pass_in: f"{token(rng, 20, string.ascii_letters + string.digits)}\n",
             pass_out: f"{token(rng, 24, string.ascii_letters + string.digits + '-_')}\n",
             f"/tmp/.{name}.plain": lines_text(secret_lines)}
    run = [f"openssl enc -e {_enc_args(c1, i1, md1, b1)} -salt -in /tmp/.{name}.plain -out {sh_quote(enc_in)} "
           f"-pass file:{sh_quote(pass_in)} && rm -f /tmp/.{name}.plain"]
    if inp is None:
        src = f"/app/outgoing/{name}-{pick(rng, ('report', 'export', 'customers'))}.csv"
        src_lines = ["id,name,amount"] + [f"{i},{pick(rng, FIRST_NAMES)},{rng.randint(1, 9999)}"
                                          for i in range(1, rng.randint(4, 9))]
        files[src] = lines_text(src_lines)
    else:
        src, src_lines = inp.path, [str(x) for x in inp.value]
    enc_out = f"{src}.enc"
    instruction = phrasing(
        rng,
        "Two jobs with `openssl enc`. (1) `{enc_in}` was encrypted with {w1}; the passphrase is the first line of "
        "`{pass_in}`. Decrypt it to `{dec_out}`. (2) Encrypt `{src}` to `{enc_out}` using {w2}, with the passphrase "
        "in `{pass_out}`; leave `{src}` in place.",
        "Decrypt `{enc_in}` into `{dec_out}` — it was produced by `openssl enc` with {w1}, passphrase from "
        "`{pass_in}`. Then protect `{src}`: encrypt it with {w2} and the passphrase stored in `{pass_out}`, writing "
        "`{enc_out}` (keep the original file).",
        "The vault `{vault}` holds `{enc_in}` ({w1}; passphrase file `{pass_in}`). Recover its plaintext into "
        "`{dec_out}`. Also produce `{enc_out}`, an encryption of `{src}` with {w2} keyed by the passphrase file "
        "`{pass_out}`, so that `openssl enc -d` with the same parameters restores the file exactly.",
        enc_in=enc_in, w1=_enc_words(c1, i1, md1, b1), pass_in=pass_in, dec_out=dec_out, src=src, enc_out=enc_out,
        w2=_enc_words(c2, i2, md2, b2), pass_out=pass_out, vault=vault,
    )
    solution = (f"openssl enc -d {_enc_args(c1, i1, md1, b1)} -in {sh_quote(enc_in)} -out {sh_quote(dec_out)} "
                f"-pass file:{sh_quote(pass_in)}\n"
                f"openssl enc -e {_enc_args(c2, i2, md2, b2)} -salt -in {sh_quote(src)} -out {sh_quote(enc_out)} "
                f"-pass file:{sh_quote(pass_out)}\n")
    tests = f"""
import base64
import subprocess
from pathlib import Path

DEC_OUT = {dec_out!r}
SECRET = {py(secret_lines)}
ENC_OUT, SRC_LINES = {enc_out!r}, {py(src_lines)}
ARGS = {py(_enc_args(c2, i2, md2, b2).split())}
PASS_OUT = {pass_out!r}
B64 = {b2!r}


def test_decrypted():
    assert Path(DEC_OUT).read_text(encoding="utf-8").splitlines() == SECRET


def test_encrypted_file_is_salted():
    data = Path(ENC_OUT).read_bytes()
    raw = base64.b64decode(b"".join(data.split())) if B64 else data
    assert raw[:8] == b"Salted__"


def test_encrypted_file_decrypts():
    r = subprocess.run(["openssl", "enc", "-d", *ARGS, "-in", ENC_OUT, "-pass", f"file:{{PASS_OUT}}"],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode("utf-8").splitlines() == SRC_LINES
"""
    return Step(instruction, solution, tests, files=files, run=run, output=Artifact(dec_out, "lines", secret_lines),
                params={"cipher_in": c1, "cipher_out": c2, "iter_in": i1, "iter_out": i2, "consumed": inp is not None})


# --------------------------------------------------------------------------------------------
# security.password-audit
# --------------------------------------------------------------------------------------------

_COMMON = ("123456 password qwerty letmein dragon monkey sunshine princess football iloveyou admin welcome "
           "master shadow baseball trustno1 superman hello charlie freedom whatever michael summer2024 "
           "Winter2023 Passw0rd changeme secret abc123 starwars").split()
_SCHEMES = {"sha512": ("-6", "$6$"), "sha256": ("-5", "$5$"), "md5": ("-1", "$1$"), "apr1": ("-apr1", "$apr1$")}


@family("security.password-audit", category="security", skills=("security.hashes",), difficulty="medium",
        produces="lines")
def password_audit(rng: random.Random, inp) -> Step:
    d = pick(rng, ("/app/audit", "/root/audit", "/srv/audit"))
    users = rng.sample(FIRST_NAMES, rng.randint(6, 9))
    wordlist = rng.sample(_COMMON, rng.randint(18, 26))
    extra_words = [f"{w}{rng.randint(1, 99)}" for w in words(rng, rng.randint(3, 6))]
    wordlist += extra_words
    rng.shuffle(wordlist)
    schemes = rng.sample(sorted(_SCHEMES), rng.randint(2, 4))
    entries = []      # (user, scheme, salt, password, locked)
    for i, u in enumerate(users):
        weak = i % 2 == 0 or rng.random() < 0.3
        pw = pick(rng, wordlist) if weak else token(rng, 14, string.ascii_letters + string.digits + "#%+=")
        locked = rng.random() < 0.15
        entries.append((u, pick(rng, schemes), token(rng, 8, string.ascii_letters + string.digits), pw, locked, weak))
    entries.append(("svc-" + word(rng), None, "", "", True, False))   # a service account with no password
    shadow = f"{d}/shadow.{pick(rng, ('bak', 'txt', 'old'))}"
    wl = f"{d}/{pick(rng, ('wordlist.txt', 'common-passwords.txt', 'rockyou-top.txt'))}"
    out = f"{d}/{pick(rng, ('weak.txt', 'cracked.txt', 'findings.txt'))}"
    script = f"/tmp/.mkshadow-{ident(rng, 1)}.sh"
    lines = ["#!/bin/sh", "set -e", f": > {sh_quote(shadow)}"]
    for u, scheme, salt, pw, locked, weak in entries:
        if scheme is None:
            lines.append(f"echo {sh_quote(u + ':*:19700:0:99999:7:::')} >> {sh_quote(shadow)}")
            continue
        flag = _SCHEMES[scheme][0]
        lock = "!" if locked else ""
        lines.append(f"printf '%s:{lock}%s:%s:0:99999:7:::\\n' {sh_quote(u)} "
                     f"\"$(openssl passwd {flag} -salt {salt} {sh_quote(pw)})\" {rng.randint(19000, 19999)} >> {sh_quote(shadow)}")
    lines.append(f"chmod 0600 {sh_quote(shadow)}")
    expected = [f"{u}:{pw}" for u, scheme, salt, pw, locked, weak in sorted(entries)
                if scheme and weak and not locked]
    files = {wl: lines_text(wordlist), script: "\n".join(lines) + "\n"}
    instruction = phrasing(
        rng,
        "`{shadow}` is a copy of a shadow file (`user:hash:...`). Check which accounts use a password from the "
        "wordlist `{wl}`: the hashes are crypt-style (`$1$`, `$5$`, `$6$` or `$apr1$` with their salt; `openssl passwd` "
        "can compute them). Write `{out}` with one `user:password` line per account whose password is in the list, "
        "sorted by user name. Ignore locked accounts (hash starting with `!`) and accounts without a password (`*`).",
        "Password audit: for every account in `{shadow}` find out whether its password is one of the words in `{wl}`. "
        "The hash field uses the `$id$salt$hash` crypt formats (MD5 `$1$`, Apache `$apr1$`, SHA-256 `$5$`, SHA-512 "
        "`$6$`). Report the weak ones in `{out}` as `user:password`, alphabetically by user; skip locked (`!…`) and "
        "password-less (`*`) entries.",
        "Find the users in `{shadow}` whose password appears in `{wl}` (recompute each candidate's crypt hash with the "
        "salt from the shadow entry — e.g. `openssl passwd -6 -salt SALT WORD` for `$6$`). Save them as `user:password` "
        "lines sorted by user to `{out}`. Locked accounts (`!` before the hash) and `*` entries are out of scope.",
        shadow=shadow, wl=wl, out=out,
    )
    solution = f""": > /tmp/found
while IFS=: read -r user hash rest; do
  case "$hash" in '!'*|'*'|'') continue ;; esac
  id=$(printf '%s' "$hash" | cut -d'$' -f2)
  salt=$(printf '%s' "$hash" | cut -d'$' -f3)
  case "$id" in 1) flag=-1 ;; 5) flag=-5 ;; 6) flag=-6 ;; apr1) flag=-apr1 ;; *) continue ;; esac
  while IFS= read -r w; do
    if [ "$(openssl passwd $flag -salt "$salt" "$w")" = "$hash" ]; then echo "$user:$w" >> /tmp/found; break; fi
  done < {sh_quote(wl)}
done < {sh_quote(shadow)}
LC_ALL=C sort -t: -k1,1 /tmp/found > {sh_quote(out)}
cat {sh_quote(out)}
"""
    tests = f"""
from pathlib import Path

OUT = {out!r}
EXPECTED = {py(expected)}


def test_findings():
    got = [ln.strip() for ln in Path(OUT).read_text().splitlines() if ln.strip()]
    assert got == EXPECTED
"""
    return Step(instruction, solution, tests, files=files, run=[f"sh {script} && rm -f {script}"],
                output=Artifact(out, "lines", expected),
                params={"schemes": schemes, "users": len(entries), "weak": len(expected)})
