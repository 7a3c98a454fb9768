"""A phone-upload inbox with dated names in several styles, collisions and duplicates."""
import json
import re

DATE = re.compile(r"(20\d{2})-?(0[1-9]|1[0-2])-?(0[1-9]|[12][0-9]|3[01])")


def dest_dir(name):
    m = DATE.search(name)
    return f"{m.group(1)}/{m.group(2)}" if m else "unsorted"


def generate(rng):
    def d():
        return rng.randint(2021, 2024), rng.randint(1, 12), rng.randint(1, 28)

    def t():
        return rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)

    names = set()
    for _ in range(rng.randint(10, 16)):
        (y, m, dd), (h, mi, s) = d(), t()
        style = rng.randrange(7)
        if style == 0:
            n = f"IMG_{y}{m:02d}{dd:02d}_{h:02d}{mi:02d}{s:02d}.jpg"
        elif style == 1:
            n = f"VID_{y}{m:02d}{dd:02d}_{h:02d}{mi:02d}{s:02d}.mp4"
        elif style == 2:
            n = f"PXL_{y}{m:02d}{dd:02d}_{h:02d}{mi:02d}{s:02d}{rng.randint(100, 999)}.jpg"
        elif style == 3:
            n = f"Screenshot {y}-{m:02d}-{dd:02d} at {h:02d}.{mi:02d}.{s:02d}.png"
        elif style == 4:
            n = f"WhatsApp Image {y}-{m:02d}-{dd:02d} at {h:02d}.{mi:02d}.{s:02d}.jpeg"
        elif style == 5:
            n = rng.choice(["IMG_4711.jpg", "holiday.jpg", "scan 13.pdf", f"report_{y}13{dd:02d}.pdf"])
        else:
            n = f"{rng.choice(['beach', 'party', 'cat'])}_{y}-{m:02d}-{dd:02d}.heic"
        names.add(n)
    inbox = {n: f"<{n} bytes {rng.getrandbits(32):x}>\n" for n in sorted(names)}
    library = {}
    dated = [n for n in inbox if dest_dir(n) != "unsorted"]
    # a name collision with different content, a true duplicate, and a collision chain
    a, b = rng.sample(dated, 2)
    library[f"{dest_dir(a)}/{a}"] = "older, different photo\n"
    library[f"{dest_dir(b)}/{b}"] = inbox[b]
    stem, dot, ext = a.rpartition(".")
    if rng.random() < 0.5:
        library[f"{dest_dir(a)}/{stem}-1.{ext}"] = "another different photo\n"
    library["2020/01/IMG_20200101_000000.jpg"] = "already filed\n"
    inbox[".DS_Store"] = "junk\n"
    # simulate the import
    final = dict(library)
    log = []
    for n in sorted(k for k in inbox if not k.startswith(".")):
        ddir = dest_dir(n)
        stem, dot, ext = n.rpartition(".")
        candidates = [n] + [f"{stem}-{i}.{ext}" for i in range(1, 20)]
        existing = [c for c in candidates if f"{ddir}/{c}" in final]
        if any(final[f"{ddir}/{c}"] == inbox[n] for c in existing):
            log.append(f"{n} -> duplicate")
            continue
        target = next(c for c in candidates if f"{ddir}/{c}" not in final)
        final[f"{ddir}/{target}"] = inbox[n]
        log.append(f"{n} -> {ddir}/{target}")
    log.sort(key=lambda s: s.encode())
    out = {f"environment/rootfs/srv/inbox/{k}": v for k, v in inbox.items()}
    out.update({f"environment/rootfs/srv/photos/{k}": v for k, v in library.items()})
    out["tests/expected.json"] = json.dumps({"tree": final, "log": log}, indent=1) + "\n"
    return out
