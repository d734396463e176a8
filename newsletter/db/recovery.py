"""Keep the database and the journal in step: seed, replay, and refuse to start blank.

Every command that opens a project calls `connect_journal`. The database
remembers how far into the journal it has applied (`meta.journal_offset`); a
database restored from an older copy remembers an older offset, so everything
recorded since is replayed into it: who left is unsubscribed again, and
deliveries move forward (never back) to what the journal says. A project that
has no journal yet gets one, seeded from its database.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import TypeVar

from newsletter.db.journal import Entry, Journal, JournalTail, journal_path
from newsletter.errors import DatabaseError

BACKUP_DIR_NAME = "backups"
BATCH = 5000
RANK = "CASE status WHEN 'sending' THEN 1 WHEN 'sent' THEN 2 WHEN 'failed' THEN 2 ELSE 0 END"
STATE_RANK = {"queued": 0, "sending": 1, "sent": 2, "failed": 2}
T = TypeVar("T")


def has_history(database_path: Path) -> str | None:
    """What shows that this project had a database, or None for a new project."""
    journal = Journal.open(journal_path(database_path))
    if journal is not None and journal.size() > len(_header_line(journal)):
        return f"{journal.path.name} records its history"
    backups = database_path.parent / BACKUP_DIR_NAME
    if backups.is_dir() and any(backups.glob("*.db")):
        return f"{BACKUP_DIR_NAME}/ holds backups of it"
    return None


def connect_journal(db: sqlite3.Connection, database_path: Path, *, replay: bool = True) -> Journal:
    """The project's journal, created (and seeded) if missing, replayed into the database."""
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
        with _write(db):
            _set_meta(db, journal, journal.size())
        return journal
    if journal.salt != salt:
        if _meta(db, "journal_id") is not None or _has_people(db):
            raise DatabaseError(
                f"{database_path.name} and {path.name} belong to different projects",
                hint="put back this project's own journal, or restore this project's database",
            )
        with _write(db):  # a new, empty database adopts the journal's salt
            db.execute("UPDATE meta SET value = ? WHERE key = 'suppression_salt'", [journal.salt])
    if replay:
        replay_journal(db, journal)
    return journal


def replay_journal(
    db: sqlite3.Connection, journal: Journal, *, sent_here: str | None = None
) -> int:
    """Apply what the journal holds beyond what this database has seen; returns entries applied.

    `sent_here`: an issue whose delivery lines beyond the database's offset this
    process wrote itself, each with a database change that succeeded (a send that
    ended without a fault): they are skipped unread.
    """
    known = _meta(db, "journal_id") == journal.id
    start = int(_meta(db, "journal_offset") or 0) if known else 0
    if start > journal.size():
        start = 0  # the journal was cut short: read all that is left
    if known and start == journal.size():
        return 0
    skip = journal.delivery_prefix(sent_here) if sent_here is not None and known else None
    with _write(db):
        entries = journal.entries(start, skip=skip)
        applied, end = _apply(db, journal, entries, full=not known or start == 0)
        _set_meta(db, journal, max(end, start))
    return applied


def _apply(
    db: sqlite3.Connection,
    journal: Journal,
    entries: Iterator[tuple[int, Entry | None]],
    *,
    full: bool,
) -> tuple[int, int]:
    people: dict[str, Entry] = {}
    deliveries: dict[tuple[str, int], Entry] = {}  # the last word on each delivery
    applied, end = 0, 0
    for end, entry in entries:  # noqa: B007 - end is the offset after the last entry read
        if entry is None:  # skipped unread: already in the database
            continue
        applied += 1
        if entry.kind in "LB":
            people[entry.address] = entry
        elif entry.kind == "I":
            _restore_issue(db, entry)
        else:
            deliveries[(entry.fields[1], entry.subscriber_id)] = entry
    for batch in _chunks(deliveries.values(), BATCH):
        _apply_deliveries(db, journal, batch)
    _apply_people(db, journal, people, full=full)
    return applied, end


def _restore_issue(db: sqlite3.Connection, entry: Entry) -> None:
    """An issue the database has never heard of: known again, not started."""
    _kind, at, slug, content_hash, subject = entry.fields
    db.execute(
        "INSERT OR IGNORE INTO issues (slug, subject, content_hash, created_at) VALUES (?, ?, ?, ?)",
        [slug, subject, content_hash, at],
    )


def _apply_deliveries(db: sqlite3.Connection, journal: Journal, entries: list[Entry]) -> None:
    """Move each delivery forward to the state the journal recorded (never back)."""
    keys = _verified_ids(db, journal, {e.subscriber_id: e.address for e in entries})
    now = _now()
    rows = [
        (e.fields[1], e.subscriber_id, e.fields[2])
        for e in entries
        if keys.get(e.subscriber_id) == e.address and e.fields[2] in STATE_RANK
    ]
    # A row the database lost is frozen again with its reader's language as it is now
    # (the journal does not keep it), as the send froze it, so status counts it cheaply.
    db.executemany(
        "INSERT OR IGNORE INTO deliveries (issue_slug, subscriber_id, status, updated_at, language)"
        " SELECT ?, id, 'queued', ?, language FROM subscribers"
        " WHERE id = ? AND EXISTS (SELECT 1 FROM issues WHERE slug = ?)",
        [(slug, now, sid, slug) for slug, sid, _state in rows],
    )
    db.executemany(
        f"UPDATE deliveries SET status = ?, updated_at = ?,"
        f" sent_at = CASE WHEN ? = 'sent' THEN coalesce(sent_at, ?) ELSE sent_at END"
        f" WHERE issue_slug = ? AND subscriber_id = ? AND {RANK} < ?",
        [(state, now, state, now, slug, sid, STATE_RANK[state]) for slug, sid, state in rows],
    )


