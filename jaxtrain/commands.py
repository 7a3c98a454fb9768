"""CLI commands of the training stack (registered by termforge.cli)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this part's subcommands to the `termforge` app."""
