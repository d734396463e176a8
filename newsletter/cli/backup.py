"""`newsletter backup` and `newsletter restore`: thin wrappers around newsletter.db.backup."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from newsletter.cli.common import ProjectOption, YesOption, console
from newsletter.errors import NewsletterError


def backup_command(
    file: Annotated[
        Path | None,
        typer.Argument(help="Where to write the copy; default: backups/ (the last 5 are kept)."),
    ] = None,
    project: ProjectOption = Path("."),
) -> None:
    """A consistent, checked copy of the database: safe at any time, even during a send."""
    from newsletter.db.backup import make_backup  # here, so `--help` starts fast
    from newsletter.project import open_project

    with open_project(project) as (_config, store):
        path = make_backup(store.conn, file)
    console.print(f"backup written to {escape(str(path))} (integrity check: ok)", soft_wrap=True)


def restore_command(
    file: Annotated[
        Path | None, typer.Argument(help="The backup to restore; default: the newest in backups/.")
    ] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the backups, newest first.")] = False,
    empty: Annotated[
        bool,
        typer.Option(
            "--empty",
            help="No backup at all: start an EMPTY database (import your subscribers again);"
            " the journal keeps everyone who left suppressed and every issue's recipients marked.",
        ),
    ] = False,
    yes: YesOption = False,
    project: ProjectOption = Path("."),
) -> None:
    """Put a backup back in place of the database, then replay the journal into it.

    Everything recorded since the backup was made (unsubscribes, deliveries) is
    applied again, so nobody who left is mailed and nobody gets an issue twice.
    Stop `newsletter serve` and any send first. The database it replaces is kept
    in backups/ as replaced-*.db.
    """
    from newsletter.config import load_config
    from newsletter.db.backup import list_backups, restore
    from newsletter.project import open_project

    database = load_config(project).database_path
    if list_:
        for path in list_backups(database):
            console.print(escape(str(path)), soft_wrap=True)
        return
    what = "an EMPTY database" if empty else f"the backup {file or 'newest in backups/'}"
    if not yes and not typer.confirm(f"Replace {database.name} with {what}?", default=False):
        raise NewsletterError("nothing was restored", hint="answer y, or pass --yes")
    result = restore(database, file, empty=empty)
    if result.set_aside is not None:
        console.print(
            f"the database it replaced is kept as {escape(str(result.set_aside))}", soft_wrap=True
        )
    source = "an empty database" if result.source is None else escape(str(result.source))
    console.print(
        f"restored {source}; {result.replayed} journal entries applied on top", soft_wrap=True
    )
    with open_project(project) as (_config, store):
        counts = store.count_by_status()
    console.print(", ".join(f"{n} {status}" for status, n in counts.items()))
