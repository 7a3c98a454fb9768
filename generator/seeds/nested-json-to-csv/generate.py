"""Nested JSON records, and the CSV the converter must print for them (reference flattener)."""
import csv
import io
import json

NAMES = ["Ana Souza", "Björn Åkesson", "Chen Wei", "Dana \"DJ\" Jones", "Émile Zola", "Farah Khan",
         "Goro, Jr.", "Hana Novak", "Ivan Petrov", "Jalapeño Ltd", "Kai Müller", "Lina Haddad"]
CITIES = ["Lisbon", "Oslo", "Kyoto", "São Paulo", "Zürich", "Cairo", "New York, NY"]
TAGS = ["vip", "new", "churn-risk", "b2b", "trial", "beta", "eu"]
SKUS = ["A-100", "B-220", "C-310", "D-404", "E-555"]


def flatten(value, prefix, out):
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(v, f"{prefix}.{k}" if prefix else k, out)
    elif isinstance(value, list):
        if any(isinstance(v, (dict, list)) for v in value):
            for i, v in enumerate(value):
                flatten(v, f"{prefix}.{i}", out)
        else:
            out[prefix] = ";".join(scalar(v) for v in value)
    else:
        out[prefix] = scalar(value)


def scalar(v):
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    return str(v)


def to_csv(records):
    rows = []
    for r in records:
        flat = {}
        flatten(r, "", flat)
        rows.append(flat)
    cols = sorted({c for r in rows for c in r})
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([r.get(c, "") for c in cols])
    return buf.getvalue()


def record(rng, i, keys):
    r = {keys["id"]: 1000 + i * rng.randint(1, 9), "name": rng.choice(NAMES)}
    if rng.random() < 0.8:
        addr = {"city": rng.choice(CITIES)}
        if rng.random() < 0.6:
            addr["geo"] = {"lat": round(rng.uniform(-60, 60), 2), "lng": round(rng.uniform(-170, 170), 2)}
        if rng.random() < 0.3:
            addr["zip"] = None
        r[keys["address"]] = addr
    if rng.random() < 0.85:
        r["tags"] = rng.sample(TAGS, rng.randint(0, 3))
    r["active"] = rng.random() < 0.6
    if rng.random() < 0.7:
        r[keys["orders"]] = [{"sku": rng.choice(SKUS), "qty": rng.randint(1, 12),
                              "price": round(rng.randint(100, 9999) / 100, 2)}
                             for _ in range(rng.randint(0, 3))]
    if rng.random() < 0.3:
        r["manager"] = None
    if rng.random() < 0.2:
        r["meta"] = {}
    return r


def generate(rng):
    keys = {"id": rng.choice(["id", "customer_id", "account_id"]),
            "address": rng.choice(["address", "location", "shipping"]),
            "orders": rng.choice(["orders", "items", "lines"])}
    out = {}
    sample = [record(rng, i, keys) for i in range(4)]
    out["environment/rootfs/app/tools/examples/sample.json"] = json.dumps(sample, indent=2, ensure_ascii=False) + "\n"
    out["environment/rootfs/app/tools/examples/sample.csv"] = to_csv(sample)
    for case in range(3):
        recs = [record(rng, i, keys) for i in range(rng.randint(3, 12))]
        out[f"tests/inputs/case{case}.json"] = json.dumps(recs, indent=rng.choice([None, 2]), ensure_ascii=rng.random() < 0.5) + "\n"
        out[f"tests/expected/case{case}.csv"] = to_csv(recs)
    edge = [{"a": {"b": {"c": []}}, "z": [[1, 2], [3]]}, {"a": {"b": {"c": [None, True]}}}]
    out["tests/inputs/edge.json"] = json.dumps(edge) + "\n"
    out["tests/expected/edge.csv"] = to_csv(edge)
    return out
