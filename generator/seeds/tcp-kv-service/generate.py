"""Initial key/value data for the service (values with spaces and unicode)."""
import json

KEYS = "region currency motd owner build feature.flags max_conn banner timezone locale tier".split()
VALUES = ["eu-west-1", "EUR", "Welcome to the staging cluster", "platform team", "2024.05.1",
          "search=on checkout=off", "512", "Hello, wörld", "Europe/Lisbon", "pt_PT.UTF-8", "gold"]


def generate(rng):
    keys = rng.sample(KEYS, rng.randint(5, 9))
    data = {k: rng.choice(VALUES) for k in keys}
    return {
        "environment/rootfs/srv/kv/data.tsv": "".join(f"{k}\t{v}\n" for k, v in data.items()),
        "tests/initial.json": json.dumps(data, indent=1, ensure_ascii=False) + "\n",
    }
