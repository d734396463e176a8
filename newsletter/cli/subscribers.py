"""`newsletter subscribers ...`: add, import, export, list, remove, forget.

Thin: each command parses its options, calls one core function and prints the
result. Tokens are credentials, so no command here ever shows one.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from newsletter.cli.common import DryRunOption, ProjectOption, YesOption, console, open_project
from newsletter.errors import InputError

if TYPE_CHECKING:
    from newsletter.subscribers.importer import ImportReport
    from newsletter.subscribers.model import Subscriber

# The core is imported inside each command, so `--help` and `status` start fast
# (benchmarks/startup.py).

app = typer.Typer(
    help="Add, import, export, list and remove subscribers.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

StatusOption = Annotated[
    str | None,
    typer.Option(
        "--status", help="Only subscribers with this status: active, unsubscribed, bounced."
    ),
]
ResubscribeOption = Annotated[
    bool,
    typer.Option(
        "--resubscribe",
        help="Make people who unsubscribed, bounced or were forgotten active again"
        " (only when they asked to join again).",
    ),
]


@app.command("add")
def add_command(
    email: Annotated[str, typer.Argument(help="The address to add or update.")],
    name: Annotated[str, typer.Option(help="Full name.")] = "",
    organisation: Annotated[str, typer.Option(help="Organisation.")] = "",
    language: Annotated[
        str, typer.Option(help="Language of their newsletter: cy, en (or Cymraeg, English).")
    ] = "",
    resubscribe: ResubscribeOption = False,
    project: ProjectOption = Path("."),
) -> None:
    """Add one subscriber, or update the details of an existing one."""
    with open_project(project) as (config, store):
        result = store.add_subscriber(
            email,
            name=name,
            organisation=organisation,
            language=language,
            source="cli",
            resubscribe=resubscribe,
            languages=config.languages,
        )
    console.print(f"{result.outcome} {escape(result.subscriber.email)}")


@app.command("import")
def import_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="The CSV file (`,` `;` or tab separated), or a ZIP of them"
            " (Mailchimp's audience export as downloaded)."
        ),
    ],
    dry_run: DryRunOption = False,
    resubscribe: ResubscribeOption = False,
    source: Annotated[
        str | None,
        typer.Option(help="Where these people came from (default: import FILENAME)."),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(help="The file's encoding, e.g. cp1252 (default: detected)."),
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="The status of rows the file gives none for, e.g. unsubscribed"
            " for a file of people who left (never makes a leaver active).",
        ),
    ] = None,
    keep: Annotated[
        list[str] | None,
        typer.Option(
            "--keep",
            metavar="COLUMN",
            help="Store a column that is dropped by default (IPs, locations, the other"
            " tool's ids), as an attribute. Repeat for more.",
        ),
    ] = None,
    project: ProjectOption = Path("."),
) -> None:
    """Import subscribers from a CSV file (or another tool's export), as one transaction."""
    from newsletter.subscribers.importer import import_csv

    with open_project(project) as (config, store):
        report = import_csv(
            store, file, dry_run=dry_run, resubscribe=resubscribe, source=source,
            encoding=encoding, languages=config.languages, status=status, keep=keep or (),
            record_ip=config.subscribe.record_ip,
        )  # fmt: skip
    _print_report(report)


@app.command("export")
def export_command(
    file: Annotated[
        Path | None, typer.Argument(help="Write here (UTF-8 with BOM); default: stdout.")
    ] = None,
    status: StatusOption = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="JSON with every field and the consent record, not CSV."),
    ] = False,
    project: ProjectOption = Path("."),
) -> None:
    """Write subscribers as CSV that `import` reads back unchanged (or as JSON)."""
    from newsletter.subscribers.exporter import export_csv, export_file, export_json

    with open_project(project) as (config, store):
        if file is None:
            (export_json if as_json else export_csv)(store, sys.stdout, status)
            return
        count = export_file(store, config.output_file(file), status, as_json=as_json)
    console.print(f"exported {count} subscribers to {escape(str(file))}")


@app.command("list")
def list_command(
    status: StatusOption = None,
    search: Annotated[
        str | None, typer.Option(help="Only addresses, names or organisations containing this.")
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="A JSON array for scripts, with consent records (no tokens)."),
    ] = False,
    project: ProjectOption = Path("."),
) -> None:
    """Show subscribers as a table, or as JSON with --json."""
    from newsletter.subscribers.exporter import export_json

    with open_project(project) as (_config, store):
        if as_json:
            export_json(store, sys.stdout, status, search)
        else:
            _print_table(store.list_subscribers(status, search))


@app.command("remove")
def remove_command(
    email: Annotated[str, typer.Argument(help="The address to unsubscribe.")],
    project: ProjectOption = Path("."),
) -> None:
    """Unsubscribe someone; their row stays, so no import re-adds them."""
    with open_project(project) as (_config, store):
        before = store.require(email)
        after = store.remove(email)
    if before.status == "active":
        console.print(f"unsubscribed {escape(after.email)}; they will not be mailed again")
    else:
        console.print(f"{escape(after.email)} was already {after.status}; nothing changed")


@app.command("forget")
def forget_command(
    email: Annotated[str, typer.Argument(help="The address to erase.")],
    yes: YesOption = False,
    project: ProjectOption = Path("."),
) -> None:
    """Erase someone's data; keep only a hashed suppression."""
    with open_project(project) as (_config, store):
        subscriber = store.require(email)
        if not yes and not _confirm_forget(subscriber.email):
            console.print(f"{escape(subscriber.email)} was not forgotten; nothing changed")
            return
        store.forget(subscriber.email)
    console.print(f"forgot {escape(subscriber.email)}; the address stays suppressed")


