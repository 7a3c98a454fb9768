#!/bin/bash
set -euo pipefail
cat > /usr/local/bin/billing-config <<'PY'
#!/usr/bin/env python3
"""Print the effective billing configuration (app.ini < conf.d/*.ini < billing.env) as JSON."""
import configparser
import json
import os
import re

BASE = "/etc/billing"
eff = {}


def apply_ini(path):
    cp = configparser.RawConfigParser(comment_prefixes=("#", ";"), inline_comment_prefixes=None,
                                      strict=False, empty_lines_in_values=False)
    cp.optionxform = str.lower
    with open(path, encoding="utf-8") as f:
        cp.read_file(f)
    for sec in cp.sections():
        target = eff.setdefault(sec.lower(), {})
        for key, value in cp.items(sec):
            value = (value or "").strip()
            if value == "":
                target.pop(key, None)
            else:
                target[key] = value


apply_ini(f"{BASE}/app.ini")
conf_d = f"{BASE}/conf.d"
for name in sorted(os.listdir(conf_d), key=lambda s: s.encode()):
    if name.endswith(".ini") and os.path.isfile(f"{conf_d}/{name}"):
        apply_ini(f"{conf_d}/{name}")
env = f"{BASE}/billing.env"
if os.path.exists(env):
    with open(env, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^APPCFG__([A-Za-z0-9_.-]+?)__([A-Za-z0-9_.-]+)=(.*)$", line.rstrip("\n"))
            if m:
                eff.setdefault(m.group(1).lower(), {})[m.group(2).lower()] = m.group(3).strip()
out = {s: dict(sorted(kv.items())) for s, kv in sorted(eff.items()) if kv}
print(json.dumps(out, indent=2))
PY
chmod 755 /usr/local/bin/billing-config
/usr/local/bin/billing-config > /etc/billing/effective.json
