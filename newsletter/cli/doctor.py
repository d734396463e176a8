"""`newsletter doctor`: the deliverability preflight, one line per check."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from newsletter.cli.common import ProjectOption, console

if TYPE_CHECKING:
    from newsletter.doctor import Finding

# newsletter.doctor (DNS, HTTP, cryptography) is imported inside the command,
# so that `--help` and the other commands start fast (benchmarks/startup.py).
STYLE = {"ok": "green", "warning": "yellow", "problem": "bold red"}  # by Level value


def doctor_command(
    nameserver: Annotated[
        str | None,
        typer.Option(
            metavar="HOST[:PORT]",
            help="Ask this DNS server instead of the system's (split-horizon networks).",
        ),
    ] = None,
    project: ProjectOption = Path("."),
) -> None:
    """Check what stands between this project and the inbox: config, relay login,
    DKIM, SPF, DMARC, the bounce domain, base_url. Exits 1 when a problem is found."""
    from newsletter.doctor import Level, run_doctor

    findings = run_doctor(project, nameserver)
    for finding in findings:
        console.print(_line(finding), soft_wrap=True)
    problems = sum(finding.level is Level.PROBLEM for finding in findings)
    warnings = sum(finding.level is Level.WARNING for finding in findings)
    console.print(f"{problems} problem(s), {warnings} warning(s)")
    if problems:
        raise typer.Exit(1)


def _line(finding: Finding) -> str:
    text = f"[{STYLE[finding.level.value]}]{finding.level.value:<8}[/] {finding.topic}: {escape(finding.message)}"
    if finding.action:
        text += f" -> {escape(finding.action)}"
    return text
