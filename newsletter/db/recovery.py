"""The journal beside a database: attach it, seed it, say what the database lacks.

Every command that opens a project calls `connect_journal`. The database
remembers how far into the journal it has applied (`meta.journal_offset`); a
database restored from an older copy remembers an older offset, so
`unapplied_facts` returns everything recorded since, and newsletter.history
applies it through the domain's own functions (no rule is repeated here). A
project that has no journal yet gets one, seeded from its database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TypeVar

from newsletter.db.journal import Entry, Journal, JournalTail, journal_path
from newsletter.errors import DatabaseError

BACKUP_DIR_NAME = "backups"
BATCH = 5000
DELIVERED = ("sending", "sent", "failed")  # a journalled state that means "has it, or may"
T = TypeVar("T")


def has_history(database_path: Path) -> str | None:
    """What shows that this project had a database, or None for a new project."""
    journal = Journal.open(journal_path(database_path))
    if journal is not None and journal.size() > len(_header_line(journal)):
        return f"{journal.path.name} records its history"
    backups = database_path.parent / BACKUP_DIR_NAME
    if backups.is_dir() and any(p.suffix in (".db", ".zip") for p in backups.iterdir()):
        return f"{BACKUP_DIR_NAME}/ holds backups of it"
    return None


def connect_journal(db: sqlite3.Connection, database_path: Path) -> Journal:
    """The project's journal, created (and seeded from the database) if there is none.

    Applying what it holds is newsletter.history's (through the domain's own
    functions); here is only the file and how far this database has read it.
    """
    path = journal_path(database_path)
    journal = Journal.open(path)
    salt = _meta(db, "suppression_salt")
    if salt is None:  # the first migration writes it; without it no address can be matched
        raise DatabaseError(
            f"{database_path.name} has no suppression salt",
            hint="restore the newest good backup: `newsletter restore`",
        )
    if journal is None:
        journal = Journal.create(path, salt)
        _seed(db, journal)
        _set_meta(db, journal, journal.size())
        return journal
    if journal.salt != salt:
        if _meta(db, "journal_id") is not None or _has_people(db):
            raise DatabaseError(
                f"{database_path.name} and {path.name} belong to different projects",
                hint="put back this project's own journal, or restore this project's database",
            )
        # a new, empty database adopts the journal's salt
        db.execute("UPDATE meta SET value = ? WHERE key = 'suppression_salt'", [journal.salt])
    return journal


@dataclass
class Facts:
    """What the journal holds beyond what a database has applied, each fact's last word."""

    people: dict[str, Entry] = field(default_factory=dict)  # by address hash
    deliveries: dict[tuple[str, int], Entry] = field(default_factory=dict)  # (slug, id)
    issues: list[Entry] = field(default_factory=list)
    read: int = 0  # entries read
    end: int = 0  # the offset after the last one
    whole: bool = False  # read from the start: ids cannot be trusted, hashes are matched


def unapplied_facts(
    db: sqlite3.Connection, journal: Journal, *, sent_here: str | None = None
) -> Facts | None:
    """The facts since this database's offset (None: it has them all).

    `sent_here`: an issue whose delivery lines beyond the offset this process wrote
    itself, each with a database change that succeeded: they are skipped unread.
    """
    known = _meta(db, "journal_id") == journal.id
    start = int(_meta(db, "journal_offset") or 0) if known else 0
    if start > journal.size():
        start = 0  # the journal was cut short: read all that is left
    if known and start == journal.size():
        return None
    skip = journal.delivery_prefix(sent_here) if sent_here is not None and known else None
    facts = Facts(end=start, whole=not known or start == 0)
    for end, entry in journal.entries(start, skip=skip):
        facts.end = end
        if entry is None:  # skipped unread: already in the database
            continue
        facts.read += 1
        if entry.kind in "LB":
            facts.people[entry.address] = entry
        elif entry.kind == "I":
            facts.issues.append(entry)
        else:
            facts.deliveries[(entry.fields[1], entry.subscriber_id)] = entry
    return facts


def mark_applied(db: sqlite3.Connection, journal: Journal, offset: int) -> None:
    """This database now holds everything the journal says up to `offset`."""
    _set_meta(db, journal, offset)


def delivered_hashes(journal: Journal, slug: str) -> dict[str, str]:
    """address hash -> the last state the journal recorded for `slug` (for the freeze)."""
    states: dict[str, str] = {}
    for _end, entry in journal.entries(only=journal.delivery_prefix(slug)):
        if entry is not None:
            states[entry.address] = entry.fields[2]  # the last word counts
    return {a: state for a, state in states.items() if state in DELIVERED}


def applied_offset(db: sqlite3.Connection, journal: Journal) -> int:
    """How far into the journal this database is known to be complete."""
    if _meta(db, "journal_id") != journal.id:
        return 0
    return int(_meta(db, "journal_offset") or 0)


# --- seeding a new journal from the database ------------------------------------------


def _seed(db: sqlite3.Connection, journal: Journal) -> None:
    for batch in _chunks(_seed_records(db, journal), BATCH):
        journal.append(batch, sync=False)
    journal.append([], sync=True)


def _seed_records(db: sqlite3.Connection, journal: Journal) -> Iterator[tuple[object, ...]]:
    for row in db.execute(
        "SELECT id, email_key, coalesce(unsubscribed_at, updated_at), coalesce(left_via, status)"
        " FROM subscribers WHERE status != 'active' ORDER BY id"
    ):
        yield ("L", row[2], row[0], journal.hash(row[1]), row[3])
    for address, reason, at in db.execute(
        "SELECT address_hash, reason, created_at FROM suppressions"
    ):
        yield ("L", at, 0, address, reason)
    for slug, subject, content_hash, at in db.execute(
        "SELECT slug, subject, content_hash, coalesce(started_at, created_at) FROM issues"
        " WHERE started_at IS NOT NULL ORDER BY slug"
    ):
        yield ("I", at, slug, content_hash, subject)
    for slug, status, subscriber_id, email_key in db.execute(
        "SELECT d.issue_slug, d.status, d.subscriber_id, s.email_key FROM deliveries d"
        " JOIN subscribers s ON s.id = d.subscriber_id"
        " WHERE d.status IN ('sending', 'sent', 'failed') ORDER BY d.id"
    ):
        yield ("D", slug, status, subscriber_id, journal.hash(email_key))


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


# --- small helpers ------------------------------------------------------------------------


def _header_line(journal: Journal) -> str:
    return f"# newsletter journal 1 id={journal.id} salt={journal.salt}\n"


def _has_people(db: sqlite3.Connection) -> bool:
    return bool(db.execute("SELECT EXISTS (SELECT 1 FROM subscribers)").fetchone()[0])


def _meta(db: sqlite3.Connection, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def _set_meta(db: sqlite3.Connection, journal: Journal, offset: int) -> None:
    """One statement: the id and the offset change together, in or out of a transaction."""
    db.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('journal_id', ?), ('journal_offset', ?)",
        [journal.id, str(offset)],
    )


class LeftWatch:
    """Who left since the database last caught up with the journal.

    An unsubscribe answered while an import held the database is in the journal
    before it is in the database; a claim checks here too. It follows the
    journal's end with one open handle, so a check costs one read() call.
    """

    def __init__(self, db: sqlite3.Connection, journal: Journal | None) -> None:
        self._db, self._journal = db, journal
        self._tail: JournalTail | None = None
        self._left: set[int] = set()

    def has_left(self, subscriber_id: int) -> bool:
        if self._journal is None:
            return False
        if self._tail is None:  # opened at the first claim, from where the database is complete
            self._tail = self._journal.tail(applied_offset(self._db, self._journal))
        for entry in self._tail.new_people():
            if entry.kind == "L":
                self._left.add(entry.subscriber_id)
            else:
                self._left.discard(entry.subscriber_id)
        return subscriber_id in self._left

    def close(self) -> None:
        if self._tail is not None:
            self._tail.close()
