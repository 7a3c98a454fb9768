"""The demo's report: report.json, report.md and plots, from numbers the run itself produced."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from termforge.ui import atomic_write_json, atomic_write_text


def _per_category(data: dict) -> dict[str, dict[str, float]]:
    """{category: {success, stderr, n}} from an eval report (rows as a list or a mapping)."""
    rows = data.get("per_category") or {}
    if isinstance(rows, dict):
        rows = [{"category": k, **v} for k, v in rows.items()]
    out = {}
    for r in rows:
        out[str(r.get("category"))] = {"success": float(r.get("success") or 0.0),
                                       "stderr": float(r.get("stderr") or 0.0),
                                       "n": int(r.get("n_trials", r.get("n", 0)))}
    return out


def _by_set(data: dict, sets: dict[str, set[str]]) -> dict[str, dict[str, float]]:
    """{set: {success, n}} over the eval report's per-task rows, a task's set found by its name."""
    out: dict[str, dict[str, float]] = {}
    for name, members in sets.items():
        rows = [r for r in data.get("per_task", []) if str(r.get("task", "")).rsplit("/", 1)[-1] in members]
        trials = sum(int(r.get("trials", 0)) for r in rows)
        passed = sum(int(r.get("passed", 0)) for r in rows)
        out[name] = {"success": passed / trials if trials else None, "passed": passed, "n_trials": trials}
    return out


def _turns(data: dict) -> dict[str, float | None]:
    """Share of the model's turns that were a valid Terminus-2 answer (parsed without error)."""
    ep = data.get("episodes", {})
    turns = (ep.get("turns") or {}).get("total") or 0
    errors = (ep.get("parse_errors") or {}).get("total") or 0
    turns, errors = int(turns), int(errors)
    return {"turns": turns, "parse_errors": errors, "valid_turn_rate": (1 - errors / turns) if turns else None}


def _causes(data: dict) -> dict[str, int]:
    """Failure causes of an eval run (passed, wrong_result, parse_errors, ...), non-zero ones."""
    causes = data.get("failure_causes") or {}
    return {k: int(v) for k, v in causes.items() if v}


def _metrics(out: Path) -> list[dict]:
    """The training run's metrics.jsonl rows (none when it has not run)."""
    from termforge.jaxtrain.metrics import read_metrics

    return read_metrics(out / "train") if (out / "train" / "metrics.jsonl").exists() else []


