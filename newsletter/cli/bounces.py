"""`newsletter bounces`: a thin wrapper around newsletter.returns.processing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from newsletter.cli.common import DryRunOption, ProjectOption, console, open_project

if TYPE_CHECKING:
    from newsletter.returns.processing import ReturnsSummary

# newsletter.returns (IMAP, DSN parsing) is imported inside the command, so that
# `--help` and the other commands start fast (benchmarks/startup.py).

RotateKeyOption = Annotated[
    bool,
    typer.Option(
        "--rotate-key",
        help="Make a new key for the VERP return addresses (the old one is still"
        " accepted for 30 days), then read the mailbox as usual.",
    ),
]


def bounces_command(
    dry_run_: DryRunOption = False,
    rotate_key_: RotateKeyOption = False,
    project: ProjectOption = Path("."),
) -> None:
    """Read the return mailbox: bounces, complaints and mailto unsubscribes."""
    from newsletter.returns.box import open_return_box
    from newsletter.returns.processing import ReturnsProcessor
    from newsletter.sending.return_path import KEY_GRACE, rotate_key

    with open_project(project) as (config, store):
        if rotate_key_ and not dry_run_:
            rotate_key(store)
            console.print(
                f"a new VERP key signs from now on; the old one is accepted for"
                f" {KEY_GRACE.days} more days"
            )
        box = open_return_box(config)
        console.print(f"reading {escape(box.description)}")
        processor = ReturnsProcessor(config, store, dry_run=dry_run_)
        summary = processor.process(box)
        sent = 0 if dry_run_ else processor.send_probes()
    console.print(_table(summary))
    for outcome, address in summary.changed:
        console.print(f"{escape(outcome)}: {escape(address)}", soft_wrap=True)
    for address in summary.left_naming:
        console.print(f"left for a person, naming {escape(address)}", soft_wrap=True)
    if sent:
        console.print(f"probes sent: {sent}")
    console.print(
        f"probes out: {summary.probes_out} (an address is marked only if its probe bounces)"
    )
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
