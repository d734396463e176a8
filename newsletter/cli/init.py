"""`newsletter init`: a new project folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from newsletter.cli.common import console


def init_command(
    directory: Annotated[Path, typer.Argument(help="The folder to create.")] = Path("."),
    name: Annotated[str, typer.Option(help="The newsletter's name.")] = "My Newsletter",
) -> None:
    """Create a project: newsletter.toml, templates/, issues/ and the database."""
    from newsletter.project import init_project

    created = init_project(directory, name)
    for path in created:
        console.print(f"created {path}")
    console.print(
        f"next: edit {directory / 'newsletter.toml'}, then `newsletter subscribers import FILE`"
    )
