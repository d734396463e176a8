"""CSV (or a ZIP of CSVs) -> validated subscribers, merged into the store in one transaction.

Each file is streamed in batches: each batch is validated in Python, looked up
in the database with one query, and written with a few `executemany` calls, so
100,000 rows take seconds and memory does not grow with the file. Rows that
fail are reported with their line number and never hold back the others.
Another tool's export is recognised by its columns (`formats/`): its statuses,
times and opt-ins are read, and the columns nobody should hold are dropped.
The rules for who becomes what are in `merging.py`.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path, PurePosixPath

from newsletter.db.backup import automatic_backup
from newsletter.errors import InputError
from newsletter.i18n.languages import NETWORK_LANGUAGES
from newsletter.subscribers import columns
from newsletter.subscribers.address_normaliser import AddressNormaliser
from newsletter.subscribers.addresses import address_key, clean_field
from newsletter.subscribers.consent import register_wording
from newsletter.subscribers.csv_reader import (
    check_file,
    detect_encoding,
    header_candidates,
    records,
)
from newsletter.subscribers.formats import ExportFormat, recognise
from newsletter.subscribers.import_report import FileRead, ImportReport, Reject
from newsletter.subscribers.merging import ConsentSource, Merger, Row
from newsletter.subscribers.store import Store

__all__ = ["BATCH_ROWS", "ImportReport", "Reject", "import_csv"]

BATCH_ROWS = 1000
# The consent record of someone who opted in with another tool: its export has the
# time (and the IP), never the words they agreed to.
IMPORTED_CONSENT = (
    "Opted in with {tool} before the list moved here; {tool}'s export does not include"
    " the wording they agreed to."
)


@dataclass(frozen=True)
class _Plan:
    """One CSV, read far enough to know how: before anything is written."""

    path: Path
    name: str  # the member's name inside a ZIP; '' for the file itself
    encoding: str
    delimiter: str
    mapping: columns.ColumnMap
    export: ExportFormat


class _Rollback(Exception):
    """Raised inside the transaction to undo a dry run."""


def import_csv(
    store: Store,
    path: Path,
    *,
    dry_run: bool = False,
    resubscribe: bool = False,
    source: str | None = None,
    encoding: str | None = None,
    batch_rows: int = BATCH_ROWS,
    languages: tuple[str, ...] = NETWORK_LANGUAGES,
    status: str | None = None,
    keep: Iterable[str] = (),
    record_ip: bool = False,
) -> ImportReport:
    """Import `path` (a CSV, or a ZIP of them such as Mailchimp's) as one transaction.

    `status` is the status of rows the file gives none for (a file of leavers);
    `keep` names columns to store that are dropped by default; `record_ip` keeps
    the IP addresses of imported opt-ins. A dry run performs the same work inside
    the transaction and rolls it back, so it reports exactly what a real run would.
    """
    check_file(path)
    default_status = columns.parse_status(status) if status else None
    keep_keys = frozenset(columns.header_key(name) for name in keep)
    report = ImportReport(path, dry_run)
    with _csv_files(path) as files:
        plans = [_plan(file, name, encoding, keep_keys) for file, name in files]
        plans.sort(key=lambda plan: (plan.export.status is None, plan.name))  # leavers first
        _check_kept(keep, plans, path)
        if not dry_run:
            automatic_backup(store.conn, f"before-import-{path.stem}")
        event_source = clean_field(source) or f"import {path.name}"
        merger = Merger(store, report, resubscribe, event_source)
        wordings: dict[str, int] = {}
        try:
            with store.write():
                merger.bulk.begin()
                for plan in plans:
                    consent = _consent_source(store, plan.export.tool, wordings, record_ip)
                    parser = columns.RowParser(
                        plan.mapping,
                        source=clean_field(source) or _row_source(plan, path),
                        source_wins=bool(source),
                        languages=languages,
                        export=plan.export,
                        status=default_status,
                    )
                    _merge_file(plan, parser, merger, consent, batch_rows)
                merger.bulk.end()
                if dry_run:
                    raise _Rollback
                _settle_with_journal(store, merger)
        except _Rollback:
            pass
        else:
            merger.bulk.journal_changes([], merger.back, "import")
    return report


def _merge_file(
    plan: _Plan,
    parser: columns.RowParser,
    merger: Merger,
    consent: ConsentSource | None,
    batch_rows: int,
) -> None:
    report = merger.report
    report.files.append(FileRead(plan.name, plan.encoding, plan.delimiter, plan.export.name))
    report.add_names(plan.mapping.attribute_keys(), _not_stored(plan.mapping, consent))
    merger.file, merger.consent = plan.name, consent
    lines = records(plan.path, plan.encoding, plan.delimiter)
    next(lines)  # the header
    for batch in _batches(_parse(lines, parser, report, plan.name), batch_rows):
        merger.merge(batch)


def _not_stored(mapping: columns.ColumnMap, consent: ConsentSource | None) -> tuple[str, ...]:
    """The dropped columns, and the IP columns an opt-in is read with unless IPs are kept."""
    if consent is not None and consent.record_ip:
        return mapping.dropped
    ips = [i for name, i in mapping.fields.items() if name in ("consent_ip", "optin_ip")]
    return mapping.dropped + tuple(mapping.names[i] for i in sorted(ips))


def _consent_source(
    store: Store, tool: str, wordings: dict[str, int], record_ip: bool
) -> ConsentSource | None:
    """Imported opt-ins are recorded against one stored wording per tool, made when first needed."""
    if not tool:
        return None

    def wording_id() -> int:
        if tool not in wordings:
            text = IMPORTED_CONSENT.format(tool=tool)
            wordings[tool] = register_wording(store, "en", text).id
        return wordings[tool]

    return ConsentSource(tool, wording_id, record_ip)


def _row_source(plan: _Plan, path: Path) -> str:
    name = plan.name or path.name
    return f"{plan.export.tool} export {name}" if plan.export.tool else f"import {name}"


def _settle_with_journal(store: Store, merger: Merger) -> None:
    """Before the import commits: journal who it marks as gone, and apply every
    unsubscribe that arrived while it held the database (the web handler
    journals them at once and answers; see newsletter.db.journal)."""
    merger.bulk.journal_changes(merger.left, [], "import")
    store.catch_up()


@contextmanager
def _csv_files(path: Path) -> Iterator[list[tuple[Path, str]]]:
    """[(file, name)]: the file itself, or each CSV inside a ZIP (leavers' files first)."""
    if not zipfile.is_zipfile(path):
        yield [(path, "")]
        return
    with tempfile.TemporaryDirectory(prefix="newsletter-import-") as tmp:
        yield _extract(path, Path(tmp))


def _extract(path: Path, folder: Path) -> list[tuple[Path, str]]:
    """Copy each CSV out of the ZIP under a name of our own (never the member's path)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = [info for info in archive.infolist() if _is_csv(info)]
            extracted = []
            for number, info in enumerate(members):
                target = folder / f"{number}.csv"
                with archive.open(info) as source, target.open("wb") as copy:
                    shutil.copyfileobj(source, copy)
                extracted.append((target, PurePosixPath(info.filename).name))
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError) as error:
        raise InputError(f"cannot read the ZIP file {path}: {error}") from None
    if not extracted:
        raise InputError(
            f"{path} is a ZIP file with no CSV file inside",
            hint="an Excel workbook? save it as CSV (comma separated) and import that",
        )
    return extracted


def _is_csv(info: zipfile.ZipInfo) -> bool:
    name = PurePosixPath(info.filename)
    hidden = name.name.startswith(".") or "__MACOSX" in name.parts
    return not info.is_dir() and not hidden and name.suffix.lower() in (".csv", ".txt")


def _plan(file: Path, name: str, encoding: str | None, keep: frozenset[str]) -> _Plan:
    """How to read one CSV: its encoding, delimiter, format and columns (or one clear error)."""
    try:
        check_file(file)
        found = detect_encoding(file, encoding)
        delimiter, mapping, export = _choose_columns(file, found, keep)
    except InputError as error:
        if not name:
            raise
        message = error.message.replace(str(file), f"{name} (in the ZIP file)")
        raise InputError(message, hint=error.hint) from None
    return _Plan(file, name, found, delimiter, mapping, export)


def _choose_columns(
    path: Path, encoding: str, keep: frozenset[str]
) -> tuple[str, columns.ColumnMap, ExportFormat]:
    """The delimiter whose header has an email column (the widest header wins a tie)."""
    found = []
    for delimiter, header in header_candidates(path, encoding).items():
        export = recognise(frozenset(columns.header_key(name) for name in header))
        mapping = columns.map_header(header, export, keep)
        if mapping.has_email:
            found.append((len(header), delimiter, mapping, export))
    if not found:
        first = header_candidates(path, encoding)[","]
        shown = ", ".join(clean_field(name) for name in first[:8]) or "nothing"
        raise InputError(
            f"{path} has no email column (its first line reads: {shown[:120]})",
            hint="the header row needs a column named Email or E-mail address",
        )
    _width, delimiter, mapping, export = max(found, key=lambda item: item[0])
    return delimiter, mapping, export


def _check_kept(keep: Iterable[str], plans: list[_Plan], path: Path) -> None:
    """--keep COLUMN must name a column of the file(s): a typo is one line, not a silent no."""
    present = {key for plan in plans for key in plan.mapping.kept}
    for name in keep:
        if columns.header_key(name) not in present:
            raise InputError(
                f"--keep {name}: {path.name} has no column of that name that is left out",
                hint="the import summary lists the columns not stored, e.g. --keep REGION",
            )


def _parse(
    lines: Iterable[tuple[int, list[str]]],
    parser: columns.RowParser,
    report: ImportReport,
    file: str,
) -> Iterator[Row]:
    normalise = AddressNormaliser()
    for line, fields in lines:
        try:
            values = parser.parse(fields)
            email = normalise(values.pop("email"))
        except InputError as error:
            report.rejects.append(Reject(line, error.message, file))
            continue
        note = values.pop("note")
        if note:
            report.notes.append(Reject(line, note, file))
        yield Row(line=line, key=address_key(email), email=email, **values)


def _batches(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch
