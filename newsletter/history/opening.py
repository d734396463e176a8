"""The journal attached to a database when a project opens: made, and seeded from
the database, when the project has none yet (a project from before the journal,
or one whose journal was moved aside by the coordinator); the salt of a new,
empty database adopted from the journal it joins."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import TypeVar

from newsletter.db.journal import Journal, journal_path
from newsletter.db.recovery import meta_value, set_applied
from newsletter.errors import DatabaseError

BATCH = 5000
T = TypeVar("T")


def connect_journal(db: sqlite3.Connection, database_path: Path) -> Journal:
    """The project's journal, created (and seeded from the database) if there is none.

    Applying what it holds is newsletter.history's (through the domain's own
    functions); here is only the file and how far this database has read it.
    """
    path = journal_path(database_path)
    journal = Journal.open(path)
    salt = meta_value(db, "suppression_salt")
    if salt is None:  # the first migration writes it; without it no address can be matched
        raise DatabaseError(
            f"{database_path.name} has no suppression salt",
            hint="restore the newest good backup: `newsletter restore`",
        )
    if journal is None:
        journal = Journal.create(path, salt)
        _seed(db, journal)
        set_applied(db, journal, journal.size())
        return journal
    if journal.salt != salt:
        if meta_value(db, "journal_id") is not None or _has_people(db):
            raise DatabaseError(
                f"{database_path.name} and {path.name} belong to different projects",
                hint="put back this project's own journal, or restore this project's database",
            )
        # a new, empty database adopts the journal's salt
        db.execute("UPDATE meta SET value = ? WHERE key = 'suppression_salt'", [journal.salt])
    return journal


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


def _has_people(db: sqlite3.Connection) -> bool:
    return bool(db.execute("SELECT EXISTS (SELECT 1 FROM subscribers)").fetchone()[0])
