"""Evaluation statistics: success rate with standard error and bootstrap interval, unbiased pass@k,
breakdowns by category and difficulty, failure causes, and paired comparison of two runs.

Conventions (also written into every report):
- A trial's reward is the verifier's float; it *passes* when the reward is 1.0.
- Trials with cause "needs_network" are excluded from every rate (the sandbox is offline; the
  task could not be scored). All other trials count, infrastructure errors included (as 0).
- `success` is the mean over tasks of each task's mean reward (equal to the mean over trials when
  every task has the same number of attempts). `stderr` is the standard error of that mean across
  tasks (sample standard deviation, ddof=1, over sqrt(n_tasks)), so repeated attempts of one task
  are not counted as independent evidence. `ci95` is a percentile bootstrap over tasks
  (10,000 resamples, numpy default_rng(seed=0)).
- pass@k (Chen et al. 2021): per task with n attempts of which c pass,
  1 - C(n-c, k) / C(n, k), averaged over the tasks with n >= k.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Any, Iterable, Sequence

import numpy as np

CAUSES = ("passed", "wrong_result", "never_completed", "parse_errors", "timeout", "needs_network",
          "infrastructure_error")
EXCLUDED_CAUSES = ("needs_network",)
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimator of pass@k from n samples with c correct (Chen et al. 2021)."""
    if k < 1 or n < k:
        raise ValueError(f"pass@k needs 1 <= k <= n (got n={n}, k={k})")
    if c < 0 or c > n:
        raise ValueError(f"need 0 <= c <= n (got n={n}, c={c})")
    if n - c < k:
        return 1.0
    # 1 - prod_{i=n-c+1}^{n} (1 - k/i), the numerically stable form
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def mean_stderr(values: Sequence[float]) -> tuple[float | None, float | None]:
    if len(values) == 0:
        return None, None
    arr = np.asarray(values, dtype=float)
    mean = float(arr.mean())
    if len(arr) < 2:
        return mean, None
    return mean, float(arr.std(ddof=1) / math.sqrt(len(arr)))


def bootstrap_ci(values: Sequence[float], *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                 level: float = 0.95) -> list[float] | None:
    """Percentile bootstrap interval of the mean of `values` (resampling the values)."""
    if len(values) == 0:
        return None
    arr = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(arr), size=(resamples, len(arr)))
    means = arr[idx].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return [float(lo), float(hi)]


def _by_task(entries: Iterable[dict]) -> dict[str, list[dict]]:
    tasks: dict[str, list[dict]] = defaultdict(list)
    for e in entries:
        tasks[e["task"]].append(e)
    return dict(sorted(tasks.items()))


def counted(entries: Iterable[dict]) -> list[dict]:
    return [e for e in entries if e.get("cause") not in EXCLUDED_CAUSES]


def reward_value(e: dict) -> float:
    r = e.get("reward")
    return float(r) if isinstance(r, (int, float)) else 0.0


def is_pass(e: dict) -> bool:
    return e.get("reward") == 1.0


def task_scores(entries: Iterable[dict]) -> dict[str, float]:
    """Mean reward per task over its counted trials (tasks with none are absent)."""
    return {t: float(np.mean([reward_value(e) for e in es])) for t, es in _by_task(counted(entries)).items()}


def success_summary(entries: Sequence[dict], *, seed: int = BOOTSTRAP_SEED) -> dict[str, Any]:
    used = counted(entries)
    per_task = task_scores(used)
    success, stderr = mean_stderr(list(per_task.values()))
    return {"success": success, "stderr": stderr,
            "ci95": bootstrap_ci(list(per_task.values()), seed=seed),
            "n_trials": len(used), "n_tasks": len(per_task),
            "n_passed": sum(is_pass(e) for e in used)}


def pass_at_k_table(entries: Sequence[dict], max_k: int | None = None) -> dict[str, float]:
    """{"1": ..., "2": ...} for k up to the largest attempt count (tasks with fewer trials skip a k)."""
    groups = _by_task(counted(entries))
    if not groups:
        return {}
    kmax = max(len(es) for es in groups.values())
    if max_k is not None:
        kmax = min(kmax, max_k)
    out: dict[str, float] = {}
    for k in range(1, kmax + 1):
        vals = [pass_at_k(len(es), sum(is_pass(e) for e in es), k) for es in groups.values() if len(es) >= k]
        if vals:
            out[str(k)] = float(np.mean(vals))
    return out


