"""Reports of an evaluation run and of a comparison between two runs.

    RUN_DIR/report.json              machine-readable (top level: success, stderr, ci95, n_trials,
                                     n_tasks, pass_at_k, per_category, per_difficulty, failure_causes)
    RUN_DIR/report.md                the same as tables
    RUN_DIR/success_by_category.png  success per category with standard-error bars
    RUN_DIR/pass_at_k.png            the pass@k curve

    OUT/compare.json, compare.md, compare.png   `termforge eval-compare RUN_A RUN_B`
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from termforge.errors import TermforgeError
from termforge.eval import metrics
from termforge.ui import atomic_write_json, atomic_write_text

REPORT_SCHEMA = "termforge.eval-report/1"
COMPARE_SCHEMA = "termforge.eval-compare/1"
NOTES = [
    "A trial passes when the verifier's reward is 1.0; success is the mean reward.",
    "Trials that failed because the offline sandbox could not reach the network (cause needs_network) "
    "are excluded from every rate, n_trials and n_tasks; they are counted under excluded.",
    "Infrastructure errors count as failures (reward 0).",
    "success = mean over tasks of each task's mean reward; stderr = standard error of that mean across "
    "tasks (ddof=1); ci95 = percentile bootstrap over tasks (10,000 resamples, seed 0).",
    "pass@k uses the unbiased estimator of Chen et al. (2021), averaged over tasks with at least k "
    "counted attempts.",
]


def _fmt(x: Any, pct: bool = True) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{100 * x:.1f}%" if pct else f"{x:.3g}"
    return str(x)


def per_task_rows(entries: Sequence[dict]) -> list[dict[str, Any]]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for e in entries:
        groups[e["task"]].append(e)
    rows = []
    for task, es in sorted(groups.items()):
        used = metrics.counted(es)
        rows.append({"task": task, "category": es[0].get("category"), "difficulty": es[0].get("difficulty"),
                     "trials": len(es), "passed": sum(metrics.is_pass(e) for e in es),
                     "mean_reward": (sum(metrics.reward_value(e) for e in used) / len(used)) if used else None,
                     "causes": dict(Counter(e.get("cause") for e in es))})
    return rows


def build_report(entries: Sequence[dict], *, run: dict | None = None, contamination: list | None = None) -> dict:
    stats = metrics.summarize(entries)
    return {
        "schema": REPORT_SCHEMA,
        "model": (run or {}).get("model"),
        **stats,
        "per_task": per_task_rows(entries),
        "contamination": contamination or [],
        "run": run or {},
        "notes": NOTES,
        "created": datetime.now(timezone.utc).isoformat(),
    }


def render_markdown(report: dict) -> str:
    ci = report.get("ci95")
    lines = [f"# Evaluation of `{report.get('model')}`", ""]
    lines.append(f"**Success: {_fmt(report['success'])}** ± {_fmt(report['stderr'])} (s.e.), 95% CI "
                 f"{'[' + ', '.join(_fmt(c) for c in ci) + ']' if ci else '-'} — "
                 f"{report['n_passed']} of {report['n_trials']} trials passed on {report['n_tasks']} tasks.")
    excl = report.get("excluded", {}).get("needs_network", 0)
    if excl:
        lines.append("")
        lines.append(f"**{excl} trial(s) excluded: needs network.** Their verifier (or image build) tried to "
                     "download and the sandbox is offline; they are not part of the success rate.")
    if report.get("pass_at_k"):
        lines += ["", "| k | pass@k |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in report["pass_at_k"].items()]
    for key, title in (("per_category", "category"), ("per_difficulty", "difficulty")):
        rows = report.get(key) or []
        if rows:
            lines += ["", f"## By {title}", "", f"| {title} | tasks | trials | passed | success | s.e. | excluded |",
                      "|---|---|---|---|---|---|---|"]
            for r in rows:
                lines.append(f"| {r[title]} | {r['n_tasks']} | {r['n_trials']} | {r['n_passed']} | "
                             f"{_fmt(r['success'])} | {_fmt(r['stderr'])} | {r['excluded']} |")
    lines += ["", "## Failure causes", "", "| cause | trials |", "|---|---|"]
    lines += [f"| {c} | {n} |" for c, n in report["failure_causes"].items() if n]
    ep = report.get("episodes") or {}
    if ep.get("turns"):
        lines += ["", "## Episodes", "", "| per episode | mean | median | max |", "|---|---|---|---|"]
        for name in ("turns", "parse_errors", "prompt_tokens", "completion_tokens", "seconds"):
            d = ep.get(name)
            if d:
                lines.append(f"| {name} | {d['mean']:.1f} | {d['median']:.1f} | {d['max']:.0f} |")
    if report.get("contamination"):
        lines += ["", "## Possible contamination", "",
                  "These instructions share many 8-grams with the training corpus index:", ""]
        lines += [f"- {c['task']}: {100 * c['overlap']:.0f}%" for c in report["contamination"]]
    lines += ["", "## Tasks", "", "| task | category | difficulty | passed | mean reward | causes |",
              "|---|---|---|---|---|---|"]
    for r in report.get("per_task", []):
        causes = ", ".join(f"{c}×{n}" for c, n in sorted(r["causes"].items()))
        lines.append(f"| {r['task']} | {r['category']} | {r['difficulty']} | {r['passed']}/{r['trials']} | "
                     f"{_fmt(r['mean_reward'], pct=False)} | {causes} |")
    lines += ["", "## Notes", ""] + [f"- {n}" for n in report.get("notes", [])]
    return "\n".join(lines) + "\n"


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_categories(report: dict, path: Path) -> None:
    plt = _plt()
    rows = [r for r in report.get("per_category", []) if r["success"] is not None]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(rows) + 2), 3.6))
    names = [r["category"] for r in rows]
    vals = [100 * r["success"] for r in rows]
    errs = [100 * (r["stderr"] or 0.0) for r in rows]
    ax.bar(range(len(rows)), vals, yerr=errs, capsize=4, color="#4c72b0")
    ax.set_xticks(range(len(rows)), names, rotation=30, ha="right")
    ax.set_ylim(0, 118)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("success (%)")
    overall = report.get("success")
    if overall is not None:
        ax.axhline(100 * overall, color="#c44e52", ls="--", lw=1, label=f"overall {100 * overall:.1f}%")
        ax.legend(loc="upper center", fontsize=8, frameon=False)
    ax.set_title(f"success by category — {report.get('model')}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_pass_at_k(report: dict, path: Path) -> None:
    plt = _plt()
    pk = report.get("pass_at_k") or {}
    fig, ax = plt.subplots(figsize=(4.5, 3.4))
    ks = [int(k) for k in pk]
    ax.plot(ks, [100 * v for v in pk.values()], marker="o", color="#55a868")
    ax.set_xlabel("k (attempts)")
    ax.set_ylabel("pass@k (%)")
    ax.set_ylim(0, 105)
    if ks:
        ax.set_xticks(ks)
    ax.set_title(f"pass@k — {report.get('model')}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(out: str | Path, entries: Sequence[dict], *, run: dict | None = None,
                 contamination: list | None = None) -> dict:
    out = Path(out)
    if run is None and (out / "run.json").exists():
        run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    report = build_report(entries, run=run, contamination=contamination)
    plots = []
    for name, fn in (("success_by_category.png", plot_categories), ("pass_at_k.png", plot_pass_at_k)):
        try:
            fn(report, out / name)
            plots.append(name)
        except Exception as exc:  # noqa: BLE001 - a plot must never lose the numbers
            report.setdefault("plot_errors", []).append(f"{name}: {type(exc).__name__}: {exc}")
    report["plots"] = plots
    atomic_write_json(out / "report.json", report)
    atomic_write_text(out / "report.md", render_markdown(report))
    return report


# ------------------------------------------------------------------------------ comparison
def load_run(run_dir: str | Path) -> tuple[list[dict], dict]:
    from termforge.eval.runner import read_index

    run_dir = Path(run_dir)
    if not (run_dir / "index.jsonl").is_file():
        raise TermforgeError(f"{run_dir}: not an eval run directory (no index.jsonl)")
    entries = list(read_index(run_dir).values())
    if not entries:
        raise TermforgeError(f"{run_dir}: the run has no finished attempts")
    run = {}
    if (run_dir / "run.json").is_file():
        try:
            run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            pass
    return entries, run


def render_compare_markdown(cmp: dict) -> str:
    d = cmp["difference"]
    ci = cmp["ci95"]
    lines = [f"# `{cmp['model_b']}` (B) vs `{cmp['model_a']}` (A)", "",
             f"On {cmp['n_tasks']} tasks scored by both runs: A {_fmt(cmp['success_a'])}, B {_fmt(cmp['success_b'])}, "
             f"**B − A = {'-' if d is None else f'{100 * d:+.1f} points'}** "
             f"(95% paired bootstrap CI {'[' + ', '.join(f'{100 * c:+.1f}' for c in ci) + ']' if ci else '-'}, "
             f"p = {_fmt(cmp['bootstrap_p_value'], pct=False)}).", "",
             f"Per task: B better on {cmp['wins']}, worse on {cmp['losses']}, tied on {cmp['ties']}; "
             f"two-sided sign test p = {_fmt(cmp['sign_test_p_value'], pct=False)} (exact McNemar for pass/fail).",
             "", "| category | tasks | A | B | B − A |", "|---|---|---|---|---|"]
    for r in cmp["per_category"]:
        lines.append(f"| {r['category']} | {r['n_tasks']} | {_fmt(r['success_a'])} | {_fmt(r['success_b'])} | "
                     f"{100 * r['difference']:+.1f} |")
    changed = [r for r in cmp["per_task"] if r["difference"] != 0]
    if changed:
        lines += ["", "| task | A | B |", "|---|---|---|"]
        lines += [f"| {r['task']} | {r['a']:.2f} | {r['b']:.2f} |" for r in changed]
    if cmp["only_in_a"] or cmp["only_in_b"]:
        lines += ["", f"Not paired (scored by one run only): {len(cmp['only_in_a'])} in A, {len(cmp['only_in_b'])} in B."]
    return "\n".join(lines) + "\n"


def plot_compare(cmp: dict, path: Path) -> None:
    import numpy as np

    plt = _plt()
    rows = cmp["per_category"] + [{"category": "all", "success_a": cmp["success_a"] or 0.0,
                                   "success_b": cmp["success_b"] or 0.0}]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(4.5, 1.0 * len(rows) + 2), 3.6))
    ax.bar(x - 0.2, [100 * r["success_a"] for r in rows], 0.4, label=f"A: {cmp['model_a']}", color="#8c8c8c")
    ax.bar(x + 0.2, [100 * r["success_b"] for r in rows], 0.4, label=f"B: {cmp['model_b']}", color="#4c72b0")
    ax.set_xticks(x, [r["category"] for r in rows], rotation=30, ha="right")
    ax.set_ylim(0, 122)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("success (%)")
    ax.legend(fontsize=7, loc="upper center", ncol=2, frameon=False)
    d = cmp["difference"]
    ax.set_title("before/after" + ("" if d is None else f": {100 * d:+.1f} points, sign-test p="
                                   f"{cmp['sign_test_p_value']:.3g}"), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_compare(run_a: str | Path, run_b: str | Path, out: str | Path) -> dict:
    entries_a, conf_a = load_run(run_a)
    entries_b, conf_b = load_run(run_b)
    cmp = metrics.compare_runs(entries_a, entries_b)
    if cmp["n_tasks"] == 0:
        raise TermforgeError(f"{run_a} and {run_b} have no scored task in common")
    cmp = {"schema": COMPARE_SCHEMA, "run_a": str(run_a), "run_b": str(run_b),
           "model_a": conf_a.get("model") or Path(run_a).name, "model_b": conf_b.get("model") or Path(run_b).name,
           **cmp}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        plot_compare(cmp, out / "compare.png")
        cmp["plots"] = ["compare.png"]
    except Exception as exc:  # noqa: BLE001
        cmp["plot_errors"] = [f"compare.png: {type(exc).__name__}: {exc}"]
    atomic_write_json(out / "compare.json", cmp)
    atomic_write_text(out / "compare.md", render_compare_markdown(cmp))
    return cmp
