"""`termforge demo`: the whole pipeline in miniature, on 2 CPU cores, honestly measured.

base image → verified tasks (skill + seed modes, plus held-out instances and held-out families) →
oracle trajectories → curation → shards → BPE tokenizer → a small Qwen3 trained from scratch with
the short→long curriculum → evaluation before and after training on the held-out tasks with the
real agent loop in Docker → report.json / report.md / plots.

Every stage writes OUT/.stages/<stage>.json when it finishes, keyed by a hash of its settings: a
second run reuses what exists, an interrupted one continues.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from termforge.errors import ConfigError, TermforgeError
from termforge.ui import atomic_write_json, atomic_write_text, console

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO / "configs" / "demo.yaml"


def load_demo_config(path: str | Path = DEFAULT_CONFIG) -> dict[str, Any]:
    path = Path(path)
    try:
        cfg = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: demo config not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    for key in ("gen", "collect", "curate", "shard", "tokenizer", "model", "train", "eval"):
        if not isinstance(cfg.get(key), dict):
            raise ConfigError(f"{path} [{key}]: missing section")
    return cfg


def scaled(n: int, scale: float, floor: int) -> int:
    return max(floor, round(n * scale))


STAGES = ("base-image", "gen-skill", "gen-seed", "heldout-instances", "heldout-families", "collect",
          "curate", "shard", "tokenizer", "model-init", "train", "eval-before", "eval-after")


class StopDemo(Exception):
    """Raised after the stage named by --until."""


@dataclass
class Demo:
    cfg: dict[str, Any]
    out: Path
    minutes: float = 15.0
    log: Callable[[str], None] = field(default=lambda m: console.print(m))
    until: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # stage -> key of its last (cached or new) result

    @property
    def scale(self) -> float:
        return max(0.05, self.minutes / 15.0)

    # -------------------------------------------------------------- stage bookkeeping

    def stage(self, name: str, settings: dict[str, Any], fn: Callable[[], Any], *,
              fresh_dir: Path | None = None, deps: tuple[str, ...] = ()) -> Any:
        """Run `fn` unless it already finished with these settings and the same upstream results.

        The stage's key hashes its settings and the keys of the stages it reads (`deps`), so a
        stage whose input was remade is remade too. `fresh_dir` is the stage's output: kept to
        resume when an interrupted attempt had the same key, removed when it was made with another
        (a run with other options, or the checkpoints of another model, must not be resumed).
        """
        stages = self.out / ".stages"
        marker, started = stages / f"{name}.json", stages / f"{name}.started"
        missing = [d for d in deps if d not in self.keys]
        if missing:
            raise RuntimeError(f"demo stage {name} runs before its inputs {missing}")
        keyed = {"settings": settings, "deps": {d: self.keys[d] for d in deps}}
        key = hashlib.sha256(json.dumps(keyed, sort_keys=True, default=str).encode()).hexdigest()[:16]
        self.keys[name] = key
        if marker.exists():
            done = json.loads(marker.read_text())
            if done.get("key") == key:
                self.log(f"[dim]✓ {name}: cached ({done.get('summary', '')})[/]")
                self.timings[name] = done.get("seconds", 0.0)  # when it was computed
                return done.get("value")
            marker.unlink()
        if fresh_dir is not None and fresh_dir.exists():
            if not (started.exists() and started.read_text().strip() == key):
                import shutil

                shutil.rmtree(fresh_dir)
        atomic_write_text(started, key + "\n")
        self.log(f"[bold]▶ {name}[/]")
        t0 = time.perf_counter()
        value = fn()
        self.timings[name] = round(time.perf_counter() - t0, 1)
        summary = value.get("summary", "") if isinstance(value, dict) else ""
        atomic_write_json(marker, {"key": key, "settings": settings, "value": value, "summary": summary,
                                   "seconds": self.timings[name]})
        self.log(f"  {name}: {summary} ({self.timings[name]:.0f} s)")
        if self.until == name:
            raise StopDemo(name)
        return value

    # -------------------------------------------------------------- stages

    def base_image(self) -> dict:
        from termforge.executor.base_image import ensure_base_image

        def run():
            image_id, built = ensure_base_image(log=lambda m: self.log(f"  [dim]{m}[/]"))
            return {"image_id": image_id, "summary": "built" if built else "present"}

        return self.stage("base-image", {"recipe": "default"}, run)

    def generate(self, name: str, **kw) -> dict:
        from termforge.generator.pipeline import GenOptions, generate

        g = self.cfg["gen"]
        opts = GenOptions(out=self.out / name, jobs=g.get("jobs", 4), verify_runs=1,
                          steps={k: v for k, v in {1: 0.5, 2: 0.5}.items() if k <= g.get("max_steps", 2)},
                          **kw)

        def run():
            records = generate(opts)
            ok = [r for r in records if r["status"] == "verified"]
            return {"tasks": str(self.out / name / "tasks"), "verified": len(ok), "attempted": len(records),
                    "summary": f"{len(ok)}/{len(records)} verified"}

        settings = {k: v for k, v in opts.__dict__.items() if k not in ("trial_options", "llm")}
        return self.stage(name, settings, run, fresh_dir=self.out / name, deps=("base-image",))

    def collect(self, task_dirs: list[Path]) -> dict:
        from termforge.executor.collect import CollectOptions, collect
        from termforge.executor.verify import find_tasks

        c = self.cfg["collect"]
        paths = [p for d in task_dirs if any(Path(d).iterdir()) for p in find_tasks([d])]
        opts = CollectOptions(attempts=c.get("attempts", 1), jobs=c.get("jobs", 4),
                              max_turns=c.get("max_turns", 20), oracle_style=c.get("oracle_style", "full"))

        def run():
            entries = collect(paths, self.out / "collect", opts)
            ok = sum(e.get("reward") == 1.0 for e in entries)
            return {"trajectories": len(entries), "reward1": ok,
                    "summary": f"{len(entries)} trajectories, {ok} with reward 1"}

        return self.stage("collect", {"tasks": sorted(map(str, paths)), "opts": str(opts)}, run,
                          fresh_dir=self.out / "collect", deps=("gen-skill", "gen-seed"))

    def curate(self) -> dict:
        from termforge.generator.curate import CurateOptions, curate

        c = self.cfg["curate"]
        heldout = tuple(self.out / n / "tasks" for n in ("heldout-instances", "heldout-families")
                        if (self.out / n / "tasks").is_dir() and any((self.out / n / "tasks").iterdir()))
        opts = CurateOptions(max_tokens=c.get("max_tokens", 6000), decontaminate=heldout)

        def run():
            report = curate([self.out / "collect" / "trajectories"], self.out / "curated", opts)
            return {"kept": report["kept"], "input": report["input"], "dropped": report["dropped"],
                    "summary": f"kept {report['kept']}/{report['input']}"}

        return self.stage("curate", {"opts": str(opts)}, run, fresh_dir=self.out / "curated",
                          deps=("collect", "heldout-instances", "heldout-families"))

    def shard(self) -> dict:
        from termforge.generator.curate import iter_records
        from termforge.shards import write_shards

        n = self.cfg["shard"].get("num_shards", 4)

        def run():
            manifest = write_shards(iter_records([self.out / "curated" / "curated.jsonl"]),
                                    self.out / "shards", n, seed=self.cfg.get("seed", 0), overwrite=True)
            total = manifest.get("total_records", sum(s["records"] for s in manifest["shards"]))
            return {"records": total, "summary": f"{total} records in {n} shards"}

        return self.stage("shard", {"n": n, "curated": _digest(self.out / "curated" / "curated.jsonl")}, run,
                          deps=("curate",))

    def tokenizer(self) -> dict:
        from termforge.generator.curate import iter_records
        from termforge.jaxtrain.tokenizer import train_tokenizer

        vocab = self.cfg["tokenizer"].get("vocab_size", 3000)

        def run():
            texts = [m["content"] for r in iter_records([self.out / "curated" / "curated.jsonl"])
                     for m in r.messages]
            train_tokenizer(texts=texts, vocab_size=vocab, out_dir=self.out / "tokenizer")
            return {"dir": str(self.out / "tokenizer"), "summary": f"vocab {vocab}"}

        return self.stage("tokenizer", {"vocab": vocab,
                                        "curated": _digest(self.out / "curated" / "curated.jsonl")}, run,
                          deps=("curate",))

    def model_config(self) -> dict[str, Any]:
        m = dict(self.cfg["model"])
        base = m.pop("base", "qwen3-tiny")
        m["vocab_size"] = self.cfg["tokenizer"].get("vocab_size", 3000)
        return {"base": base, **m}

    def initial_model(self) -> dict:
        """The untrained model as a Hugging Face directory: the 'before' of the evaluation."""
        mc = self.model_config()

        def run():
            from flax import nnx

            from termforge.jaxtrain.config import load_config
            from termforge.jaxtrain.hf import to_pretrained
            from termforge.jaxtrain.model import Qwen3ForCausalLM

            overrides = {k: v for k, v in mc.items() if k != "base"}
            cfg = load_config(mc["base"], **overrides)
            model = Qwen3ForCausalLM(cfg, rngs=nnx.Rngs(self.cfg.get("seed", 0)))
            to_pretrained(model, self.out / "model-init", tokenizer_dir=self.out / "tokenizer")
            return {"dir": str(self.out / "model-init"), "summary": "random init exported"}

        return self.stage("model-init", {"model": mc}, run, deps=("tokenizer",))

    def train(self) -> dict:
        t = self.cfg["train"]
        steps = scaled(t.get("steps", 600), self.scale, t.get("steps_min", 40))
        run_dir = self.out / "train"
        train_cfg = yaml.safe_load((REPO / t["config"]).read_text())
        mc = self.model_config()
        train_cfg["model"] = mc.pop("base")
        train_cfg["model_overrides"] = mc
        train_cfg["train"]["steps"] = steps
        train_cfg["data"]["shards"] = str(self.out / "shards")
        train_cfg["data"]["tokenizer"] = str(self.out / "tokenizer")
        if train_cfg.get("curriculum"):
            train_cfg["curriculum"][0]["steps"] = max(1, round(t.get("short_fraction", 0.3) * steps))
        cfg_path = self.out / "train-config.yaml"
        cmd = [sys.executable, "-m", "termforge.cli", "train", str(cfg_path), "--out", str(run_dir)]
        for k, v in t.get("set", {}).items():
            cmd += ["--set", f"{k}={v}"]

        def run():
            from termforge.jaxtrain.metrics import read_metrics

            atomic_write_text(cfg_path, yaml.safe_dump(train_cfg, sort_keys=False))
            _run(cmd, "train")
            hf = run_dir / "hf"
            if not (hf / "config.json").exists():
                raise TermforgeError(f"training finished without an export in {hf}")
            losses = [row["loss"] for row in read_metrics(run_dir) if "loss" in row]
            return {"hf": str(hf), "steps": steps, "first_loss": losses[0] if losses else None,
                    "last_loss": losses[-1] if losses else None,
                    "summary": f"{steps} steps, loss {losses[0]:.3f} → {losses[-1]:.3f}" if losses else ""}

        return self.stage("train", {"config": train_cfg, "set": t.get("set", {}),
                                    "shards": _digest(self.out / "shards" / "manifest.json")}, run,
                          fresh_dir=run_dir, deps=("shard", "tokenizer"))

    def evaluate(self, name: str, model_dir: str, task_dirs: list[Path], model_stage: str) -> dict:
        e = self.cfg["eval"]
        run_dir = self.out / name
        cmd = [sys.executable, "-m", "termforge.cli", "eval", "--model", model_dir,
               *[str(d) for d in task_dirs if any(Path(d).iterdir())],
               "--attempts", str(e.get("attempts", 2)), "--jobs", str(e.get("jobs", 4)),
               "--max-turns", str(e.get("max_turns", 10)), "--max-tokens", str(e.get("max_tokens", 256)),
               "--temperature", str(e.get("temperature", 0.0)),
               "--seed", str(self.cfg.get("seed", 0)), "--out", str(run_dir)]

        def run():
            _run(cmd, name)
            report = json.loads((run_dir / "report.json").read_text())
            success, stderr = report.get("success"), report.get("stderr")
            return {"report": str(run_dir / "report.json"), "success": success, "stderr": stderr,
                    "n_trials": report["n_trials"],
                    "summary": f"success {_pct(success)} ± {_pct(stderr)} over {report['n_trials']} trials"}

        return self.stage(name, {"cmd": cmd[3:], "model": _digest_dir(Path(model_dir))}, run,
                          fresh_dir=run_dir, deps=(model_stage, "heldout-instances", "heldout-families"))

    # -------------------------------------------------------------- the run

    def run(self) -> dict[str, Any]:
        self.out.mkdir(parents=True, exist_ok=True)
        g, s, seed = self.cfg["gen"], self.scale, self.cfg.get("seed", 0)
        floor = g.get("min", 6)
        heldout = tuple(self.cfg.get("heldout_families", ()))
        trained_on = tuple(g.get("train_families") or ())  # empty: every family but the held-out ones
        pick = {"families": trained_on} if trained_on else {"exclude_families": heldout}
        self.base_image()
        gens = {
            "gen-skill": self.generate("gen-skill", mode="skill", n=scaled(g["skill_tasks"], s, floor),
                                       seed=seed, **pick),
            "gen-seed": self.generate("gen-seed", mode="seed", n=scaled(g["seed_tasks"], s, floor), seed=seed),
            "heldout-instances": self.generate("heldout-instances", mode="skill",
                                               n=scaled(g["heldout_instances"], s, floor), seed=seed + 1000,
                                               **pick),
            "heldout-families": self.generate("heldout-families", mode="skill",
                                              n=scaled(g["heldout_family_tasks"], s, max(2, floor // 2)),
                                              seed=seed + 2000, families=heldout),
        }
        self.collect([self.out / "gen-skill" / "tasks", self.out / "gen-seed" / "tasks"])
        self.curate()
        self.shard()
        self.tokenizer()
        init = self.initial_model()
        trained = self.train()
        eval_sets = [self.out / "heldout-instances" / "tasks", self.out / "heldout-families" / "tasks"]
        before = self.evaluate("eval-before", init["dir"], eval_sets, "model-init")
        after = self.evaluate("eval-after", trained["hf"], eval_sets, "train")
        return write_report(self, gens, trained, before, after)


def write_report(demo: Demo, gens: dict, trained: dict, before: dict, after: dict) -> dict[str, Any]:
    from termforge.demo_report import render_report

    report = {
        "before": {k: before[k] for k in ("success", "stderr", "n_trials")},
        "after": {k: after[k] for k in ("success", "stderr", "n_trials")},
        "target": {"after_success_at_least": 0.30},
        "target_met": after["success"] is not None and after["success"] >= 0.30,
        "tasks": {k: {"verified": v["verified"], "attempted": v["attempted"]} for k, v in gens.items()},
        "training": {k: trained.get(k) for k in ("steps", "first_loss", "last_loss")},
        "families": {"trained": list(demo.cfg["gen"].get("train_families") or []),
                     "held_out": list(demo.cfg.get("heldout_families", []))},
        "minutes_requested": demo.minutes,
        "stage_seconds": demo.timings,
        "eval_reports": {"before": before["report"], "after": after["report"]},
        "heldout_sets": {name: sorted(p.name for p in (demo.out / name / "tasks").iterdir() if p.is_dir())
                         for name in ("heldout-instances", "heldout-families")
                         if (demo.out / name / "tasks").is_dir()},
    }
    render_report(demo.out, report)
    return report


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        tail = " | ".join(proc.stdout.strip().splitlines()[-3:])
        raise TermforgeError(f"demo stage {what} failed (exit {proc.returncode}): {tail}")


def _digest(path: Path) -> str | None:
    if not path.exists():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _digest_dir(path: Path) -> str | None:
    if not path.is_dir():
        return None
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        if p.is_file():
            h.update(p.name.encode() + str(p.stat().st_size).encode() + str(p.stat().st_mtime_ns).encode())
    return h.hexdigest()[:16]
