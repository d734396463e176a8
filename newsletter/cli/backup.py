"""`newsletter backup` and `newsletter restore`: thin wrappers around newsletter.history."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from newsletter.cli.common import ProjectOption, YesOption, console, err_console
from newsletter.errors import NewsletterError


def backup_command(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="Where to write the archive (a .zip); a name ending .db gets the database"
            " alone. Default: backups/ (the last 5 are kept)."
        ),
    ] = None,
    project: ProjectOption = Path("."),
) -> None:
    """One archive of the whole project (database, journal, newsletter.toml, templates,
    issues, DKIM key): consistent at any time, even during a send."""
    from newsletter.history.backup import backup_project  # here, so `--help` starts fast
    from newsletter.project import open_project

    with open_project(project) as (config, store):
        made = backup_project(config, store, file)
    what = "database copy" if made.database_only else f"backup of {made.files} files"
    console.print(
        f"{what} written to {escape(str(made.path))} (integrity check: ok)", soft_wrap=True
    )
    if made.key_files:
        err_console.print(
            f"warning: it holds the DKIM private key ({', '.join(made.key_files)}):"
            " keep it as safe as a password",
            soft_wrap=True,
        )
    for key in made.keys_left_out:
        err_console.print(
            f"note: the DKIM key {escape(key)} is outside the project and is not in the backup",
            soft_wrap=True,
        )


def restore_command(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="The backup to restore (an archive, or a database copy);"
            " default: the newest in backups/."
        ),
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
    """Put a backup back, then replay the journal into it.

    Everything recorded since the backup was made (unsubscribes, deliveries) is
    applied again, so nobody who left is mailed and nobody gets an issue twice.
    An archive made by `newsletter backup` also restores into an empty folder.
    Stop `newsletter serve` and any send first. A copy of the database it
    replaces is kept in backups/ as replaced-*.db.
    """
    from newsletter.db.backup import list_backups
    from newsletter.history.restore import restore
    from newsletter.project import open_project

    if list_:
        from newsletter.config import load_config

        for path in list_backups(load_config(project).database_path):
            console.print(escape(str(path)), soft_wrap=True)
        return
    what = "an EMPTY database" if empty else f"the backup {file or 'newest in backups/'}"
    if not yes and not typer.confirm(f"Restore {what} into {project}?", default=False):
        raise NewsletterError("nothing was restored", hint="answer y, or pass --yes")
    result = restore(project, file, empty=empty)
    if result.set_aside is not None:
        console.print(
            f"the database it replaced is kept as {escape(str(result.set_aside))}", soft_wrap=True
        )
    if result.unpacked is not None:
        unpacked = result.unpacked
        console.print(
            f"{unpacked.changed} of the backup's {unpacked.files} project files written"
            " (the others were already as in the backup)",
            soft_wrap=True,
        )
        if result.unpacked.replaced is not None:
            console.print(
                f"the files they replaced are kept in {escape(str(result.unpacked.replaced))}",
                soft_wrap=True,
            )
    source = "an empty database" if result.source is None else escape(str(result.source))
    console.print(
        f"restored {source}; {result.replayed} journal entries applied on top", soft_wrap=True
    )
    with open_project(project) as (_config, store):
        counts = store.count_by_status()
    console.print(", ".join(f"{n} {status}" for status, n in counts.items()))
