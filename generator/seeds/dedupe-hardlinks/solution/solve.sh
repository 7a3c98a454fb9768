#!/bin/bash
set -euo pipefail
python3 - <<'PY'
import hashlib
import os
from collections import defaultdict

root = "/srv/media/library"
groups = defaultdict(list)
for dirpath, dirnames, filenames in os.walk(root):
    for fn in filenames:
        p = os.path.join(dirpath, fn)
        if os.path.islink(p) or not os.path.isfile(p) or os.path.getsize(p) == 0:
            continue
        with open(p, "rb") as f:
            groups[hashlib.sha256(f.read()).hexdigest()].append(p)
report = []
for paths in groups.values():
    paths.sort(key=lambda s: s.encode())
    canon = paths[0]
    for dup in paths[1:]:
        if os.stat(dup).st_ino == os.stat(canon).st_ino:
            continue
        tmp = dup + ".dedupe-tmp"
        os.link(canon, tmp)
        os.replace(tmp, dup)
        report.append(f"{canon}\t{dup}")
report.sort(key=lambda s: s.encode())
with open("/root/dedupe_report.tsv", "w") as f:
    f.write("".join(line + "\n" for line in report))
PY
