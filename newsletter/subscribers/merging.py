"""The import's rules: how the rows of a batch change the subscribers, as if one by one.

Nobody who left (here, or in the tool a file comes from) is made active by an
import unless the caller asks with `resubscribe=True`. Someone active here whom a
file says left leaves, unless they joined here (a consent record) after the time
the file gives for their leaving: the later fact wins. Rows for one address in a
batch are folded into one (later values win, a leaving wins over staying), so
re-importing a file changes nothing and says so.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from newsletter.subscribers.bulk_import import BulkImport, Found
from newsletter.subscribers.import_report import ImportReport, Reject, short_name
from newsletter.subscribers.model import Subscriber, merged
from newsletter.subscribers.store import Store


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
    left_at: str = ""  # when they left, as the file says ('' when it does not)
    consent_at: str = ""  # when they opted in there
    consent_ip: str = ""
    cleared: tuple[str, ...] = ()  # fields the file empties on purpose (language: Both)

    @property
    def wants_active(self) -> bool:
        return self.status in (None, "active")


@dataclass(frozen=True)
class ConsentSource:
    """Where imported opt-ins come from: the tool, the wording record, and whether IPs stay."""

    tool: str
    wording_id: Callable[[], int]
    record_ip: bool


def fold(rows: list[Row], file: str = "") -> tuple[list[Row], list[Row], list[Reject]]:
    """(one row per address, the rows folded into an earlier one, notes on differing values)."""
    first: dict[str, Row] = {}
    repeats: list[Row] = []
    notes: list[Reject] = []
    for row in rows:
        earlier = first.get(row.key)
        if earlier is None:
            first[row.key] = row
            continue
        repeats.append(row)
        differences = _differences(earlier, row)
        if differences:
            notes.append(Reject(row.line, _repeat_note(earlier, row, differences), file))
        first[row.key] = _laid_over(earlier, row)
    return list(first.values()), repeats, notes


def _laid_over(earlier: Row, later: Row) -> Row:
    """Later non-empty values win; a leaving wins over staying (nobody who left is mailed)."""
    profile = {key: later.profile[key] or value for key, value in earlier.profile.items()}
    status_row = earlier if later.wants_active and not earlier.wants_active else later
    return replace(
        earlier,
        profile=profile,
        attributes={**earlier.attributes, **later.attributes},
        status=status_row.status or earlier.status,
        left_at=status_row.left_at,
        source=later.source,
        subscribed_at=later.subscribed_at or earlier.subscribed_at,
        consent_at=later.consent_at or earlier.consent_at,
        consent_ip=later.consent_ip or earlier.consent_ip,
        cleared=later.cleared if later.cleared or later.profile["language"] else earlier.cleared,
    )


def _differences(earlier: Row, later: Row) -> list[tuple[str, str, str]]:
    """(what, earlier value, later value) where both rows give a value and they differ."""
    found = [
        (key, values[key], other[key])
        for values, other in (
            (earlier.profile, later.profile),
            (earlier.attributes, later.attributes),
        )
        for key in values
        if _clash(values, other, key)
    ]
    if (earlier.status or "active") != (later.status or "active"):
        found.append(("status", earlier.status or "active", later.status or "active"))
    return found


def _clash(first: dict[str, str], second: dict[str, str], key: str) -> bool:
    return bool(first.get(key)) and bool(second.get(key)) and first[key] != second[key]


def _repeat_note(earlier: Row, later: Row, differences: list[tuple[str, str, str]]) -> str:
    changes = "; ".join(
        f"{what} {new!r} (line {earlier.line}: {old!r})" for what, old, new in differences
    )
    kept = "a leaving wins" if any(what == "status" for what, _o, _n in differences) else ""
    rule = ", ".join(filter(None, ["this line's values win", kept]))
    return f"{later.email} repeats line {earlier.line} with different values: {changes}; {rule}"


class Merger:
    """Applies rows in file order, one batch at a time, as if one by one."""

    def __init__(
        self,
        store: Store,
        report: ImportReport,
        resubscribe: bool,
        event_source: str,
        consent: ConsentSource | None = None,
    ) -> None:
        self.store = store
        self.report = report
        self.resubscribe = resubscribe
        self.event_source = event_source
        self.consent = consent
        self.file = ""  # the file inside a ZIP whose rows are merged now
        self.forgotten = store.suppressed_hashes()
        self.hash_address = store.address_hasher()
        self.bulk = BulkImport(store)
        self.left: list[str] = []  # keys this import marks as gone: journalled
        self.back: list[str] = []  # keys it makes active again (resubscribe)

    def merge(self, rows: list[Row]) -> None:
        now = self.store.clock()
        folded, repeats, notes = fold(rows, self.file)
        self.report.notes.extend(notes)
        found = self.bulk.lookup(sorted(row.key for row in folded))
        pending = _Pending({key: item.subscriber for key, item in found.items()})
        for row in folded:
            before = found.get(row.key)
            current = pending.state.get(row.key)
            if before is not None and before.seen_at is not None:
                self._note_earlier_values(row, before.seen_at, current)
                self._apply(row, before, pending, now)
                self.report.count("duplicates", self._where(row.line))
                self._recount(row.key, before, pending)
                continue
            outcome = self._apply(row, before, pending, now)
            self.report.count(outcome, self._where(row.line))
            kept = _details(current) if outcome in ("updated", "unchanged") else None
            place = Reject(row.line, "", self.file).where
            pending.seen.append((row.key, place, kept, outcome if kept else None))
        for row in repeats:
            self.report.count("duplicates", self._where(row.line))
        self.bulk.write(
            new=list(pending.new.values()),
            changed=list(pending.changed.values()),
            events=pending.events,
            unsuppress=pending.unsuppress,
            seen=pending.seen,
            recounted=pending.recounted,
            source=self.event_source,
            consents=pending.consents,
        )

    def _recount(self, key: str, before: Found, pending: _Pending) -> None:
        """A later row for someone the import counted as updated or unchanged: count what
        the rows did together (a re-import that changes and changes back is unchanged)."""
        now = pending.state.get(key)
        if now is None or before.before is None or before.counted is None:
            return
        if now.status != "active":
            settled = now.status
        else:
            settled = "unchanged" if _details(now) == before.before else "updated"
        if settled != before.counted:
            self.report.recount(before.counted, settled, self._short(before.seen_at or ""))
            pending.recounted.append((settled, key))

    def _note_earlier_values(self, row: Row, seen_at: str, current: Subscriber | None) -> None:
        """A row for an address an earlier batch or file gave: name the values it replaces."""
        if current is None:
            return
        earlier = {**{key: getattr(current, key) for key in row.profile}, **current.attributes}
        later = {**row.profile, **row.attributes}
        changes = [
            f"{key} {later[key]!r} (until then: {earlier[key]!r})"
            for key in later
            if _clash(earlier, later, key)
        ]
        if changes:
            note = f"{row.email} repeats {seen_at} with different values: {'; '.join(changes)}"
            self.report.notes.append(Reject(row.line, f"{note}; this line's values win", self.file))

    def _where(self, line: int) -> str:
        return f"{short_name(self.file)} {line}" if self.file else str(line)

    @staticmethod
    def _short(place: str) -> str:
        """'cleaned_members_export_x.csv line 5' -> 'cleaned 5'; 'line 5' -> '5'."""
        file, found, line = place.rpartition(" line ")
        return f"{short_name(file)} {line}" if found else place.removeprefix("line ")

    def _apply(self, row: Row, before: Found | None, pending: _Pending, now: str) -> str:
        current = pending.state.get(row.key)
        if current is None:
            return self._apply_new(row, pending, now)
        if current.status != "active":
            if not row.wants_active:
                return "unchanged"  # gone here, gone there
            if not self.resubscribe:
                return "suppressed"
            back = merged(
                current, row.profile, row.attributes, status="active", cleared=row.cleared
            )
            pending.record(row.key, back, ("imported", "resubscribed"))
            self.back.append(row.key)
            return "resubscribed"
        if not row.wants_active and not self._joined_here_later(row, before):
            assert row.status is not None
            left = merged(
                current, row.profile, row.attributes, status=row.status, now=row.left_at or now,
                cleared=row.cleared,
            )  # fmt: skip
            pending.record(row.key, left, ("unsubscribed", f"{row.status} in {self._there()}"))
            self.left.append(row.key)
            self.report.note_left_here(current.email)
            return row.status
        updated = merged(current, row.profile, row.attributes, cleared=row.cleared)
        if updated == current:
            return "unchanged"
        pending.record(row.key, updated, ("imported", "updated"))
        return "updated"

    def _joined_here_later(self, row: Row, before: Found | None) -> bool:
        """True when their consent here is later than the leaving the file dates."""
        consented = before.consented_at if before is not None else None
        if not (row.left_at and consented and consented > row.left_at):
            return False
        self.report.notes.append(
            Reject(
                row.line,
                f"{row.email} left {self._there()} at {row.left_at} but joined here later"
                f" ({consented}); stays active",
                self.file,
            )
        )
        return True

    def _there(self) -> str:
        return self.consent.tool if self.consent else "the file"

    def _apply_new(self, row: Row, pending: _Pending, now: str) -> str:
        forgotten = bool(self.forgotten) and self.hash_address(row.email) in self.forgotten
        if forgotten and not (self.resubscribe and row.wants_active):
            return "suppressed"
        status = row.status or "active"
        active = status == "active"
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
            unsubscribed_at=None if active else row.left_at or now,
            left_via=None if active else "import",
        )
        detail = "added" if active else f"added as {status}"
        pending.record(row.key, subscriber, ("imported", detail), new=True)
        if active and row.consent_at and self.consent is not None:
            ip = _ip_address(row.consent_ip) if self.consent.record_ip else None
            pending.consents.append(
                (
                    row.consent_at,
                    self.consent.wording_id(),
                    f"{self.consent.tool} export",
                    ip,
                    row.key,
                )
            )
        if not active:
            self.left.append(row.key)
        if forgotten:
            pending.unsuppress.append(row.email)
            self.back.append(row.key)
            return "resubscribed"
        return status if not active else "added"


def _details(subscriber: Subscriber | None) -> str | None:
    """What an import may change of someone, as text to compare with later."""
    if subscriber is None:
        return None
    profile = [subscriber.name, subscriber.organisation, subscriber.language]
    return json.dumps([profile, subscriber.attributes], ensure_ascii=False, sort_keys=True)


def _ip_address(text: str) -> str | None:
    """An IP address as written, or None for anything else ('No data')."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


@dataclass
class _Pending:
    """The writes one batch has collected: new rows, changed rows, events, consents."""

    state: dict[str, Subscriber | None]
    new: dict[str, Subscriber] = field(default_factory=dict)
    changed: dict[str, Subscriber] = field(default_factory=dict)
    events: list[tuple[str, str, str]] = field(default_factory=list)
    unsuppress: list[str] = field(default_factory=list)
    consents: list[tuple[Any, ...]] = field(default_factory=list)
    seen: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)
    recounted: list[tuple[str, str]] = field(default_factory=list)

    def record(
        self, key: str, subscriber: Subscriber, event: tuple[str, str], new: bool = False
    ) -> None:
        self.state[key] = subscriber
        if new or key in self.new:
            self.new[key] = subscriber
        else:
            self.changed[key] = subscriber
        self.events.append((key, *event))
