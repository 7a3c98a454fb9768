#!/bin/bash
set -euo pipefail
python3 - <<'PY'
import os
import re
from pathlib import Path

root = Path("/app/payments-api")
aws = re.compile(r"(?<![A-Z0-9])AKIA[A-Z0-9]{16}(?![A-Z0-9])")
ghp = re.compile(r"(?<![A-Za-z0-9])ghp_[A-Za-z0-9]{36}(?![A-Za-z0-9])")
env = re.compile(r"^((?:export )?[A-Za-z_][A-Za-z0-9_]*(?:_PASSWORD|_SECRET|_TOKEN|_KEY)=).*$")
report = []
for path in sorted(p for p in root.rglob("*") if p.is_file()):
    rel = path.relative_to(root).as_posix()
    lines = path.read_text().split("\n")
    out, in_key = [], False
    is_env = path.name == ".env" or path.name.endswith(".env")
    for n, line in enumerate(lines, 1):
        if in_key:
            if re.match(r"^-----END .*PRIVATE KEY-----$", line):
                in_key = False
            continue
        if re.match(r"^-----BEGIN .*PRIVATE KEY-----$", line):
            report.append((rel, n, "private-key"))
            out.append("[REDACTED PRIVATE KEY]")
            in_key = True
            continue
        if is_env and env.match(line):
            report.append((rel, n, "env-secret"))
            out.append(env.sub(r"\1[REDACTED]", line))
            continue
        for pat, kind in ((aws, "aws-key"), (ghp, "github-token")):
            for _ in pat.finditer(line):
                report.append((rel, n, kind))
            line = pat.sub("[REDACTED]", line)
        out.append(line)
    new = "\n".join(out)
    if new != "\n".join(lines):
        path.write_text(new)
report.sort()
Path("/app/redaction_report.txt").write_text("".join(f"{p}:{n}:{k}\n" for p, n, k in report))
PY
