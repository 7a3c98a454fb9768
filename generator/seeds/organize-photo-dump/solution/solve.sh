#!/bin/bash
set -euo pipefail
python3 - <<'PY'
import filecmp
import os
import re
import shutil

INBOX, LIB = "/srv/inbox", "/srv/photos"
DATE = re.compile(r"(20[0-9]{2})-?(0[1-9]|1[0-2])-?(0[1-9]|[12][0-9]|3[01])")
log = []
for name in sorted((n for n in os.listdir(INBOX) if not n.startswith(".")), key=lambda s: s.encode()):
    src = os.path.join(INBOX, name)
    if not os.path.isfile(src):
        continue
    m = DATE.search(name)
    rel_dir = f"{m.group(1)}/{m.group(2)}" if m else "unsorted"
    ddir = os.path.join(LIB, rel_dir)
    os.makedirs(ddir, exist_ok=True)
    stem, _, ext = name.rpartition(".")
    candidates = [name] + [f"{stem}-{i}.{ext}" for i in range(1, 1000)]
    existing = [c for c in candidates if os.path.exists(os.path.join(ddir, c))]
    if any(filecmp.cmp(src, os.path.join(ddir, c), shallow=False) for c in existing):
        os.remove(src)
        log.append(f"{name} -> duplicate")
        continue
    target = next(c for c in candidates if not os.path.exists(os.path.join(ddir, c)))
    shutil.move(src, os.path.join(ddir, target))
    log.append(f"{name} -> {rel_dir}/{target}")
log.sort(key=lambda s: s.encode())
with open(os.path.join(LIB, "import.log"), "w") as f:
    f.writelines(line + "\n" for line in log)
PY
