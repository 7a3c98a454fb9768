"""`termforge demo` (registered by termforge.cli)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Run directory (cached stages, report)."),
    minutes: float = typer.Option(15.0, "--minutes", min=1.0, help="Target length; sizes scale with it."),
    config: Optional[Path] = typer.Option(None, "--config", help="Demo config (default configs/demo.yaml)."),
    until: Optional[str] = typer.Option(None, "--until", help="Stop after this stage."),
) -> None:
    """The whole pipeline in miniature: tasks → trajectories → training → evaluation before/after."""
    from termforge.demo import DEFAULT_CONFIG, STAGES, Demo, StopDemo, load_demo_config
    from termforge.errors import ConfigError
    from termforge.executor.docker_env import client
    from termforge.ui import stdout

    if until is not None and until not in STAGES:
        raise ConfigError(f"--until {until!r}: choose one of {', '.join(STAGES)}")
    cfg = load_demo_config(config or DEFAULT_CONFIG)
    client()
    d = Demo(cfg, out, minutes=minutes, until=until)
    try:
        report = d.run()
    except StopDemo as stop:
        stdout.print(f"demo: stopped after stage {stop} → {out}")
        return
    from termforge.demo import _pct

    b, a = report["before"], report["after"]
    stdout.print(f"demo: held-out success {_pct(b['success'])} ± {_pct(b['stderr'])} before → "
                 f"{_pct(a['success'])} ± {_pct(a['stderr'])} after training "
                 f"({'target met' if report['target_met'] else 'target of 30% not met'}) → {out / 'report.md'}")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
