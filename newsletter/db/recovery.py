"""Where a database stands against the journal beside it.

The database remembers how far into the journal it has applied
(`meta.journal_offset`, under the journal's id). The opener asks whether a
project had a history (`has_history`); a freeze asks from where to read who
already had an issue (`unplaced_from`, `delivered_hashes`); a claim asks who left
since (`LeftWatch`). Reading and applying what a database lacks is
newsletter.history's (facts.py, replay.py), through the domain's own functions.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from newsletter.db.journal import Journal, JournalTail, journal_path

BACKUP_DIR_NAME = "backups"
DELIVERED = ("sending", "sent", "failed")  # a journalled state that means "has it, or may"


def has_history(database_path: Path) -> str | None:
    """What shows that this project had a database, or None for a new project."""
    journal = Journal.open(journal_path(database_path))
    if journal is not None and journal.size() > len(journal.header()):
        return f"{journal.path.name} records its history"
    backups = database_path.parent / BACKUP_DIR_NAME
    if backups.is_dir() and any(p.suffix in (".db", ".zip") for p in backups.iterdir()):
        return f"{BACKUP_DIR_NAME}/ holds backups of it"
    return None


def unplaced_from(db: sqlite3.Connection, journal: Journal) -> int:
    """Where a freeze starts reading the journal for people who already had an issue.

    The database's own offset when every delivery line before it was placed on a
    row here (the usual case: a freeze reads nothing of the past); the start when
    a replay met lines it could not place (a database rebuilt empty, or older than
    some of its people), which only a match by address hash can honour.
    """
    if meta_value(db, "journal_unplaced") == journal.id:
        return 0
    return applied_offset(db, journal)


def delivered_hashes(journal: Journal, slug: str, start: int = 0) -> dict[str, str]:
    """address hash -> the last state the journal recorded for `slug` from byte
    `start` (see `unplaced_from`), for the freeze."""
    states: dict[str, str] = {}
    for _end, entry in journal.entries(start, only=journal.delivery_prefix(slug)):
        if entry is not None:
            states[entry.address] = entry.fields[2]  # the last word counts
    return {a: state for a, state in states.items() if state in DELIVERED}


def applied_offset(db: sqlite3.Connection, journal: Journal) -> int:
    """How far into the journal this database is known to be complete."""
    if meta_value(db, "journal_id") != journal.id:
        return 0
    return int(meta_value(db, "journal_offset") or 0)


# --- small helpers ------------------------------------------------------------------------


def meta_value(db: sqlite3.Connection, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def set_applied(db: sqlite3.Connection, journal: Journal, offset: int) -> None:
    """The database has applied `journal` up to `offset` (one statement: id and offset
    change together, in or out of a transaction)."""
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
