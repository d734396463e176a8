"""`newsletter issue ...`: scaffold, preview and check one monthly issue."""

from __future__ import annotations

import webbrowser
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from newsletter.cli.common import ProjectOption, console
from newsletter.config import load_config
from newsletter.issue.checks import Finding, check_issue, has_errors
from newsletter.issue.rendering import prepare_issue
from newsletter.issue.scaffold import scaffold_issue
from newsletter.issue.source import display_path
from newsletter.mail.preview import write_preview
from newsletter.project import open_project

app = typer.Typer(help="Write, preview and check an issue.", no_args_is_help=True)

SlugArgument = Annotated[
    str, typer.Argument(help="The issue's name, e.g. 2026-12 (issues/SLUG.md).")
]


@app.command("new")
def new_command(
    slug: SlugArgument,
    subject: Annotated[str | None, typer.Option(help="The subject line.")] = None,
    project: ProjectOption = Path("."),
) -> None:
    """Create issues/SLUG.md with front matter and a sample body (never overwrites)."""
    config = load_config(project)
    path = scaffold_issue(config, slug, subject)
    console.print(f"created {escape(display_path(config, path))}")
    console.print(f"next: edit it, then `newsletter issue preview {slug}`")


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
    with open_project(project) as (config, store):
        preview = write_preview(config, store, slug, to)
    who = f"{preview.recipient} (sample)" if preview.sample else preview.recipient
    console.print(f"preview for {escape(who)}:")
    for kind, path in preview.files.items():
        console.print(f"  {escape(display_path(config, path))}  {_size(preview.sizes[kind])}")
    _show_findings(preview.findings)
    if open_browser:
        webbrowser.open(preview.files["html"].resolve().as_uri())
    if has_errors(preview.findings):
        raise typer.Exit(1)


@app.command("check")
def check_command(slug: SlugArgument, project: ProjectOption = Path(".")) -> None:
    """Check an issue: errors exit non-zero, warnings are shown."""
    config = load_config(project)
    findings = check_issue(config, prepare_issue(config, slug))
    _show_findings(findings)
    if has_errors(findings):
        raise typer.Exit(1)


def _show_findings(findings: list[Finding]) -> None:
    for finding in findings:
        style = "bold red" if finding.level == "error" else "yellow"
        console.print(f"[{style}]{finding.level}:[/] {escape(finding.message)}", soft_wrap=True)
    errors = sum(finding.level == "error" for finding in findings)
    warnings = len(findings) - errors
    if not findings:
        console.print("checks: no problems found")
    else:
        console.print(f"checks: {errors} error(s), {warnings} warning(s)")


def _size(size: int) -> str:
    return f"{size / 1024:.1f} KB" if size >= 1024 else f"{size} B"