def _train_stats(rows: list[dict]) -> dict[str, float]:
    """Tokens trained on and median throughput, from the run's metrics rows."""
    rows = [r for r in rows if "tokens" in r]
    if not rows:
        return {}
    speeds = sorted(r["tokens_per_s"] for r in rows[1:] if r.get("tokens_per_s"))
    return {"tokens": int(sum(r["tokens"] for r in rows)),
            "loss_tokens": int(sum(r.get("loss_tokens", 0) for r in rows)),
            "median_tokens_per_s": round(speeds[len(speeds) // 2], 1) if speeds else None}


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def render_report(out: Path, report: dict[str, Any]) -> None:
    evals = {phase: json.loads(Path(report["eval_reports"][phase]).read_text()) for phase in ("before", "after")}
    before_cat, after_cat = _per_category(evals["before"]), _per_category(evals["after"])
    report["per_category"] = {c: {"before": before_cat.get(c), "after": after_cat.get(c)}
                              for c in sorted(set(before_cat) | set(after_cat))}
    sets = report.get("heldout_sets") or {}
    if sets:
        report["success_by_set"] = {
            phase: _by_set(evals[phase], {k: set(v) for k, v in sets.items()})
            for phase in ("before", "after")}
    report["turns"] = {phase: _turns(data) for phase, data in evals.items()}
    report["failure_causes"] = {phase: _causes(data) for phase, data in evals.items()}
    metrics = _metrics(out)
    report["training"].update(_train_stats(metrics))
    plots = _plots(out, report, before_cat, after_cat, metrics)
    report["plots"] = plots
    atomic_write_json(out / "report.json", report)
    b, a = report["before"], report["after"]
    pct = lambda x: "-" if x is None else f"{x:.1%}"  # noqa: E731
    lines = [
        "# termforge demo report", "",
        f"Held-out success before training: **{pct(b['success'])} ± {pct(b['stderr'])}** "
        f"({b['n_trials']} trials)  ",
        f"Held-out success after training: **{pct(a['success'])} ± {pct(a['stderr'])}** "
        f"({a['n_trials']} trials)", "",
        ("Target (≥ 30 % after training) **met** in this run." if report["target_met"] else
         "Target (≥ 30 % after training) **not met** in this run."), "",
        *_set_lines(report), *_turn_lines(report), *_family_lines(report),
        "## Tasks", "", "| set | verified | attempted |", "| --- | ---: | ---: |",
        *[f"| {k} | {v['verified']} | {v['attempted']} |" for k, v in report["tasks"].items()], "",
        "## Training", "",
        f"{report['training']['steps']} steps; training loss {_num(report['training']['first_loss'])} → "
        f"{_num(report['training']['last_loss'])}" + _throughput(report["training"]), "",
        "## Success by category", "", "| category | before | after |", "| --- | ---: | ---: |",
    ]
    for c, row in report["per_category"].items():
        fmt = lambda r: "-" if not r else f"{r['success']:.0%} ± {r['stderr']:.0%} (n={r['n']})"  # noqa: E731
        lines.append(f"| {c} | {fmt(row['before'])} | {fmt(row['after'])} |")
    lines += ["", "## Stage times (s, when computed)", "",
              *[f"- {k}: {v}" for k, v in report["stage_seconds"].items()]]
    lines += ["", *[f"![{p}]({p})" for p in plots]]
    atomic_write_text(out / "report.md", "\n".join(lines) + "\n")


def _set_lines(report: dict) -> list[str]:
    by_set = report.get("success_by_set")
    if not by_set:
        return []
    fmt = lambda r: "-" if r["success"] is None else f"{r['success']:.1%} ({r['passed']}/{r['n_trials']})"  # noqa: E731
    lines = ["## Held-out success by set", "", "| set | before | after |", "| --- | ---: | ---: |"]
    for name in by_set["before"]:
        lines.append(f"| {name} | {fmt(by_set['before'][name])} | {fmt(by_set['after'][name])} |")
    return lines + [""]


def _throughput(t: dict) -> str:
    if not t.get("tokens"):
        return ""
    return (f"; {t['tokens']:,} tokens trained on ({t['loss_tokens']:,} in the loss), "
            f"median {t['median_tokens_per_s']:,} tokens/s")


def _turn_lines(report: dict) -> list[str]:
    t = report.get("turns") or {}
    if not t:
        return []
    fmt = lambda r: "-" if r["valid_turn_rate"] is None else (  # noqa: E731
        f"{r['valid_turn_rate']:.1%} of {r['turns']} turns")
    lines = ["## Valid agent turns (parsed as Terminus-2 JSON)", "",
             f"Before training: {fmt(t['before'])}; after training: {fmt(t['after'])}.", ""]
    causes = report.get("failure_causes") or {}
    if causes:
        fmt_c = lambda c: ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in c.items()) or "-"  # noqa: E731
        lines += ["Episode outcomes: before training " + fmt_c(causes.get("before", {})) +
                  "; after training " + fmt_c(causes.get("after", {})) + ".", ""]
    return lines


def _family_lines(report: dict) -> list[str]:
    f = report.get("families") or {}
    if not f:
        return []
    trained = ", ".join(f"`{x}`" for x in f.get("trained", [])) or "every family except the held-out ones"
    held = ", ".join(f"`{x}`" for x in f.get("held_out", [])) or "none"
    return ["## What was held out", "",
            f"Skill-mode training tasks and the held-out *instances* come from: {trained} (different "
            f"generator seeds, so new names, paths, data and wording). Held-out *families*, never "
            f"trained on: {held}.", ""]


def _plots(out: Path, report: dict, before: dict, after: dict, metrics: list[dict]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    if metrics:
        steps = [row["step"] for row in metrics if "loss" in row and "step" in row]
        losses = [row["loss"] for row in metrics if "loss" in row and "step" in row]
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(steps, losses)
        ax.set_xlabel("step")
        ax.set_ylabel("training loss")
        ax.set_title("termforge demo: training loss")
        fig.tight_layout()
        fig.savefig(out / "loss.png", dpi=120)
        plt.close(fig)
        made.append("loss.png")
    cats = sorted(set(before) | set(after))
    if cats:
        import numpy as np

        x = np.arange(len(cats))
        fig, ax = plt.subplots(figsize=(max(6, len(cats) * 0.9), 3.8))
        for off, (label, data) in zip((-0.2, 0.2), (("before", before), ("after", after))):
            vals = [data.get(c, {}).get("success", 0.0) for c in cats]
            errs = [data.get(c, {}).get("stderr", 0.0) for c in cats]
            ax.bar(x + off, vals, 0.4, yerr=errs, capsize=3, label=label)
        ax.set_xticks(x, cats, rotation=30, ha="right")
        ax.set_ylim(0, 1)
        ax.set_ylabel("success")
        ax.set_title("held-out success by category (± s.e.)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "success_by_category.png", dpi=120)
        plt.close(fig)
        made.append("success_by_category.png")
    return made
