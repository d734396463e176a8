"""The root of the command line: finds the command asked for, shows errors.

Each command lives in its own module, imported (and its parameters built by
typer) only when that command runs, or when `--help` lists them all: `status`
starts without loading the other commands (benchmarks/startup.py).

Commands raise `NewsletterError` for anything the user can fix; `_Root.invoke`
is the one place that turns it into a line on stderr and a non-zero exit.
"""

from __future__ import annotations

import gc
import importlib
import sqlite3
from collections.abc import Iterator, MutableMapping
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from newsletter.cli.common import show_error
from newsletter.db.faults import database_fault, is_fault
from newsletter.errors import NewsletterError

# name -> (module in newsletter.cli, its command function or its typer app of subcommands),
# in the order `--help` lists them
COMMANDS = {
    "send": ("send", "send_command"),
    "status": ("status", "status_command"),
    "serve": ("serve", "serve_command"),
    "subscribe-form": ("serve", "subscribe_form_command"),
    "doctor": ("doctor", "doctor_command"),
    "bounces": ("bounces", "bounces_command"),
    "backup": ("backup", "backup_command"),
    "restore": ("backup", "restore_command"),
    "init": ("init", "init_command"),
    "subscribers": ("subscribers", "app"),
    "issue": ("issue", "app"),
    "dkim": ("dkim", "app"),
    "archive": ("archive", "app"),
}


class _Commands(MutableMapping[str, "TyperCommand | TyperGroup"]):
    """The root's commands by name: each built on first lookup. Its keys are all
    the names, so click lists them and typer suggests them ("Did you mean").
    """

    def __init__(self) -> None:
        self._built: dict[str, TyperCommand | TyperGroup] = {}

    def __getitem__(self, name: str) -> TyperCommand | TyperGroup:
        if name not in self._built:
            if name not in COMMANDS:
                raise KeyError(name)
            self._built[name] = _build(name)
        return self._built[name]

    def __setitem__(self, name: str, command: TyperCommand | TyperGroup) -> None:
        raise TypeError("the commands are listed in newsletter.cli.COMMANDS")

    def __delitem__(self, name: str) -> None:
        raise TypeError("the commands are listed in newsletter.cli.COMMANDS")

    def __iter__(self) -> Iterator[str]:
        return iter(COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS)


class _Root(TyperGroup):
    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        # click types `commands` as a mapping to any click Command, one that takes any
        # command in; _Commands holds typer's own, built on demand, and takes none in.
        self.commands = _Commands()  # type: ignore[assignment]

    def invoke(self, ctx):  # noqa: ANN001, ANN201 - click's signature
        try:
            return super().invoke(ctx)
        except NewsletterError as error:
            show_error(error)
            raise typer.Exit(error.exit_code) from None
        except (sqlite3.Error, OSError) as error:
            if not is_fault(error):
                raise
            fault = database_fault(error)
            show_error(fault)
            raise typer.Exit(fault.exit_code) from None


def _build(name: str) -> TyperCommand | TyperGroup:
    """The click command typer makes of a command function or a typer app of subcommands."""
    module, attribute = COMMANDS[name]
    target = getattr(importlib.import_module(f"newsletter.cli.{module}"), attribute)
    command: TyperCommand | TyperGroup
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)
    else:
        single = typer.Typer(add_completion=False, rich_markup_mode=None)
        single.command(name)(target)
        built = typer.main.get_command(single)
        assert isinstance(built, TyperCommand)  # one command, no callback: typer's own
        command = built
    command.name = name
    return command


app = typer.Typer(
    cls=_Root,
    name="newsletter",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)


@app.callback()
def root() -> None:
    """Run a monthly email newsletter: subscribers, issues, sending, unsubscribes."""


def main() -> None:
    try:
        app()
    finally:
        # The process ends next: the interpreter's last collections need not walk
        # every object the command loaded (~0.2 s once rendering has been imported).
        gc.freeze()
