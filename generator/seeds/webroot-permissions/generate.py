"""A web root with messy owners and modes, and which paths a correct audit lists."""
import json

WORDS = ("index about contact pricing team blog news careers faq terms privacy press "
         "events shop login signup help status docs partners").split()


def generate(rng):
    root = "/srv/www/storefront"
    files = {}   # relative path -> (content, mode, owner)
    dirs = {}    # relative dir -> (mode, owner)
    owners = ["root:root", "deploy:deploy", "webadm:webops", "deploy:webops"]

    def d(rel):
        dirs.setdefault(rel, (rng.choice([0o755, 0o775, 0o777, 0o750, 0o700]), rng.choice(owners)))

    for sub in ["css", "js", "img", "cgi-bin", "uploads", "uploads/avatars", "docs"]:
        d(sub)
    pages = rng.sample(WORDS, rng.randint(5, 9))
    for p in pages:
        name = f"{p}.html" if rng.random() < 0.85 else f"{p} page.html"
        files[name] = (f"<h1>{p}</h1>\n", rng.choice([0o644, 0o664, 0o666, 0o600, 0o755]))
    for sub, ext in (("css", "css"), ("js", "js"), ("img", "svg"), ("docs", "md")):
        for p in rng.sample(WORDS, rng.randint(1, 3)):
            files[f"{sub}/{p}.{ext}"] = (f"/* {p} */\n", rng.choice([0o644, 0o666, 0o640, 0o777]))
    for p in rng.sample(WORDS, rng.randint(2, 4)):
        ext = rng.choice(["cgi", "sh"])
        files[f"cgi-bin/{p}.{ext}"] = (f"#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho {p}\n",
                                       rng.choice([0o755, 0o777, 0o4755, 0o775, 0o644]))
    files["cgi-bin/README.txt"] = ("CGI scripts live here.\n", 0o666)
    for i in range(rng.randint(1, 4)):
        files[f"uploads/avatars/user{rng.randint(100, 999)}.png.txt"] = ("fake image\n", rng.choice([0o666, 0o644]))
    files[".env"] = (f"DB_PASSWORD={rng.getrandbits(40):x}\n", rng.choice([0o644, 0o666]))
    # make sure the audit has at least one setuid file and one world-writable directory
    cgi = sorted(k for k in files if k.startswith("cgi-bin/") and not k.endswith(".txt"))
    k = rng.choice(cgi)
    files[k] = (files[k][0], 0o4755)
    dirs["uploads"] = (0o777, dirs["uploads"][1])

    script = ["#!/bin/bash", "set -e"]
    for rel, (mode, owner) in sorted(dirs.items()):
        script.append(f"mkdir -p '{root}/{rel}'")
    audit = []
    for rel, (content, mode) in sorted(files.items()):
        owner = rng.choice(owners)
        script.append(f"chown {owner} '{root}/{rel}' && chmod {mode:o} '{root}/{rel}'")
        if mode & 0o002 or mode & 0o4000:
            audit.append(f"{root}/{rel}")
    for rel, (mode, owner) in sorted(dirs.items()):
        script.append(f"chown {owner} '{root}/{rel}' && chmod {mode:o} '{root}/{rel}'")
        if mode & 0o002:
            audit.append(f"{root}/{rel}")
    script.append(f"chown root:root '{root}' && chmod 755 '{root}'")
    out = {f"environment/rootfs/srv/www/storefront/{rel}": c for rel, (c, m) in files.items()}
    out["environment/rootfs/tmp/build/set_perms.sh"] = "\n".join(script) + "\n"
    out["tests/expected_audit.txt"] = "".join(f"{p}\n" for p in sorted(audit, key=lambda s: s.encode()))
    out["tests/layout.json"] = json.dumps({"files": sorted(files), "dirs": sorted(dirs)}, indent=1) + "\n"
    return out
