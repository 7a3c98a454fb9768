#!/bin/bash
set -euo pipefail
cat > /app/tools/flatten_json <<'PY'
#!/usr/bin/env python3
"""Flatten a JSON array of nested objects into CSV on stdout."""
import csv
import json
import sys


def scalar(v):
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    return str(v)


def flatten(value, prefix, out):
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(v, f"{prefix}.{k}" if prefix else k, out)
    elif isinstance(value, list):
        if any(isinstance(v, (dict, list)) for v in value):
            for i, v in enumerate(value):
                flatten(v, f"{prefix}.{i}", out)
        else:
            out[prefix] = ";".join(scalar(v) for v in value)
    else:
        out[prefix] = scalar(value)


def main(argv):
    if len(argv) != 2:
        print("usage: flatten_json INPUT.json", file=sys.stderr)
        return 1
    try:
        with open(argv[1], encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        print(f"flatten_json: {exc}", file=sys.stderr)
        return 1
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        print("flatten_json: input must be a JSON array of objects", file=sys.stderr)
        return 1
    rows = []
    for r in data:
        flat = {}
        flatten(r, "", flat)
        rows.append(flat)
    cols = sorted({c for r in rows for c in r})
    sys.stdout.reconfigure(encoding="utf-8", newline="")
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([r.get(c, "") for c in cols])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
PY
chmod +x /app/tools/flatten_json
diff <(/app/tools/flatten_json /app/tools/examples/sample.json) /app/tools/examples/sample.csv
