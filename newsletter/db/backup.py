"""Backups: consistent copies of the database, checked, kept in `backups/`, pruned.

A copy is made with SQLite's online backup, so it is consistent even while a
send or `newsletter serve` writes. Every copy is integrity-checked before it
counts: a damaged database is reported, never saved over a good backup.
Restoring (newsletter.history.restore) puts a copy in place (history/placing.py), in
one rename, then replays the journal into it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from newsletter.db.faults import RESTORE, database_fault
from newsletter.db.recovery import BACKUP_DIR_NAME
from newsletter.errors import DatabaseError

KEEP = 5
PREFIX = "newsletter-"
KINDS = (".db", ".zip")  # a database copy (automatic), an archive of the project (`backup`)


def backup_dir(database_path: Path) -> Path:
    return database_path.parent / BACKUP_DIR_NAME


def check_integrity(
    conn: sqlite3.Connection, *, quick: bool = False, what: str = "the database"
) -> None:
    """One line naming the damage, if SQLite finds any (quick: pages and structure only)."""
    pragma = "quick_check" if quick else "integrity_check"
    try:
        problems = [row[0] for row in conn.execute(f"PRAGMA {pragma}(5)")]
    except sqlite3.DatabaseError as error:
        problems = [str(error)]
    if problems != ["ok"]:
        raise DatabaseError(f"{what} is damaged: {problems[0]}", hint=RESTORE)


def backup_database(db: sqlite3.Connection, destination: Path) -> Path:
    """Copy the open database to `destination`, checked; never leaves a partial file."""
    destination = Path(destination)
    partial = destination.with_name(destination.name + ".partial")
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)
        with closing(sqlite3.connect(str(partial))) as target:
            db.backup(target)
            check_integrity(target, what="the database")
        os.replace(partial, destination)
    except (sqlite3.Error, OSError) as error:
        raise database_fault(error, f"backup to {destination} failed") from None
    finally:
        partial.unlink(missing_ok=True)
    return destination


def automatic_backup(db: sqlite3.Connection, reason: str) -> Path | None:
    """A backup in `backups/` before an import or a send's first run; keeps the last few.

    Skipped for a database that holds nobody yet (nothing to lose).
    """
    if not _holds_anyone(db):
        return None
    directory = backup_dir(database_file(db))
    path = backup_database(db, new_backup_name(directory, reason))
    prune(directory)
    return path


def start_automatic_backup(db: sqlite3.Connection, reason: str) -> PendingBackup | None:
    """`automatic_backup`, made in a thread while the caller goes on: SQLite copies
    and checks without holding Python's lock, so the send prepares its issue
    meanwhile. Nothing counts until `keep()`; `discard()` leaves no trace."""
    if not _holds_anyone(db):
        return None
    return PendingBackup(database_file(db), reason)


class PendingBackup:
    """A checked copy being made from its own connection (a consistent snapshot)."""

    def __init__(self, database: Path, reason: str) -> None:
        self.path = new_backup_name(backup_dir(database), reason)
        self._copy = self.path.with_name(self.path.name + ".pending")  # never pruned as a backup
        self._error: BaseException | None = None
        self._kept = False
        self._thread = threading.Thread(target=self._make, args=(database,), daemon=True)
        self._thread.start()

    def _make(self, database: Path) -> None:
        try:
            with closing(sqlite3.connect(str(database))) as source:
                backup_database(source, self._copy)
        except BaseException as error:  # raised by keep(), in the caller's thread
            self._error = error

    def keep(self) -> Path:
        """Wait for the copy; put it in place as automatic_backup would (or raise its
        error: a damaged database, a full disk)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        try:
            os.replace(self._copy, self.path)
        except OSError as error:
            raise database_fault(error, f"backup to {self.path} failed") from None
        self._kept = True
        prune(self.path.parent)
        return self.path

    def discard(self) -> None:
        """Wait for the copy and delete it, unless it was kept."""
        self._thread.join()
        if not self._kept:
            self._copy.unlink(missing_ok=True)


def _holds_anyone(db: sqlite3.Connection) -> bool:
    """A database with nobody in it has nothing to lose: no backup is made."""
    return bool(db.execute("SELECT EXISTS (SELECT 1 FROM subscribers)").fetchone()[0])


def database_file(db: sqlite3.Connection) -> Path:
    """Where an open database lives."""
    row = db.execute("PRAGMA database_list").fetchone()
    return Path(row[2])


def prune(directory: Path, keep: int = KEEP) -> list[Path]:
    """Delete all but the `keep` newest backups of each kind (database copies, whole
    archives), by their time-stamped names."""
    pruned = []
    for kind in KINDS:
        backups = sorted(directory.glob(f"{PREFIX}*{kind}"), key=lambda p: p.name, reverse=True)
        for old in backups[keep:]:
            old.unlink(missing_ok=True)
        pruned += backups[keep:]
    return pruned


def list_backups(database_path: Path) -> list[Path]:
    """The backups in `backups/` (database copies and archives), newest first."""
    directory = backup_dir(database_path)
    found = [path for kind in KINDS for path in directory.glob(f"{PREFIX}*{kind}")]
    return sorted(found, key=lambda p: p.name, reverse=True)


def new_backup_name(directory: Path, reason: str, suffix: str = ".db") -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in reason)[:60]
    return directory / f"{PREFIX}{stamp()}-{safe}{suffix}"


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
