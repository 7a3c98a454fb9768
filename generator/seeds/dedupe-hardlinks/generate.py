"""A media tree with duplicate files, same-size decoys and an existing hard link."""
import json

DIRS = ["photos/2023", "photos/2024", "music", "docs", "old backup", "old backup/photos"]
STEMS = "beach sunset family concert invoice report draft cover track notes scan poster".split()


def generate(rng):
    files = {}
    blobs = []
    for i in range(rng.randint(6, 10)):
        n = rng.randint(40, 400)
        blobs.append(bytes(rng.randrange(32, 127) for _ in range(n)).decode() + "\n")
    used = set()

    def fresh(ext):
        while True:
            name = f"{rng.choice(DIRS)}/{rng.choice(STEMS)}{rng.choice(['', '_1', ' copy', '-final'])}.{ext}"
            if name not in used:
                used.add(name)
                return name

    groups = []
    for i, b in enumerate(blobs):
        n = 2 if i == 0 else rng.randint(1, 4)
        copies = [fresh(rng.choice(["jpg", "txt", "mp3", "pdf"])) for _ in range(n)]
        for c in copies:
            files[c] = b
        groups.append(sorted(copies, key=lambda s: s.encode()))
    # same size, different content: must not be merged
    decoy_src = rng.choice(blobs)
    decoy = fresh("txt")
    files[decoy] = ("X" if decoy_src[0] != "X" else "Y") + decoy_src[1:]
    groups.append([decoy])
    # empty files are never linked
    for _ in range(2):
        files[fresh("tmp")] = ""
    # one duplicate pair is already hard-linked (made at build time)
    # (a pair nothing else links to: on overlayfs a later link to a lower-layer file copies it
    # up and would split an existing hard link)
    linked = rng.choice([g for g in groups if len(g) == 2])
    pre = (linked[0], linked[1])
    root = "/srv/media/library"
    script = ["#!/bin/bash", "set -e", f"ln -f '{root}/{pre[0]}' '{root}/{pre[1]}'"]
    report = []
    for g in groups:
        for dup in g[1:]:
            if (g[0], dup) != pre:
                report.append(f"{root}/{g[0]}\t{root}/{dup}")
    report.sort(key=lambda s: s.encode())
    out = {f"environment/rootfs/srv/media/library/{k}": v for k, v in files.items()}
    out["environment/rootfs/tmp/build/link.sh"] = "\n".join(script) + "\n"
    out["tests/expected.json"] = json.dumps({
        "groups": [[f"{root}/{p}" for p in g] for g in groups],
        "empty": sorted(f"{root}/{k}" for k, v in files.items() if not v),
        "contents": {f"{root}/{k}": v for k, v in files.items()},
        "report": report}, indent=1) + "\n"
    return out
