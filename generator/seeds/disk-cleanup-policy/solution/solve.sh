#!/bin/bash
set -euo pipefail
python3 - <<'PY'
import calendar
import os
import time

ROOT = "/var/cache/appsrv"
cutoff = calendar.timegm(time.strptime("2024-03-01 00:00:00", "%Y-%m-%d %H:%M:%S"))
with open(f"{ROOT}/KEEP") as f:
    keep = {ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")}
empty_before = set()
for top in ("tmp", "thumbs"):
    for dirpath, dirnames, filenames in os.walk(f"{ROOT}/{top}"):
        if not dirnames and not filenames:
            empty_before.add(dirpath)
deleted, freed = [], 0
for top in ("tmp", "thumbs"):
    for dirpath, dirnames, filenames in os.walk(f"{ROOT}/{top}"):
        for fn in filenames:
            p = os.path.join(dirpath, fn)
            if os.path.islink(p) or not os.path.isfile(p) or os.path.relpath(p, ROOT) in keep:
                continue
            st = os.stat(p)
            if (top == "tmp" and st.st_mtime < cutoff) or (top == "thumbs" and st.st_size > 102400):
                os.remove(p)
                deleted.append(p)
                freed += st.st_size
for top in ("tmp", "thumbs"):
    for dirpath, dirnames, filenames in os.walk(f"{ROOT}/{top}", topdown=False):
        if dirpath != f"{ROOT}/{top}" and dirpath not in empty_before and not os.listdir(dirpath):
            os.rmdir(dirpath)
deleted.sort(key=lambda s: s.encode())
with open("/root/cleanup_report.txt", "w") as f:
    f.write(f"freed {freed} bytes\n" + "".join(p + "\n" for p in deleted))
PY
