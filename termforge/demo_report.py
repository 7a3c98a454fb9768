"""The demo's report: report.json, report.md and plots, from numbers the run itself produced."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from termforge.ui import atomic_write_json, atomic_write_text


def _per_category(report_path: str) -> dict[str, dict[str, float]]:
    """{category: {success, stderr, n}} from an eval report (rows as a list or a mapping)."""
    data = json.loads(Path(report_path).read_text())
    rows = data.get("per_category") or {}
    if isinstance(rows, dict):
        rows = [{"category": k, **v} for k, v in rows.items()]
    out = {}
    for r in rows:
        out[str(r.get("category"))] = {"success": float(r.get("success") or 0.0),
                                       "stderr": float(r.get("stderr") or 0.0),
                                       "n": int(r.get("n_trials", r.get("n", 0)))}
    return out


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def render_report(out: Path, report: dict[str, Any]) -> None:
    before_cat = _per_category(report["eval_reports"]["before"])
    after_cat = _per_category(report["eval_reports"]["after"])
    report["per_category"] = {c: {"before": before_cat.get(c), "after": after_cat.get(c)}
                              for c in sorted(set(before_cat) | set(after_cat))}
    plots = _plots(out, report, before_cat, after_cat)
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
        "## Tasks", "", "| set | verified | attempted |", "| --- | ---: | ---: |",
        *[f"| {k} | {v['verified']} | {v['attempted']} |" for k, v in report["tasks"].items()], "",
        "## Training", "",
        f"{report['training']['steps']} steps; training loss {_num(report['training']['first_loss'])} → "
        f"{_num(report['training']['last_loss'])}", "",
        "## Success by category", "", "| category | before | after |", "| --- | ---: | ---: |",
    ]
    for c, row in report["per_category"].items():
        fmt = lambda r: "-" if not r else f"{r['success']:.0%} ± {r['stderr']:.0%} (n={r['n']})"  # noqa: E731
        lines.append(f"| {c} | {fmt(row['before'])} | {fmt(row['after'])} |")
    lines += ["", "## Stage times (s, when computed)", "",
              *[f"- {k}: {v}" for k, v in report["stage_seconds"].items()]]
    lines += ["", *[f"![{p}]({p})" for p in plots]]
    atomic_write_text(out / "report.md", "\n".join(lines) + "\n")


def _plots(out: Path, report: dict, before: dict, after: dict) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    metrics = out / "train" / "metrics.jsonl"
    if metrics.exists():
        steps, losses = [], []
        for line in metrics.read_text().splitlines():
            row = json.loads(line)
            if "loss" in row and "step" in row:
                steps.append(row["step"])
                losses.append(row["loss"])
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