def _apply_people(
    db: sqlite3.Connection, journal: Journal, people: dict[str, Entry], *, full: bool
) -> None:
    """Whoever left, by the journal's last word on them, is unsubscribed (or suppressed)."""
    leaving = [entry for entry in people.values() if entry.kind == "L"]
    keys = _verified_ids(db, journal, {e.subscriber_id: e.address for e in leaving})
    unmatched = {e.address for e in leaving if keys.get(e.subscriber_id) != e.address}
    found = _ids_by_hash(db, journal, unmatched) if full and unmatched else {}
    for entry in leaving:
        if entry.address in unmatched:
            subscriber_id = found.get(entry.address)
        else:
            subscriber_id = entry.subscriber_id
        if subscriber_id is None:
            _suppress(db, entry)
        else:
            _unsubscribe(db, subscriber_id, entry)
    back = [(entry.address,) for entry in people.values() if entry.kind == "B"]
    db.executemany("DELETE FROM suppressions WHERE address_hash = ? AND reason = 'left'", back)


def _unsubscribe(db: sqlite3.Connection, subscriber_id: int, entry: Entry) -> None:
    _kind, at, _id, _hash, via = entry.fields
    if via == "forgotten":  # erased at their request: a restored copy must not bring them back
        _erase(db, subscriber_id, entry)
        return
    status = "bounced" if via == "bounce" else "unsubscribed"
    cursor = db.execute(
        "UPDATE subscribers SET status = ?, unsubscribed_at = ?, left_via = ?, updated_at = ?"
        " WHERE id = ? AND status = 'active'",
        [status, at, via, _now(), subscriber_id],
    )
    if cursor.rowcount:
        db.execute(
            "INSERT INTO events (at, kind, subscriber_id, source, detail)"
            " VALUES (?, 'unsubscribed', ?, 'journal', ?)",
            [_now(), subscriber_id, f"{via} at {at}, replayed from the journal"],
        )


def _erase(db: sqlite3.Connection, subscriber_id: int, entry: Entry) -> None:
    db.execute("DELETE FROM events WHERE subscriber_id = ?", [subscriber_id])
    db.execute(
        "UPDATE deliveries SET subscriber_id = NULL, last_error = NULL WHERE subscriber_id = ?",
        [subscriber_id],
    )
    db.execute("DELETE FROM subscribers WHERE id = ?", [subscriber_id])
    db.execute(
        "INSERT OR IGNORE INTO suppressions (address_hash, reason, created_at)"
        " VALUES (?, 'forgotten', ?)",
        [entry.address, entry.fields[1]],
    )


def _suppress(db: sqlite3.Connection, entry: Entry) -> None:
    """Someone this database does not hold: an import will not add them back."""
    reason = "forgotten" if entry.fields[4] == "forgotten" else "left"
    db.execute(
        "INSERT OR IGNORE INTO suppressions (address_hash, reason, created_at) VALUES (?, ?, ?)",
        [entry.address, reason, entry.fields[1]],
    )


def _verified_ids(
    db: sqlite3.Connection, journal: Journal, wanted: dict[int, str]
) -> dict[int, str]:
    """id -> address hash, for the ids that exist here (a restored copy may lack some)."""
    if not wanted:
        return {}
    rows = db.execute(
        "SELECT id, email_key FROM subscribers WHERE id IN (SELECT value FROM json_each(?))",
        [json.dumps(list(wanted))],
    )
    return {row[0]: journal.hash(row[1]) for row in rows}


def _ids_by_hash(db: sqlite3.Connection, journal: Journal, hashes: set[str]) -> dict[str, int]:
    """The slow way (every address hashed): only when replaying a whole journal."""
    found = {}
    for subscriber_id, email_key in db.execute("SELECT id, email_key FROM subscribers"):
        address = journal.hash(email_key)
        if address in hashes:
            found[address] = subscriber_id
    return found


def delivered_hashes(journal: Journal, slug: str) -> dict[str, str]:
    """address hash -> the last state the journal recorded for `slug` (for the freeze)."""
    states: dict[str, str] = {}
    for _end, entry in journal.entries(only=journal.delivery_prefix(slug)):
        if entry is not None:
            states[entry.address] = entry.fields[2]  # the last word counts
    return {a: state for a, state in states.items() if STATE_RANK.get(state, 0) > 0}


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
    db.executemany(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
        [("journal_id", journal.id), ("journal_offset", str(offset))],
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextmanager
def _write(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE, or a savepoint inside a caller's transaction (an import's)."""
    if conn.in_transaction:
        conn.execute("SAVEPOINT journal_replay")
        try:
            yield
            conn.execute("RELEASE journal_replay")
        except BaseException:
            conn.execute("ROLLBACK TO journal_replay")
            conn.execute("RELEASE journal_replay")
            raise
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


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
