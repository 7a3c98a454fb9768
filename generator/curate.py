"""`termforge curate`: filter, deduplicate, decontaminate and balance trajectory records.

Every filter is counted. Input: collect run directories (trajectories/*.jsonl) or JSONL files of
records; output: OUT/curated.jsonl (written atomically) and OUT/report.json.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from termforge.errors import ConfigError
from termforge.executor.agent import parse_response
from termforge.generator.dedupe import Decontaminator, NearDupIndex
from termforge.generator.filters import privileged_reasons
from termforge.records import RecordError, TrajectoryRecord
from termforge.ui import atomic_write_json

FILTERS = ("failed", "malformed", "privileged", "nonsense", "over_length", "duplicate",
           "near_duplicate", "contaminated", "balanced_out")


@dataclass(frozen=True)
class CurateOptions:
    keep_failed: bool = False
    max_parse_errors: int = 0            # malformed assistant turns tolerated per trajectory
    max_tokens: int = 32768
    chars_per_token: float = 3.5         # estimate when records carry no n_tokens and no tokenizer
    garbage_ratio: float = 0.1           # share of non-printable characters in an observation
    repeat_ratio: float = 0.9            # share of one repeated line in a long observation
    near_dup_threshold: float = 0.9
    balance: str | None = None           # None | "uniform" | path to a JSON/YAML {key: weight}
    balance_by: str = "category"         # category | skill
    balance_slack: float = 1.5           # a key may hold up to slack × its target share
    seed: int = 0
    decontaminate: tuple[Path, ...] = ()


def iter_records(inputs: Iterable[str | Path]) -> Iterator[TrajectoryRecord]:
    """Records from JSONL files, or directories of them (recursively), in a stable order."""
    files: list[Path] = []
    for p in map(Path, inputs):
        if p.is_dir():
            found = sorted(p.rglob("*.jsonl"))
            found = [f for f in found if f.name != "index.jsonl"]
            if not found:
                raise ConfigError(f"{p}: holds no .jsonl trajectory files")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise ConfigError(f"{p}: no such file or directory")
    for f in files:
        with open(f, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        yield TrajectoryRecord.from_json(line, where=f"{f}:{n}")
                    except RecordError as exc:
                        raise ConfigError(str(exc)) from None


def assistant_turns(rec: TrajectoryRecord) -> list[str]:
    return [m["content"] for m in rec.messages if m["role"] == "assistant"]


def keystrokes(rec: TrajectoryRecord) -> str:
    out = []
    for text in assistant_turns(rec):
        turn, _, _ = parse_response(text)
        if turn:
            out.extend(c.keystrokes for c in turn.commands)
    return "\n".join(out)


def count_parse_errors(rec: TrajectoryRecord) -> int:
    return sum(parse_response(t)[0] is None for t in assistant_turns(rec))


def is_nonsense(rec: TrajectoryRecord, opts: CurateOptions) -> str | None:
    for m in rec.messages[2:]:
        if m["role"] != "user":
            continue
        text = m["content"]
        if not text:
            continue
        bad = sum(1 for c in text if (ord(c) < 32 and c not in "\n\t\r") or c == "\ufffd")
        if bad / len(text) > opts.garbage_ratio:
            return f"binary garbage ({bad / len(text):.0%} non-printable)"
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if len(lines) >= 50:
            top = Counter(lines).most_common(1)[0][1]
            if top / len(lines) > opts.repeat_ratio:
                return f"one line repeated {top} times"
    return None


def token_count(rec: TrajectoryRecord, opts: CurateOptions, tokenizer=None) -> int:
    if rec.n_tokens:
        return rec.n_tokens
    text = "".join(m["content"] for m in rec.messages)
    if tokenizer is not None:
        return len(tokenizer.encode(text).ids)
    return math.ceil(len(text) / opts.chars_per_token)


def balance_key(rec: TrajectoryRecord, by: str) -> str:
    if by == "skill":
        return rec.skills[0] if rec.skills else "(none)"
    return rec.domain or (rec.skills[0].split(".")[0] if rec.skills else "(none)")


def load_targets(spec: str, keys: list[str]) -> dict[str, float]:
    if spec == "uniform":
        return {k: 1.0 / len(keys) for k in keys}
    path = Path(spec)
    if not path.is_file():
        raise ConfigError(f"--balance {spec}: expected 'uniform' or a JSON/YAML file of weights")
    import yaml

    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML/JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict) or not all(isinstance(v, (int, float)) and v >= 0 for v in raw.values()):
        raise ConfigError(f"{path}: expected a mapping of key -> non-negative weight")
    total = sum(raw.values()) or 1.0
    return {str(k): float(v) / total for k, v in raw.items()}


def balance(records: list[TrajectoryRecord], opts: CurateOptions) -> tuple[list[TrajectoryRecord], dict]:
    """Down-sample keys above slack × target share; report those below half their share."""
    groups: dict[str, list[TrajectoryRecord]] = {}
    for r in records:
        groups.setdefault(balance_key(r, opts.balance_by), []).append(r)
    targets = load_targets(opts.balance, sorted(groups))
    total = len(records)
    rng = random.Random(opts.seed)
    kept: list[TrajectoryRecord] = []
    report: dict[str, Any] = {"targets": targets, "capped": {}, "under_represented": {}}
    for key in sorted(groups):
        group = groups[key]
        share = targets.get(key, 0.0)
        cap = max(1, math.ceil(opts.balance_slack * share * total)) if share > 0 else 0
        if len(group) > cap:
            report["capped"][key] = {"had": len(group), "kept": cap}
            group = rng.sample(group, cap)
        kept.extend(group)
    final = Counter(balance_key(r, opts.balance_by) for r in kept)
    for key, share in targets.items():
        if final.get(key, 0) < 0.5 * share * len(kept):
            report["under_represented"][key] = {"have": final.get(key, 0),
                                                "target": round(share * len(kept), 1)}
    order = {id(r): i for i, r in enumerate(records)}
    kept.sort(key=lambda r: order[id(r)])
    return kept, report


def curate(inputs: list[str | Path], out: str | Path, opts: CurateOptions = CurateOptions(), *,
           tokenizer=None) -> dict[str, Any]:
    out = Path(out)
    decon = Decontaminator()
    if opts.decontaminate:
        from termforge.generator.pipeline import load_decontaminator

        decon = load_decontaminator(opts.decontaminate)
    counts: Counter = Counter()
    examples: dict[str, list[str]] = {}
    exact: set[str] = set()
    near = NearDupIndex(threshold=opts.near_dup_threshold)
    kept: list[TrajectoryRecord] = []
    before: Counter = Counter()

    def drop(reason: str, rec: TrajectoryRecord, detail: str = "") -> None:
        counts[reason] += 1
        ex = examples.setdefault(reason, [])
        if len(ex) < 5:
            ex.append(f"{rec.trajectory_id} {detail}".strip())

    for rec in iter_records(inputs):
        counts["input"] += 1
        before[balance_key(rec, opts.balance_by)] += 1
        if rec.reward < 1.0 and not opts.keep_failed:
            drop("failed", rec, f"reward {rec.reward:g}")
            continue
        errs = count_parse_errors(rec)
        if errs > opts.max_parse_errors:
            drop("malformed", rec, f"{errs} malformed turns")
            continue
        keys = keystrokes(rec)
        bad = privileged_reasons(keys)
        if bad:
            drop("privileged", rec, ", ".join(bad))
            continue
        why = is_nonsense(rec, opts)
        if why:
            drop("nonsense", rec, why)
            continue
        n_tok = token_count(rec, opts, tokenizer)
        if n_tok > opts.max_tokens:
            drop("over_length", rec, f"{n_tok} tokens")
            continue
        first_user = next((m["content"] for m in rec.messages if m["role"] == "user"), "")
        hit, overlap = decon.check(first_user)
        if hit:
            drop("contaminated", rec, f"{overlap:.0%} shared with {hit}")
            continue
        digest = hashlib.sha256("\x00".join(assistant_turns(rec)).encode()).hexdigest()
        if digest in exact:
            drop("duplicate", rec)
            continue
        exact.add(digest)
        text = rec.task_id + "\n" + keys
        dup, sim = near.find(text)
        if dup:
            drop("near_duplicate", rec, f"{sim:.2f} with {dup}")
            continue
        near.add(rec.trajectory_id, text)
        kept.append(rec)

    balance_report: dict[str, Any] = {}
    if opts.balance:
        n = len(kept)
        kept, balance_report = balance(kept, opts)
        counts["balanced_out"] = n - len(kept)
    out.mkdir(parents=True, exist_ok=True)
    from termforge.ui import atomic_write_text

    atomic_write_text(out / "curated.jsonl", "".join(r.to_json() + "\n" for r in kept))
    report = {
        "input": counts["input"], "kept": len(kept),
        "dropped": {f: counts[f] for f in FILTERS if counts[f]},
        "examples": examples,
        "histogram_before": dict(sorted(before.items())),
        "histogram_after": dict(sorted(Counter(balance_key(r, opts.balance_by) for r in kept).items())),
        "balance": balance_report,
        "options": {k: (str(v) if isinstance(v, (Path, tuple)) else v) for k, v in opts.__dict__.items()},
    }
    atomic_write_json(out / "report.json", report)
    return report
