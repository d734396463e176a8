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
    from newsletter.issue.checks import Finding
    from newsletter.subscribers.store import Store

# emoji=False: a subject or an address with ":name:" in it is printed as written
console = Console(highlight=False, emoji=False)
err_console = Console(stderr=True, highlight=False, emoji=False)

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


def show_findings(findings: list[Finding]) -> None:
    """The checks' errors and warnings, one line each, then the count."""
    for finding in findings:
        style = "bold red" if finding.level == "error" else "yellow"
        console.print(f"[{style}]{finding.level}:[/] {escape(finding.message)}", soft_wrap=True)
    errors = sum(finding.level == "error" for finding in findings)
    warnings = len(findings) - errors
    if not findings:
        console.print("checks: no problems found")
    else:
        console.print(f"checks: {errors} error(s), {warnings} warning(s)")


@contextmanager
def open_project(
    directory: Path, *, check_addresses: bool = True
) -> Iterator[tuple[Config, Store]]:
    """newsletter.project.open_project, imported on first use.

    The command modules import the core inside their commands, so that
    `newsletter --help` and `status` start in a blink (benchmarks/startup.py).
    """
    from newsletter.project import open_project as open_core_project

    with open_core_project(directory, check_addresses=check_addresses) as opened:
        yield opened
