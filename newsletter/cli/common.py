"""What every command shares: the --project option, the consoles, the error line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from newsletter.errors import NewsletterError

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
