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
    "termforge.generator.commands",
    "termforge.corpus_commands",
    "termforge.eval.commands",
    "termforge.demo_commands",
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
    except TermforgeError as exc:
        console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        rv = 130
    except typer.Abort:
        console.print("[bold red]aborted[/]")
        sys.exit(1)
    except Exception as exc:
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):  # click usage errors
            exc.show()
            sys.exit(exc.exit_code)
        raise
    if rv == 130:  # typer turns Ctrl-C into exit code 130
        console.print("[bold red]interrupted[/]")
    if isinstance(rv, int) and rv:
        sys.exit(rv)


if __name__ == "__main__":
    main()
