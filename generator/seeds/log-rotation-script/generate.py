"""Log files of the checkout service with earlier rotations, and their contents for the tests."""
import json

LEVELS = ["INFO", "INFO", "INFO", "WARN", "ERROR", "DEBUG"]
EVENTS = ["order placed", "payment authorised", "cart updated", "retrying upstream",
          "session expired", "refund queued", "inventory sync", "webhook delivered"]


def lines(rng, day, n):
    return "".join(f"2024-05-{day:02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d} "
                   f"{rng.choice(LEVELS)} {rng.choice(EVENTS)} id={rng.randint(1000, 9999)}\n" for _ in range(n))


def generate(rng):
    names = rng.sample(["api", "worker", "payments", "frontend", "scheduler"], 2)
    main, other = names
    contents = {
        f"{main}.log": lines(rng, 20, rng.randint(3, 9)),
        f"{main}.log.1": lines(rng, 19, rng.randint(3, 9)),
        f"{main}.log.2": lines(rng, 18, rng.randint(3, 9)),
        f"{main}.log.3": lines(rng, 17, rng.randint(3, 9)),
        f"{other}.log": lines(rng, 20, rng.randint(3, 9)),
    }
    out = {f"environment/rootfs/tmp/build/logs/{k}": v for k, v in contents.items()}
    out["tests/originals.json"] = json.dumps({"main": main, "other": other, "empty": "audit",
                                              "contents": contents}, indent=1) + "\n"
    return out
