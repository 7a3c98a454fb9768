#!/bin/bash
set -euo pipefail
python3 - <<'PY'
import codecs
from pathlib import Path

src, dst = Path("/srv/exports/incoming"), Path("/srv/exports/clean")
dst.mkdir(parents=True, exist_ok=True)


def decode(raw):
    if raw.startswith(codecs.BOM_UTF8):
        return raw[3:].decode("utf-8")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252")


header, rows, seen = None, [], set()
for f in sorted(src.glob("*.csv")):
    lines = [ln.rstrip(" \t") for ln in decode(f.read_bytes()).replace("\r\n", "\n").split("\n")]
    while lines and lines[-1] == "":
        lines.pop()
    (dst / f.name).write_text("".join(ln + "\n" for ln in lines), encoding="utf-8")
    header = header or lines[0]
    for r in lines[1:]:
        if r not in seen:
            seen.add(r)
            rows.append(r)
(dst / "all_customers.csv").write_text("".join(ln + "\n" for ln in [header] + rows), encoding="utf-8")
PY
