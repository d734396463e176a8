"""`newsletter archive ...`: the public archive of sent issues."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from newsletter.cli.common import ProjectOption, console, open_project

app = typer.Typer(
    help="The public archive: every sent issue, with nothing personal in it.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command("build")
def build_command(
    folder: Annotated[
        Path,
        typer.Argument(
            help="Where to write the pages and feeds (made if missing).", file_okay=False
        ),
    ],
    project: ProjectOption = Path("."),
) -> None:
    """Write the archive's pages and Atom feeds as static files, for any web host."""
    from newsletter.archive.static import build_archive

    with open_project(project) as (config, store):
        built = build_archive(config, store, folder)
    console.print(
        f"wrote {built.files} files ({built.issues} sent issues) into {escape(str(built.folder))}",
        soft_wrap=True,
    )
    for slug in built.without_copy:
        console.print(
            f"[yellow]warning:[/] {escape(slug)} was sent but has no public copy (sent by an"
            f" older version?): `newsletter archive add {escape(slug)}` publishes it",
            soft_wrap=True,
        )
    console.print(
        f"publish that folder at {escape(config.base_url)}/archive/ (the address every message names)",
        soft_wrap=True,
    )


@app.command("add")
def add_command(
    slug: Annotated[str, typer.Argument(help="The sent issue, e.g. 2026-12.")],
    allow_changes: Annotated[
        bool,
        typer.Option(
            "--allow-changes",
            help="Publish the issue as its file is now, even if that is not what was sent.",
        ),
    ] = False,
    project: ProjectOption = Path("."),
) -> None:
    """Publish a sent issue that has no public copy (one sent by an older version)."""
    from newsletter.archive.adding import add_sent_issue

    with open_project(project) as (config, store):
        changed = add_sent_issue(config, store, slug, allow_changes=allow_changes)
    note = " (as its file is now, not as it was sent)" if changed else ""
    console.print(f"{escape(slug)} is in the archive{note}", soft_wrap=True)
