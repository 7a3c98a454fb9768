"""The single `termforge` entry point (DESIGN §7).

Each part contributes its subcommands through a `register(app)` function in its `commands`
module; those modules import only typer at import time, so `termforge doctor` stays fast.
Every `TermforgeError` becomes one red line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import typer

from termforge.errors import TermforgeError
from termforge.ui import console

app = typer.Typer(
    name="termforge",
    help="Verified synthetic terminal tasks, agent trajectories and JAX training of terminal agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_COMMAND_MODULES = (
    "termforge.executor.commands",
    "termforge.jaxtrain.commands",
)

for _name in _COMMAND_MODULES:
    try:
        _module = importlib.import_module(_name)
    except ModuleNotFoundError as exc:  # a part not installed yet
        if exc.name != _name:
            raise
        continue
    _module.register(app)


def main(argv: list[str] | None = None) -> None:
    try:
        rv = app(args=argv, standalone_mode=False)
        if isinstance(rv, int) and rv:
            sys.exit(rv)
    except TermforgeError as exc:
        console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        console.print("[bold red]interrupted[/]")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors etc.
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            console.print("[bold red]aborted[/]")
            sys.exit(1)
        raise


if __name__ == "__main__":
    main()
