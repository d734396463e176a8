"""`newsletter issue ...`: scaffold, preview and check one monthly issue."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from newsletter.cli.common import ProjectOption, console, open_project, show_findings

# The core is imported inside each command, so `--help` and `status` start fast
# (benchmarks/startup.py): this module must not pull in rendering, premailer or waitress.

app = typer.Typer(
    help="Write, preview and check an issue.", no_args_is_help=True, rich_markup_mode=None
)

SlugArgument = Annotated[
    str,
    typer.Argument(
        help="The issue's name, e.g. 2026-12 (issues/SLUG.md, or SLUG.cy.md and SLUG.en.md)."
    ),
]


@app.command("new")
def new_command(
    slug: SlugArgument,
    subject: Annotated[str | None, typer.Option(help="The subject line.")] = None,
    project: ProjectOption = Path("."),
) -> None:
    """Create issues/SLUG.md with front matter and a sample body (never overwrites)."""
    from newsletter.config import load_config
    from newsletter.issue.scaffold import scaffold_issue
    from newsletter.issue.source import display_path

    config = load_config(project)
    paths = scaffold_issue(config, slug, subject)
    for path in paths:
        console.print(f"created {escape(display_path(config, path))}")
    them = "them" if len(paths) > 1 else "it"
    console.print(f"next: edit {them}, then `newsletter issue preview {slug}`")


@app.command("preview")
def preview_command(
    slug: SlugArgument,
    to: Annotated[
        str | None,
        typer.Option("--to", help="Render for this subscriber (a sample one if unknown)."),
    ] = None,
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the HTML in a browser.")
    ] = False,
    project: ProjectOption = Path("."),
) -> None:
    """Write build/SLUG/ (index.html, text.txt, message.eml) for one recipient; run the checks."""
    import webbrowser

    from newsletter.issue.checks import has_errors
    from newsletter.issue.source import display_path
    from newsletter.mail.preview import write_preview

    with open_project(project) as (config, store):
        preview = write_preview(config, store, slug, to)
    who = f"{preview.recipient} (sample)" if preview.sample else preview.recipient
    console.print(f"preview for {escape(who)}:")
    for kind, path in preview.files.items():
        console.print(f"  {escape(display_path(config, path))}  {_size(preview.sizes[kind])}")
    show_findings(preview.findings)
    if open_browser and not webbrowser.open(preview.files["html"].resolve().as_uri()):
        console.print(
            f"no web browser found to open it: open {escape(str(preview.files['html']))} yourself",
            soft_wrap=True,
        )
    if has_errors(preview.findings):
        raise typer.Exit(1)


@app.command("check")
def check_command(slug: SlugArgument, project: ProjectOption = Path(".")) -> None:
    """Check an issue: errors exit non-zero, warnings are shown."""
    from newsletter.issue.checks import has_errors
    from newsletter.mail.preview import check_for_readers

    with open_project(project) as (config, store):
        findings = check_for_readers(config, store, slug)
    show_findings(findings)
    if has_errors(findings):
        raise typer.Exit(1)


def _size(size: int) -> str:
    return f"{size / 1024:.1f} KB" if size >= 1024 else f"{size} B"
