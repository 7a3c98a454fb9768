"""A tar.gz split into unpadded numbered parts, some damaged in transit, a partial mirror."""
import gzip
import hashlib
import io
import json
import tarfile


def sha(b):
    return hashlib.sha256(b).hexdigest()


def generate(rng):
    members = {}
    for i in range(rng.randint(3, 6)):
        name = f"export/{rng.choice(['readings', 'samples', 'frames', 'events'])}_{i:02d}.bin"
        members[name] = bytes(rng.getrandbits(8) for _ in range(rng.randint(1500, 3000)))
    members["export/MANIFEST.txt"] = "".join(f"{sha(b)}  {n}\n" for n, b in sorted(members.items())).encode()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in ["export"]:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1700000000
            tar.addfile(info)
        for name, data in sorted(members.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1700000000
            tar.addfile(info, io.BytesIO(data))
    archive = gzip.compress(raw.getvalue(), mtime=0)
    n_parts = rng.randint(10, 15)  # more than 9: `cat part-*` would put part-10 before part-2
    size = -(-len(archive) // n_parts)
    parts = [archive[i:i + size] for i in range(0, len(archive), size)]
    names = [f"dataset.tar.gz.part-{i}" for i in range(1, len(parts) + 1)]
    sums = [f"{sha(archive)}  dataset.tar.gz"] + [f"{sha(p)}  {n}" for n, p in zip(names, parts)]
    idx = list(range(len(parts)))
    bad = sorted(rng.sample(idx, rng.randint(1, 2)))
    out = {"environment/rootfs/srv/transfer/incoming/SHA256SUMS": "\n".join(sums) + "\n"}
    for i, (n, p) in enumerate(zip(names, parts)):
        data = bytearray(p)
        if i in bad:
            if rng.random() < 0.5:
                pos = rng.randrange(len(data))
                data[pos] ^= 0x5A
            else:
                del data[-rng.randint(1, 200):]  # truncated download
        out[f"environment/rootfs/srv/transfer/incoming/{n}"] = bytes(data)
    mirror = set(bad) | set(rng.sample(idx, min(len(idx), 3)))
    decoy = rng.choice([i for i in idx if i not in bad])
    mirror.add(decoy)
    for i in sorted(mirror):
        data = bytearray(parts[i])
        if i == decoy:
            data[rng.randrange(len(data))] ^= 0xFF
        out[f"environment/rootfs/srv/transfer/mirror/{names[i]}"] = bytes(data)
    out["tests/expected.json"] = json.dumps({
        "bad_parts": [names[i] for i in bad],
        "archive_sha256": sha(archive),
        "members": {n: sha(b) for n, b in sorted(members.items())},
    }, indent=1) + "\n"
    return out
