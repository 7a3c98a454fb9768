"""Fresh /srv/appdata trees: names with spaces, .tmp files at any depth, a nested cache/ to keep."""
import json

WORDS = ("orders ledger invoices notes photos exports reports uploads assets mail "
         "contracts drafts archive tickets metrics people").split()


def generate(rng):
    files = {}
    tops = rng.sample(WORDS, 4) + ["shared docs"]
    expected = []
    for top in tops:
        for i in range(rng.randint(2, 5)):
            stem = rng.choice(WORDS) + ("_%03d" % rng.randint(1, 999))
            if rng.random() < 0.3:
                stem = stem.replace("_", " ")
            ext = rng.choice(["csv", "txt", "json", "md"])
            rel = f"{top}/{stem}.{ext}"
            if any(e == rel for e in expected):
                continue
            files[rel] = f"{top} {stem} {rng.randint(1, 10**6)}\n"
            expected.append(rel)
        files[f"{top}/partial {rng.randint(1, 99)}.tmp"] = "scratch\n"
    nested = f"{rng.choice(tops)}/cache/{rng.choice(WORDS)}.db"
    files[nested] = "kept: nested cache is data\n"
    expected.append(nested)
    for i in range(rng.randint(2, 4)):
        files[f"cache/blob{i}.bin"] = "x" * rng.randint(10, 200) + "\n"
    files["top level.txt"] = "readme\n"
    expected.append("top level.txt")
    files["session.tmp"] = "tmp\n"
    out = {f"environment/rootfs/srv/appdata/{rel}": c for rel, c in files.items()}
    out["tests/expected_members.json"] = json.dumps(sorted(expected), indent=1) + "\n"
    return out
