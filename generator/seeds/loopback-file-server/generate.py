"""Files of the public download area, including hidden ones that must never be served."""
import json

WORDS = "readme changelog license notes manual faq release install guide index".split()


def generate(rng):
    files = {}
    for w in rng.sample(WORDS, rng.randint(3, 5)):
        files[f"{w}.txt"] = f"{w} v{rng.randint(1, 9)}.{rng.randint(0, 20)}\n" * rng.randint(1, 4)
    sub = rng.choice(["docs", "releases", "downloads"])
    for w in rng.sample(WORDS, 2):
        files[f"{sub}/{w}-{rng.randint(1, 99)}.md"] = f"# {w}\n\nchecksum {rng.getrandbits(48):x}\n"
    files[f"{sub}/release notes {rng.randint(2020, 2024)}.txt"] = "spaces in the name\n"
    hidden = {".env": f"TOKEN={rng.getrandbits(64):x}\n",
              f"{sub}/.htpasswd": f"admin:{rng.getrandbits(64):x}\n",
              f"{sub}/.git/config": "[core]\n"}
    out = {f"environment/rootfs/srv/pub/public/{k}": v for k, v in {**files, **hidden}.items()}
    out["tests/expected.json"] = json.dumps({"files": files, "hidden": sorted(hidden)}, indent=1) + "\n"
    return out
