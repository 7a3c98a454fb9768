"""A CRM export (CSV + per-customer documents), deletion requests, and the expected result."""
import json
import string

FIRST = "ada alan alice amir ana bruno carla chen diego elena emma farah finn grace hana".split()
LAST = "silva smith khan novak rossi tanaka dubois müller okafor larsen".split()


def generate(rng):
    ids = sorted(rng.sample(range(1000, 9999), rng.randint(12, 20)))
    rows = [("id", "name", "email", "country")]
    docs = {}
    for i in ids:
        f, l = rng.choice(FIRST), rng.choice(LAST)
        rows.append((str(i), f"{f.title()} {l.title()}", f"{f}.{l}@example.org", rng.choice(["PT", "DE", "JP", "NG", "BR"])))
        if rng.random() < 0.6:
            docs[f"docs/{i}/contract.txt"] = f"contract of customer {i}\n"
    deleted = sorted(rng.sample(ids, rng.randint(2, 4)))
    if not any(f"docs/{d}/contract.txt" in docs for d in deleted):
        docs[f"docs/{deleted[0]}/contract.txt"] = f"contract of customer {deleted[0]}\n"
    csv_text = "".join(",".join(r) + "\n" for r in rows)
    keep_rows = [rows[0]] + [r for r in rows[1:] if int(r[0]) not in deleted]
    out = {"environment/rootfs/tmp/build/export/customers.csv": csv_text}
    for k, v in docs.items():
        out[f"environment/rootfs/tmp/build/export/{k}"] = v
    alphabet = string.ascii_letters + string.digits
    out["environment/rootfs/root/.vault/old.pass"] = "".join(rng.choice(alphabet) for _ in range(24)) + "\n"
    out["environment/rootfs/root/.vault/new.pass"] = "".join(rng.choice(alphabet) for _ in range(32)) + "\n"
    out["environment/rootfs/srv/vault/gdpr_deletions.txt"] = (
        "# customer ids that asked to be forgotten\n" + "".join(f"{d}\n" for d in deleted))
    out["tests/expected.json"] = json.dumps({
        "csv": "".join(",".join(r) + "\n" for r in keep_rows),
        "docs": sorted(k for k in docs if int(k.split("/")[1]) not in deleted),
        "deleted": deleted}, indent=1) + "\n"
    return out
