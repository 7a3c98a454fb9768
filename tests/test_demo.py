"""The demo's stage bookkeeping: cached, resumed after an interruption, redone when settings change."""

from __future__ import annotations

import pytest

from termforge.demo import Demo, load_demo_config, scaled
from termforge.errors import ConfigError


def test_stage_cache_resume_and_invalidation(tmp_path):
    demo = Demo(cfg={}, out=tmp_path, log=lambda m: None)
    out = tmp_path / "stage-out"
    calls = []

    def work():
        out.mkdir(exist_ok=True)
        (out / f"part{len(calls)}").write_text("x")
        calls.append(1)
        return {"summary": f"call {len(calls)}"}

    assert demo.stage("s", {"a": 1}, work, fresh_dir=out)["summary"] == "call 1"
    assert demo.stage("s", {"a": 1}, work, fresh_dir=out)["summary"] == "call 1"  # cached
    assert len(calls) == 1

    def interrupted():
        out.mkdir(exist_ok=True)
        (out / "partial").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        demo.stage("s", {"a": 2}, interrupted, fresh_dir=out)
    assert not (out / "part0").exists() and (out / "partial").exists()  # other settings: started over
    demo.stage("s", {"a": 2}, work, fresh_dir=out)
    assert (out / "partial").exists()  # same settings after an interruption: resumed, not wiped
    assert len(calls) == 2


def test_config_and_scaling(tmp_path):
    cfg = load_demo_config()
    assert cfg["train"]["steps"] > 0 and cfg["heldout_families"]
    assert scaled(140, 5 / 15, 6) == 47 and scaled(10, 0.1, 6) == 6
    bad = tmp_path / "d.yaml"
    bad.write_text("gen: {}\n")
    with pytest.raises(ConfigError, match="missing section"):
        load_demo_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_demo_config(tmp_path / "none.yaml")


def test_heldout_families_exist():
    from termforge.generator.registry import all_families

    cfg = load_demo_config()
    held, trained = set(cfg["heldout_families"]), set(cfg["gen"].get("train_families") or ())
    assert held <= set(all_families()) and trained <= set(all_families())
    assert not held & trained  # a held-out family is never trained on


def test_a_remade_input_remakes_its_dependents(tmp_path):
    """A stage is keyed by its settings and its inputs' keys: when collect is redone with other
    options, curate (same settings of its own) must be redone as well, not served from cache."""
    calls = []

    def work(name):
        def fn():
            calls.append(name)
            return {"summary": name}
        return fn

    def run(collect_opts):
        demo = Demo(cfg={}, out=tmp_path, log=lambda m: None)
        demo.stage("collect", {"opts": collect_opts}, work("collect"))
        demo.stage("curate", {"opts": "same"}, work("curate"), deps=("collect",))

    run("full")
    run("full")
    assert calls == ["collect", "curate"]  # second run: both cached
    run("terse")
    assert calls == ["collect", "curate", "collect", "curate"]
    with pytest.raises(RuntimeError, match="before its inputs"):
        Demo(cfg={}, out=tmp_path, log=lambda m: None).stage("curate", {}, work("curate"), deps=("collect",))
