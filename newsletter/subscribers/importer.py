"""CSV -> validated subscribers, merged into the store in one transaction.

The file is streamed in batches: each batch is validated in Python, looked up
in the database with one query, and written with a few `executemany` calls, so
100,000 rows take seconds and memory does not grow with the file. Rows that
fail are reported with their line number and never hold back the others.
People who left (unsubscribed, bounced, forgotten) are never made active again
unless the caller asks with `resubscribe=True`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from newsletter.db.backup import automatic_backup
from newsletter.db.recovery import replay_journal
from newsletter.errors import InputError
from newsletter.i18n.languages import NETWORK_LANGUAGES
from newsletter.subscribers import columns
from newsletter.subscribers.address_normaliser import AddressNormaliser
from newsletter.subscribers.addresses import address_key, clean_field
from newsletter.subscribers.bulk_import import BulkImport
from newsletter.subscribers.csv_reader import (
    check_file,
    detect_encoding,
    header_candidates,
    records,
)
from newsletter.subscribers.model import Subscriber, merged
from newsletter.subscribers.store import Store

BATCH_ROWS = 1000
OUTCOMES = ("added", "updated", "unchanged", "resubscribed", "suppressed", "duplicates")


@dataclass(frozen=True)
class Reject:
    line: int
    reason: str


@dataclass
class ImportReport:
    """What an import did (or, with dry_run, would do): counts and line-numbered rejects."""

    path: Path
    encoding: str
    delimiter: str
    dry_run: bool
    attributes: list[str] = field(default_factory=list)  # attribute keys made from extra columns
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    resubscribed: int = 0  # people who had left, active again (only with resubscribe)
    suppressed: int = 0  # people who left: not made active, nothing changed
    duplicates: int = 0  # rows for an address already seen earlier in the file, merged
    rejects: list[Reject] = field(default_factory=list)
    notes: list[Reject] = field(default_factory=list)  # imported, with a value left out (language)

    @property
    def rejected(self) -> int:
        return len(self.rejects)

    def counts(self) -> dict[str, int]:
        """Every outcome in display order, rejected last."""
        return {**{name: getattr(self, name) for name in OUTCOMES}, "rejected": self.rejected}

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


@dataclass(frozen=True)
class Row:
    """One valid CSV record, cleaned: nothing in it can carry a line break."""

    line: int
    key: str
    email: str
    profile: dict[str, str]
    attributes: dict[str, str]
    status: str | None  # None when the file has no status for the row
    source: str
    subscribed_at: str

    @property
    def wants_active(self) -> bool:
        return self.status in (None, "active")


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
) -> ImportReport:
    """Import `path` into the store; the whole file is one transaction.

    A dry run performs the same work inside the transaction and rolls it back,
    so it reports exactly the numbers a real run would.
    """
    check_file(path)
    encoding = detect_encoding(path, encoding)
    delimiter, mapping = _choose_columns(path, encoding)
    report = ImportReport(path, encoding, delimiter, dry_run, mapping.attribute_keys())
    event_source = clean_field(source) or f"import {path.name}"
    parser = columns.RowParser(
        mapping, source=event_source, source_wins=bool(source), languages=languages
    )
    lines = records(path, encoding, delimiter)
    next(lines)  # the header
    if not dry_run:
        automatic_backup(store.conn, f"before-import-{path.stem}")
    try:
        with store.write():
            merger = _Merger(store, report, resubscribe, event_source)
            merger.bulk.begin()
            for batch in _batches(_parse(lines, parser, report), batch_rows):
                merger.merge(batch)
            merger.bulk.end()
            if dry_run:
                raise _Rollback
            _settle_with_journal(store, merger)
    except _Rollback:
        pass
    else:
        merger.bulk.journal_changes([], merger.back, "import")
    return report


def _settle_with_journal(store: Store, merger: _Merger) -> None:
    """Before the import commits: journal who it marks as gone, and apply every
    unsubscribe that arrived while it held the database (the web handler
    journals them at once and answers; see newsletter.journal)."""
    merger.bulk.journal_changes(merger.left, [], "import")
    if store.journal is not None:
        replay_journal(store.conn, store.journal)


def _choose_columns(path: Path, encoding: str) -> tuple[str, columns.ColumnMap]:
    """The delimiter whose header has an email column (the widest header wins a tie)."""
    found = []
    for delimiter, header in header_candidates(path, encoding).items():
        mapping = columns.map_header(header)
        if mapping.has_email:
            found.append((len(header), delimiter, mapping))
    if not found:
        first = header_candidates(path, encoding)[","]
        shown = ", ".join(clean_field(name) for name in first[:8]) or "nothing"
        raise InputError(
            f"{path} has no email column (its first line reads: {shown[:120]})",
            hint="the header row needs a column named Email or E-mail address",
        )
    _width, delimiter, mapping = max(found, key=lambda item: item[0])
    return delimiter, mapping


def _parse(
    lines: Iterable[tuple[int, list[str]]], parser: columns.RowParser, report: ImportReport
) -> Iterator[Row]:
    normalise = AddressNormaliser()
    for line, fields in lines:
        try:
            values = parser.parse(fields)
            email = normalise(values.pop("email"))
        except InputError as error:
            report.rejects.append(Reject(line, error.message))
            continue
        note = values.pop("note")
        if note:
            report.notes.append(Reject(line, note))
        yield Row(line=line, key=address_key(email), email=email, **values)


def _batches(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


class _Merger:
    """Applies rows in file order, one batch at a time, as if one by one."""

    def __init__(self, store: Store, report: ImportReport, resubscribe: bool, event_source: str):
        self.store = store
        self.report = report
        self.resubscribe = resubscribe
        self.event_source = event_source
        self.forgotten = store.suppressed_hashes()
        self.hash_address = store.address_hasher()
        self.bulk = BulkImport(store)
        self.left: list[str] = []  # keys this import marks as gone: journalled
        self.back: list[str] = []  # keys it makes active again (resubscribe)

    def merge(self, rows: list[Row]) -> None:
        now = self.store.clock()
        found = self.bulk.lookup(sorted({row.key for row in rows}))
        state = {key: subscriber for key, (subscriber, _seen) in found.items()}
        seen = {key for key, (_subscriber, was_seen) in found.items() if was_seen}
        pending = _Pending()
        for row in rows:
            outcome = self._apply(row, state, pending, now)
            self.report.count("duplicates" if row.key in seen else outcome)
            seen.add(row.key)
        self.bulk.write(
            new=list(pending.new.values()),
            changed=list(pending.changed.values()),
            events=pending.events,
            unsuppress=pending.unsuppress,
            seen=sorted(seen),
            source=self.event_source,
        )

    def _apply(
        self, row: Row, state: dict[str, Subscriber | None], pending: _Pending, now: str
    ) -> str:
        current: Subscriber | None = state.get(row.key)
        if current is None:
            return self._apply_new(row, state, pending, now)
        if current.status != "active":
            if not (self.resubscribe and row.wants_active):
                return "suppressed"
            back = merged(current, row.profile, row.attributes, status="active")
            pending.record(state, row.key, back, ("imported", "resubscribed"))
            self.back.append(row.key)
            return "resubscribed"
        if not row.wants_active:
            left = merged(current, row.profile, row.attributes, status=row.status, now=now)
            pending.record(state, row.key, left, ("unsubscribed", f"{row.status} in the file"))
            self.left.append(row.key)
            return "suppressed"
        updated = merged(current, row.profile, row.attributes)
        if updated == current:
            return "unchanged"
        pending.record(state, row.key, updated, ("imported", "updated"))
        return "updated"

    def _apply_new(
        self, row: Row, state: dict[str, Subscriber | None], pending: _Pending, now: str
    ) -> str:
        forgotten = bool(self.forgotten) and self.hash_address(row.email) in self.forgotten
        if forgotten and not (self.resubscribe and row.wants_active):
            return "suppressed"
        status = row.status or "active"
        subscriber = Subscriber(
            id=0,
            email=row.email,
            name=row.profile["name"],
            organisation=row.profile["organisation"],
            language=row.profile["language"],
            attributes=dict(row.attributes),
            status=status,
            source=row.source,
            subscribed_at=row.subscribed_at or now,
            unsubscribed_at=None if status == "active" else now,
            left_via=None if status == "active" else "import",
        )
        detail = "added" if status == "active" else f"added as {status}"
        pending.record(state, row.key, subscriber, ("imported", detail), new=True)
        if status != "active":
            self.left.append(row.key)
        if forgotten:
            pending.unsuppress.append(row.email)
            self.back.append(row.key)
            return "resubscribed"
        return "added" if status == "active" else "suppressed"


class _Pending:
    """The writes one batch has collected: new rows, changed rows, events."""

    def __init__(self) -> None:
        self.new: dict[str, Subscriber] = {}
        self.changed: dict[str, Subscriber] = {}
        self.events: list[tuple[str, str, str]] = []
        self.unsuppress: list[str] = []

    def record(
        self,
        state: dict[str, Subscriber | None],
        key: str,
        subscriber: Subscriber,
        event: tuple[str, str],
        new: bool = False,
    ) -> None:
        state[key] = subscriber
        if new or key in self.new:
            self.new[key] = subscriber
        else:
            self.changed[key] = subscriber
        self.events.append((key, *event))
