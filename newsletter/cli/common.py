"""What every command shares: the --project option, the consoles, the error line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from newsletter.errors import NewsletterError

if TYPE_CHECKING:
    from newsletter.config import Config
    from newsletter.subscribers.store import Store

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

ProjectOption = Annotated[
    Path,
    typer.Option(
        "--project",
        envvar="NEWSLETTER_PROJECT",
        help="The project folder holding newsletter.toml.",
        show_default="current folder",
        file_okay=False,
    ),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Report what would happen; change nothing.")
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def show_error(error: NewsletterError) -> None:
    err_console.print(f"[bold red]error:[/] {escape(error.message)}", soft_wrap=True)
    if error.hint:
        err_console.print(f"[dim]hint: {escape(error.hint)}[/]", soft_wrap=True)


@contextmanager
def open_project(directory: Path) -> Iterator[tuple[Config, Store]]:
    """newsletter.project.open_project, imported on first use.

    The command modules import the core inside their commands, so that
    `newsletter --help` and `status` start in a blink (benchmarks/startup.py).
    """
    from newsletter.project import open_project as open_core_project

    with open_core_project(directory) as opened:
        yield opened
