"""`termforge doctor`: what this machine has, and the fix for whatever is missing."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

from rich.table import Table

from termforge.ui import stdout


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def _docker_checks() -> list[Check]:
    from termforge.errors import TermforgeError
    from termforge.executor.base_image import BASE_IMAGE, BaseImageRecipe, image_recipe_hash
    from termforge.executor.docker_env import client

    try:
        version = client().version().get("Version", "?")
    except TermforgeError as exc:
        return [
            Check("docker daemon", False, str(exc)[:120],
                  "apt-get install -y docker.io && setsid dockerd >/tmp/dockerd.log 2>&1 &"),
            Check("base image", False, "unknown (no daemon)", "termforge base-image"),
        ]
    rows = [Check("docker daemon", True, f"server {version}")]
    have = image_recipe_hash()
    want = BaseImageRecipe().digest()
    if have is None:
        rows.append(Check("base image", False, f"{BASE_IMAGE} absent", "termforge base-image"))
    elif have != want:
        rows.append(Check("base image", False, f"{BASE_IMAGE} recipe {have or '?'} != {want}",
                          "termforge base-image --force"))
    else:
        rows.append(Check("base image", True, f"{BASE_IMAGE} ({want})"))
    return rows


def _tool(name: str, fix: str, required: bool = True) -> Check:
    path = shutil.which(name)
    return Check(name, path is not None, path or "not found", "" if path else fix, required)


def _loop_mount() -> Check:
    ok = os.geteuid() == 0 and shutil.which("mkfs.ext4") is not None and os.path.exists("/dev/loop-control")
    return Check("size-capped /logs", ok,
                 "loop-mounted ext4" if ok else "falls back to a watched directory",
                 "" if ok else "run as root with loop devices for a hard /logs cap", required=False)


def _jax() -> Check:
    try:
        out = subprocess.run(
            [sys.executable, "-c",
             "import jax; d=jax.devices(); print(len(d), d[0].platform)"],
            capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed")
        n, platform = out.stdout.split()
        return Check("jax devices", True, f"{n} × {platform}", required=False)
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return Check("jax devices", False, str(exc)[:100], "pip install -e .", required=False)


def _versions() -> Check:
    parts = []
    for pkg in ("jax", "flax", "optax", "orbax-checkpoint", "grain", "transformers", "docker"):
        try:
            parts.append(f"{pkg} {importlib.metadata.version(pkg)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{pkg} missing")
    ok = not any(p.endswith("missing") for p in parts)
    return Check("libraries", ok, ", ".join(parts), "" if ok else "pip install -e .[dev]", required=False)


def run_checks() -> list[Check]:
    rows = [Check("python", sys.version_info >= (3, 11), sys.version.split()[0], "use Python ≥ 3.11")]
    rows += _docker_checks()
    rows.append(_tool("debootstrap", "apt-get install -y debootstrap", required=False))
    rows.append(_loop_mount())
    rows.append(_jax())
    rows.append(_versions())
    return rows


def render(rows: list[Check]) -> None:
    table = Table(title="termforge doctor")
    for col in ("check", "status", "detail", "fix"):
        table.add_column(col, overflow="fold")
    for r in rows:
        status = "[green]ok[/]" if r.ok else ("[red]FAIL[/]" if r.required else "[yellow]warn[/]")
        table.add_row(r.name, status, r.detail, r.fix)
    stdout.print(table)
    bad = [r.name for r in rows if r.required and not r.ok]
    stdout.print("doctor: all required checks pass" if not bad else f"doctor: failing: {', '.join(bad)}")