def _confirm_forget(email: str) -> bool:
    try:
        return typer.confirm(
            f"Erase {email}, their details and their history for good?"
            " Only a hashed suppression stays, so imports never re-add them.",
            default=False,
        )
    except typer.Abort:  # no terminal to ask (end of input), or Ctrl-C
        raise InputError(
            f"{email} was not forgotten: the question was not answered",
            hint="answer y, or pass --yes to erase without asking",
        ) from None


def _print_report(report: ImportReport) -> None:
    for reject in report.rejects:
        console.print(f"{reject.where}: {escape(reject.reason)}", soft_wrap=True)
    for note in report.notes:
        console.print(f"{note.where}: [yellow]{escape(note.reason)}[/]", soft_wrap=True)
    console.print(f"import of {escape(report.path.name)}{_read_as(report)}", soft_wrap=True)
    table = Table()
    table.add_column("outcome")
    table.add_column("rows", justify="right")
    table.add_column("lines, for example" if len(report.files) < 2 else "file and line")
    for outcome, count in report.counts().items():
        table.add_row(outcome, str(count), _lines(report, outcome, count))
    console.print(table)
    if report.left_here:
        more = report.left_here_count - len(report.left_here)
        names = ", ".join(report.left_here) + (f" and {more} more" if more else "")
        console.print(
            f"were active here, now gone as the file says: {escape(names)}", soft_wrap=True
        )
    if report.attributes:
        console.print(f"extra columns kept as attributes: {escape(', '.join(report.attributes))}")
    if report.dropped:
        console.print(
            f"columns not stored: {escape(', '.join(report.dropped))}"
            " (keep one with --keep COLUMN)",
            soft_wrap=True,
        )
    if report.dry_run:
        console.print("dry run: nothing was written")


def _read_as(report: ImportReport) -> str:
    """' (read as utf-8)' for a plain sheet; the format of each file otherwise."""
    shown = []
    for read in report.files:
        encoding = "utf-8" if read.encoding == "utf-8-sig" else read.encoding
        kind = "" if read.format_name == "a spreadsheet" else f"{read.format_name}, "
        name = f"{escape(read.name)}: " if read.name else ""
        shown.append(f"{name}read as {escape(kind)}{encoding}")
    if len(shown) == 1 and not report.files[0].name:
        return f" ({shown[0]})"
    return "".join(f"\n  {line}" for line in shown)


def _lines(report: ImportReport, outcome: str, count: int) -> str:
    if outcome == "rejected":
        places = [reject.where.removeprefix("line ") for reject in report.rejects[:5]]
    else:
        places = report.lines.get(outcome, [])
    return escape(", ".join(places) + (", …" if count > len(places) else ""))


TABLE_PAGE = 500  # rows per printed page: a million subscribers stream out, never one huge table


def _print_table(subscribers: Iterator[Subscriber]) -> None:
    """A page of rows at a time, so memory stays flat at any list size.

    On a terminal each page is a rich table (names wrap, addresses never do);
    into a pipe or a file, plain aligned columns that never wrap: rich costs
    about 0.6 ms a row, which is ten minutes for a million subscribers.
    """
    terminal = console.is_terminal
    count = 0
    for page in _pages(map(_table_row, subscribers), TABLE_PAGE):
        if terminal:
            table, needed = _table(page, header=count == 0)
            # Wider than the terminal only when the addresses themselves are too wide for it.
            Console(highlight=False, emoji=False, width=max(console.width, needed)).print(table)
        else:
            _write_plain(page, header=count == 0)
        count += len(page)
    console.print(f"{count} subscriber{'' if count == 1 else 's'}")


def _table_row(subscriber: Subscriber) -> tuple[str, ...]:
    return (
        subscriber.email,
        subscriber.name,
        subscriber.organisation,
        subscriber.language,
        subscriber.status,
        (subscriber.subscribed_at or "")[:10],
    )


def _pages(rows: Iterator[tuple[str, ...]], size: int) -> Iterator[list[tuple[str, ...]]]:
    page: list[tuple[str, ...]] = []
    for row in rows:
        page.append(row)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


def _write_plain(rows: list[tuple[str, ...]], *, header: bool) -> None:
    if header:
        rows = [tuple(name for _n, name in _HEADERS), *rows]
    widths = [max(cell_len(row[n]) for row in rows) for n, _name in _HEADERS]
    out = sys.stdout
    for row in rows:
        cells = (
            cell + " " * (width - cell_len(cell)) for cell, width in zip(row, widths, strict=True)
        )
        out.write("  ".join(cells).rstrip() + "\n")
    out.flush()


_WRAPPING_LEAST = 8  # name and organisation wrap, but not narrower than this


def _table(rows: list[tuple[str, ...]], *, header: bool = True) -> tuple[Table, int]:
    """(table, width it needs): names wrap; an address never wraps and is never shortened."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, show_header=header)
    widths = [max(len(header), *(len(row[n]) for row in rows)) for n, header in _HEADERS]
    table.add_column("email", no_wrap=True, min_width=widths[0])
    for title in ("name", "organisation"):
        table.add_column(title, overflow="fold", ratio=1)
    for title in ("lang", "status", "subscribed"):
        table.add_column(title, no_wrap=True)
    for row in rows:
        table.add_row(*(escape(value) for value in row))
    needed = widths[0] + 2 * _WRAPPING_LEAST + sum(widths[3:]) + 2 * (len(_HEADERS) - 1)
    return table, needed


_HEADERS = list(enumerate(("email", "name", "organisation", "lang", "status", "subscribed")))
