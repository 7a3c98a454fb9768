"""A base INI, conf.d overrides (with deletions and a disabled file), env overrides; the merge."""
import json

BASE = {
    "server": {"host": "0.0.0.0", "port": "8080", "workers": "4", "log_format": "%(asctime)s %(message)s"},
    "database": {"host": "db.internal", "port": "5432", "name": "billing", "pool": "10", "sslmode": "prefer"},
    "cache": {"backend": "redis", "ttl": "300"},
    "features": {"invoices_v2": "false", "dunning": "true"},
}


def ini(sections, comment=None):
    out = [f"# {comment}"] if comment else []
    for sec, kv in sections.items():
        out.append(f"[{sec}]")
        for k, v in kv.items():
            out.append(f"{k} = {v}" if v is not None else f"{k} =")
        out.append("")
    return "\n".join(out) + "\n"


def generate(rng):
    eff = {s: dict(kv) for s, kv in BASE.items()}
    files = {"app.ini": ini(BASE, "defaults shipped with the package")}
    names = sorted(rng.sample(["10-site.ini", "20-tuning.ini", "30-features.ini", "50-local.ini",
                               "05-early.ini", "70-secrets.ini"], 4))
    choices = [("server", "workers", lambda: str(rng.randint(2, 32))),
               ("database", "pool", lambda: str(rng.randint(5, 60))),
               ("database", "host", lambda: rng.choice(["pg1.lan", "pg2.lan", "10.1.2.3"])),
               ("cache", "ttl", lambda: str(rng.randint(60, 3600))),
               ("features", "invoices_v2", lambda: rng.choice(["true", "false"])),
               ("Features", "Dunning", lambda: rng.choice(["true", "false"])),
               ("server", "PORT", lambda: str(rng.randint(8000, 8999))),
               ("reports", "schedule", lambda: rng.choice(["daily", "hourly", "weekly"])),
               ("cache", "backend", lambda: None), ("database", "sslmode", lambda: None)]
    for name in names:
        picked = rng.sample(choices, rng.randint(2, 4))
        secs = {}
        for sec, key, val in picked:
            v = val()
            secs.setdefault(sec, {})[key] = v
            s, k = sec.lower(), key.lower()
            if v is None:
                eff.get(s, {}).pop(k, None)
            else:
                eff.setdefault(s, {})[k] = v
        files[f"conf.d/{name}"] = ini(secs, f"override {name}")
    files["conf.d/40-old.ini.disabled"] = ini({"server": {"port": "1"}, "database": {"pool": "1"}})
    files["conf.d/README"] = "Overrides: *.ini files are applied in lexical order.\n"
    env = ["# APPCFG__<SECTION>__<KEY>=value overrides everything", ""]
    for sec, key, val in rng.sample([("database", "password", "s3cr%t"), ("server", "workers", "3"),
                                     ("Cache", "TTL", "42"), ("audit", "enabled", "yes")], 2):
        env.append(f"APPCFG__{sec.upper()}__{key.upper()}={val}")
        eff.setdefault(sec.lower(), {})[key.lower()] = val
    env.append("NOT_AN_OVERRIDE=1")
    files["billing.env"] = "\n".join(env) + "\n"
    eff = {s: dict(sorted(kv.items())) for s, kv in sorted(eff.items()) if kv}
    out = {f"environment/rootfs/etc/billing/{k}": v for k, v in files.items()}
    out["tests/expected.json"] = json.dumps(eff, indent=2) + "\n"
    return out
