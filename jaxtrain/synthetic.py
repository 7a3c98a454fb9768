"""Synthetic Terminus-2 style trajectories, a shard set and a tokenizer for smoke tests and benchmarks.

    make_corpus(dir, n_records=64, seed=0)  ->  {"shards": dir/shards, "eval": dir/eval, "tokenizer": dir/tok}

The records follow the trajectory schema (DESIGN §4): a system prompt, a task instruction, then
1-4 assistant turns (JSON with analysis/plan/commands/task_complete) each followed by a terminal
observation. Lengths vary so that packing has something to do.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

from termforge.records import TrajectoryRecord

_CMDS = ["ls -la", "cat notes.txt", "grep -rn TODO src", "python3 -m pytest -q", "tar czf out.tgz data",
         "find . -name '*.log' -delete", "sed -i 's/a/b/' f.txt", "wc -l *.csv", "git log --oneline | head",
         "chmod +x run.sh && ./run.sh", "sort -u names.txt > uniq.txt", "jq '.items[]' data.json"]
_WORDS = ("the file list shows a config directory with two scripts and a broken symlink that the task "
          "asks to repair before running the tests which currently fail on import").split()


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n))


def synthetic_record(i: int, seed: int = 0, *, turns: int | None = None) -> TrajectoryRecord:
    rng = random.Random(f"{seed}:{i}")
    turns = turns or rng.choice([1, 1, 2, 3, 4])
    msgs = [{"role": "system", "content": "You are a terminal agent. Answer with JSON."},
            {"role": "user", "content": f"Task {i}: " + _sentence(rng, rng.randint(5, 30))}]
    for t in range(turns):
        cmds = [{"keystrokes": rng.choice(_CMDS) + "\n", "duration": 1.0} for _ in range(rng.randint(1, 3))]
        answer = {"analysis": _sentence(rng, rng.randint(3, 25)), "plan": _sentence(rng, rng.randint(2, 12)),
                  "commands": cmds, "task_complete": t == turns - 1}
        msgs.append({"role": "assistant", "content": json.dumps(answer)})
        if t < turns - 1:
            msgs.append({"role": "user", "content": "New Terminal Output:\n" + "\n".join(
                f"line {k}: {_sentence(rng, rng.randint(2, 8))}" for k in range(rng.randint(1, 6)))})
    return TrajectoryRecord(trajectory_id=f"syn-{seed}-{i}", task_id=f"task-{i % 17}", task_group_id=f"g{i % 5}",
                            messages=msgs, source="seed", skills=["files"], reward=1.0,
                            created="2026-01-01T00:00:00+00:00")


def make_corpus(out_dir: str | os.PathLike, *, n_records: int = 64, n_eval: int = 16, seed: int = 0,
                vocab_size: int = 512, num_shards: int = 2) -> dict[str, str]:
    """Write a training shard set, a held-out shard set and a tokenizer trained on them."""
    from termforge.jaxtrain.tokenizer import train_tokenizer
    from termforge.shards import write_shards

    out = Path(out_dir)
    train = [synthetic_record(i, seed) for i in range(n_records)]
    held = [synthetic_record(10_000 + i, seed) for i in range(n_eval)]
    write_shards(train, out / "shards", num_shards, seed=seed)
    write_shards(held, out / "eval", 1, seed=seed)
    texts = [m["content"] for r in train for m in r.messages]
    train_tokenizer(texts=texts, vocab_size=vocab_size, out_dir=out / "tok")
    return {"shards": str(out / "shards"), "eval": str(out / "eval"), "tokenizer": str(out / "tok")}
