"""A cache directory with old and new, small and big files, a keep list; what a cleanup removes."""
import json

CUTOFF = "2024-03-01"


def generate(rng):
    root = "/var/cache/appsrv"
    entries = []  # (rel, size, date)
    for i in range(rng.randint(10, 16)):
        sub = rng.choice(["tmp", "tmp/uploads", "tmp/sessions", "tmp/old run"])
        date = f"2024-{rng.choice(['01', '02', '03', '04'])}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:00"
        entries.append((f"{sub}/{rng.choice(['job', 'sess', 'part', 'chunk'])}-{i:03d}.dat",
                        rng.randint(10, 5000), date))
    for i in range(rng.randint(8, 12)):
        size = rng.choice([rng.randint(1000, 90000), rng.randint(110000, 4000000), 102400, 102401])
        entries.append((f"thumbs/{rng.choice(['a', 'b', 'c'])}/{i:04d}.png", size,
                        f"2023-12-{rng.randint(1, 28):02d} 12:00"))
    entries.append(("tmp/edge.dat", 77, f"{CUTOFF} 00:00"))
    keep = rng.sample([e[0] for e in entries], 2)
    deleted = []
    for rel, size, date in entries:
        if rel in keep:
            continue
        old = rel.startswith("tmp/") and date < f"{CUTOFF} 00:00"
        big = rel.startswith("thumbs/") and size > 102400
        if old or big:
            deleted.append((rel, size))
    script = ["#!/bin/bash", "set -e"]
    for rel, size, date in entries:
        p = f"{root}/{rel}"
        script.append(f"mkdir -p \"$(dirname '{p}')\" && truncate -s {size} '{p}' && TZ=UTC touch -d '{date}' '{p}'")
    script.append(f"mkdir -p {root}/tmp/empty-already")
    remaining = sorted(e[0] for e in entries if e[0] not in {d[0] for d in deleted})
    gone = sorted(d[0] for d in deleted)
    dirs_left = sorted({r.rsplit("/", 1)[0] for r in remaining} | {"tmp", "thumbs", "tmp/empty-already"})
    report = [f"freed {sum(s for _, s in deleted)} bytes"] + [f"{root}/{r}" for r in sorted(gone, key=str.encode)]
    return {
        "environment/rootfs/tmp/build/make_cache.sh": "\n".join(script) + "\n",
        "environment/rootfs/var/cache/appsrv/KEEP": "# never delete these (paths relative to this directory)\n"
                                                     + "".join(f"{k}\n" for k in keep),
        "tests/expected.json": json.dumps({"remaining": remaining, "deleted": gone, "report": report,
                                           "dirs": dirs_left}, indent=1) + "\n",
    }
