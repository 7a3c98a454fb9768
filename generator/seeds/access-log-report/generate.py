"""Rotated nginx access logs (one gzipped) with latencies, junk lines, and the expected stats."""
import gzip
import json
import math

PATHS = ["/", "/api/orders", "/api/cart", "/api/login", "/static/app.js", "/api/search",
         "/health", "/api/products", "/checkout", "/api/users/me"]
UAS = ["Mozilla/5.0 (X11; Linux x86_64)", "curl/8.4.0", "Go-http-client/1.1", "kube-probe/1.29"]
METHODS = ["GET", "GET", "GET", "POST", "PUT", "DELETE"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun"]


def generate(rng):
    paths = rng.sample(PATHS, rng.randint(5, 8))
    weights = [rng.randint(1, 10) for _ in paths]
    err_rate = {p: rng.choice([0, 0, 0.02, 0.1, 0.3]) for p in paths}
    slow = {p: rng.uniform(0.005, 0.8) for p in paths}
    month = rng.choice(MONTHS)
    files, stats = [], {}
    for day in (1, 2, 3):
        lines = []
        for _ in range(rng.randint(60, 140)):
            p = rng.choices(paths, weights)[0]
            target = p + (f"?id={rng.randint(1, 500)}" if rng.random() < 0.3 else "")
            status = rng.choice([500, 502, 503]) if rng.random() < err_rate[p] else \
                rng.choice([200, 200, 200, 201, 204, 301, 304, 400, 404])
            rt = round(rng.expovariate(1 / slow[p]), 3)
            ip = rng.choice([f"10.0.{rng.randint(0, 9)}.{rng.randint(1, 254)}", "2001:db8::1", "192.168.1.7"])
            user = rng.choice(["-", "-", "alice", "svc-batch"])
            ts = f"{day:02d}/{month}/2024:{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d} +0000"
            lines.append(f'{ip} - {user} [{ts}] "{rng.choice(METHODS)} {target} HTTP/1.1" {status} '
                         f'{rng.randint(0, 50000)} "-" "{rng.choice(UAS)}" {rt:.3f}')
            s = stats.setdefault(p, {"n": 0, "err": 0, "times": []})
            s["n"] += 1
            s["err"] += status >= 500
            s["times"].append(rt)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(lines))
            lines.insert(i, rng.choice(['10.0.0.1 - - [01/Jan/2024:00:00:01 +0000] "GET /trunc',
                                        "", "-- log reopened --", "\\x16\\x03\\x01 garbage"]))
        files.append("".join(ln + "\n" for ln in lines))
    rows = []
    for p, s in stats.items():
        t = sorted(s["times"])
        p95 = t[math.ceil(0.95 * len(t)) - 1]
        rows.append((p, s["n"], "%.1f" % (100 * s["err"] / s["n"]), "%.3f" % p95))
    rows.sort(key=lambda r: (-r[1], r[0]))
    tsv = "endpoint\trequests\terror_pct\tp95\n" + "".join(f"{p}\t{n}\t{e}\t{q}\n" for p, n, e, q in rows)
    return {
        "environment/rootfs/var/log/nginx/access.log.2.gz": gzip.compress(files[0].encode(), mtime=0),
        "environment/rootfs/var/log/nginx/access.log.1": files[1],
        "environment/rootfs/var/log/nginx/access.log": files[2],
        "tests/expected.tsv": tsv,
    }