def breakdown(entries: Sequence[dict], key: str, *, seed: int = BOOTSTRAP_SEED) -> list[dict[str, Any]]:
    """Rows per value of `key` (category, difficulty): success, stderr, ci95, pass@k, counts."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for e in entries:
        groups[str(e.get(key) or "unknown")].append(e)
    rows = []
    for name, es in sorted(groups.items()):
        s = success_summary(es, seed=seed)
        rows.append({key: name, **s, "pass_at_k": pass_at_k_table(es),
                     "excluded": len(es) - s["n_trials"]})
    return rows


def _dist(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    arr = np.asarray(values, dtype=float)
    return {"mean": float(arr.mean()), "median": float(np.median(arr)), "min": float(arr.min()),
            "max": float(arr.max()), "total": float(arr.sum())}


def episode_stats(entries: Sequence[dict]) -> dict[str, Any]:
    turns = [e["turns"] for e in entries if isinstance(e.get("turns"), int)]
    prompt = [e["prompt_tokens"] for e in entries if isinstance(e.get("prompt_tokens"), int)]
    completion = [e["completion_tokens"] for e in entries if isinstance(e.get("completion_tokens"), int)]
    seconds = [e["seconds"] for e in entries if isinstance(e.get("seconds"), (int, float))]
    parse = [e["parse_errors"] for e in entries if isinstance(e.get("parse_errors"), int)]
    return {"turns": _dist(turns), "prompt_tokens": _dist(prompt), "completion_tokens": _dist(completion),
            "parse_errors": _dist(parse), "seconds": _dist(seconds)}


def failure_causes(entries: Sequence[dict]) -> dict[str, int]:
    counts = Counter(e.get("cause", "infrastructure_error") for e in entries)
    return {c: counts.get(c, 0) for c in CAUSES} | {c: n for c, n in counts.items() if c not in CAUSES}


def summarize(entries: Sequence[dict], *, seed: int = BOOTSTRAP_SEED) -> dict[str, Any]:
    """The statistics part of report.json."""
    s = success_summary(entries, seed=seed)
    return {
        **s,
        "pass_at_k": pass_at_k_table(entries),
        "per_category": breakdown(entries, "category", seed=seed),
        "per_difficulty": breakdown(entries, "difficulty", seed=seed),
        "failure_causes": failure_causes(entries),
        "excluded": {"needs_network": sum(e.get("cause") == "needs_network" for e in entries)},
        "episodes": episode_stats(counted(entries)),
        "n_trials_total": len(entries),
    }


# ------------------------------------------------------------------------------ paired comparison
def sign_test(wins: int, losses: int) -> float:
    """Exact two-sided sign test (binomial, p = 1/2) on the non-tied pairs; equals the exact
    McNemar test when the per-task outcomes are pass/fail."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return float(min(1.0, 2.0 * tail))


def paired_bootstrap(diffs: Sequence[float], *, resamples: int = BOOTSTRAP_RESAMPLES,
                     seed: int = BOOTSTRAP_SEED) -> dict[str, Any]:
    """Bootstrap of the mean per-task difference: 95% interval and a two-sided p-value
    (twice the smaller share of resampled means on either side of zero, counted as (m + 1) / (B + 1)
    so it is never 0; at most 1)."""
    if len(diffs) == 0:
        return {"ci95": None, "p_value": None}
    arr = np.asarray(diffs, dtype=float)
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, len(arr), size=(resamples, len(arr)))].mean(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    if np.all(arr == 0):
        p = 1.0
    else:
        below, above = int(np.sum(means <= 0)), int(np.sum(means >= 0))
        p = float(min(1.0, 2.0 * (min(below, above) + 1) / (resamples + 1)))
    return {"ci95": [float(lo), float(hi)], "p_value": p}


def compare_runs(entries_a: Sequence[dict], entries_b: Sequence[dict], *, seed: int = BOOTSTRAP_SEED) -> dict[str, Any]:
    """B - A on the tasks both runs scored, paired by task."""
    a, b = task_scores(entries_a), task_scores(entries_b)
    common = sorted(set(a) & set(b))
    diffs = [b[t] - a[t] for t in common]
    wins = sum(d > 0 for d in diffs)
    losses = sum(d < 0 for d in diffs)
    boot = paired_bootstrap(diffs, seed=seed)
    mean_a = float(np.mean([a[t] for t in common])) if common else None
    mean_b = float(np.mean([b[t] for t in common])) if common else None
    _, se = mean_stderr(diffs)
    cats_a = {e["task"]: str(e.get("category") or "unknown") for e in entries_a}
    per_cat: dict[str, list[str]] = defaultdict(list)
    for t in common:
        per_cat[cats_a.get(t, "unknown")].append(t)
    return {
        "n_tasks": len(common),
        "only_in_a": sorted(set(a) - set(b)),
        "only_in_b": sorted(set(b) - set(a)),
        "success_a": mean_a, "success_b": mean_b,
        "difference": (mean_b - mean_a) if common else None,
        "stderr": se,
        "ci95": boot["ci95"],
        "bootstrap_p_value": boot["p_value"],
        "wins": wins, "losses": losses, "ties": len(common) - wins - losses,
        "sign_test_p_value": sign_test(wins, losses),
        "per_category": [
            {"category": c, "n_tasks": len(ts), "success_a": float(np.mean([a[t] for t in ts])),
             "success_b": float(np.mean([b[t] for t in ts])),
             "difference": float(np.mean([b[t] - a[t] for t in ts]))}
            for c, ts in sorted(per_cat.items())],
        "per_task": [{"task": t, "a": a[t], "b": b[t], "difference": b[t] - a[t]} for t in common],
    }
