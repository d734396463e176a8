"""`newsletter bounces`: a thin wrapper around newsletter.returns.processing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from newsletter.cli.common import DryRunOption, ProjectOption, console, open_project

if TYPE_CHECKING:
    from newsletter.returns.processing import ReturnsSummary

# newsletter.returns (IMAP, DSN parsing) is imported inside the command, so that
# `--help` and the other commands start fast (benchmarks/startup.py).


def bounces_command(dry_run_: DryRunOption = False, project: ProjectOption = Path(".")) -> None:
    """Read the return mailbox: bounces, complaints and mailto unsubscribes."""
    from newsletter.returns.box import open_return_box
    from newsletter.returns.processing import ReturnsProcessor

    with open_project(project) as (config, store):
        box = open_return_box(config)
        console.print(f"reading {escape(box.description)}")
        summary = ReturnsProcessor(config, store, dry_run=dry_run_).process(box)
    console.print(_table(summary))
    if dry_run_:
        console.print("dry run: nothing was changed and no message was moved")


def _table(summary: ReturnsSummary) -> Table:
    from newsletter.returns.processing import OUTCOMES

    table = Table(title=f"{summary.messages} messages read")
    table.add_column("outcome")
    table.add_column("count", justify="right")
    for outcome in OUTCOMES:
        if summary.outcomes[outcome]:
            table.add_row(outcome, str(summary.outcomes[outcome]))
    if not summary.outcomes:
        table.add_row("nothing new", "0")
    return table
