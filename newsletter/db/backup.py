"""Backups: consistent copies of the database, checked, kept in `backups/`, pruned.

A copy is made with SQLite's online backup, so it is consistent even while a
send or `newsletter serve` writes. Every copy is integrity-checked before it
counts: a damaged database is reported, never saved over a good backup.
Restoring puts a copy back and replays the journal into it, so everything
recorded since the copy was made (unsubscribes, deliveries) still holds.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from newsletter.db.connection import connect_database
from newsletter.db.faults import database_fault
from newsletter.db.recovery import BACKUP_DIR_NAME, connect_journal, replay_journal
from newsletter.errors import DatabaseError

KEEP = 5
PREFIX = "newsletter-"
RESTORE_HINT = (
    "restore the newest good backup: `newsletter restore` (see the manual, docs/backups.md)"
)


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
        raise DatabaseError(f"{what} is damaged: {problems[0]}", hint=RESTORE_HINT)


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
    path = backup_database(db, _new_name(directory, reason))
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
        self.path = _new_name(backup_dir(database), reason)
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
    """Delete all but the `keep` newest backups (by their time-stamped names)."""
    backups = sorted(directory.glob(f"{PREFIX}*.db"), key=lambda p: p.name, reverse=True)
    for old in backups[keep:]:
        old.unlink(missing_ok=True)
    return backups[keep:]


def list_backups(database_path: Path) -> list[Path]:
    """The backups in `backups/`, newest first."""
    directory = backup_dir(database_path)
    return sorted(directory.glob(f"{PREFIX}*.db"), key=lambda p: p.name, reverse=True)


def restore_copy(database_path: Path, source: Path) -> Path:
    """Put a backup in place of the database; the one it replaces is kept aside.

    The journal replay (at the next open) brings the copy up to date. Stop
    `newsletter serve` and any send first: they hold the old file open.
    """
    source = Path(source)
    if not source.is_file():
        raise DatabaseError(f"no backup at {source}", hint="`newsletter restore --list` shows them")
    try:
        with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as backup:
            check_integrity(backup, what=f"the backup {source.name}")
            _require_newsletter(backup, source)
            replaced = set_aside(database_path, "replaced")
            partial = database_path.with_name(database_path.name + ".restoring")
            partial.unlink(missing_ok=True)
            with closing(sqlite3.connect(str(partial))) as target:
                backup.backup(target)
            os.replace(partial, database_path)
    except (sqlite3.Error, OSError) as error:
        raise database_fault(error, f"restore from {source} failed") from None
    return replaced


def set_aside(database_path: Path, why: str) -> Path:
    """Move the database (and its -wal/-shm) into backups/ under a name pruning skips."""
    aside = backup_dir(database_path) / f"{why}-{_stamp()}.db"
    aside.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        current = database_path.with_name(database_path.name + suffix)
        if current.exists():
            os.replace(current, aside.with_name(aside.name + suffix))
    return aside


def _require_newsletter(conn: sqlite3.Connection, source: Path) -> None:
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not {"subscribers", "deliveries", "meta"} <= tables:
        raise DatabaseError(f"{source} is not a newsletter database")


def _new_name(directory: Path, reason: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in reason)[:60]
    return directory / f"{PREFIX}{_stamp()}-{safe}.db"


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def make_backup(db: sqlite3.Connection, destination: Path | None = None) -> Path:
    """`newsletter backup [FILE]`: to FILE, or into backups/ (then pruned like the automatic ones)."""
    if destination is not None:
        return backup_database(db, destination)
    directory = backup_dir(database_file(db))
    path = backup_database(db, _new_name(directory, "manual"))
    prune(directory)
    return path


@dataclass(frozen=True)
class Restored:
    source: Path | None  # None: an empty database was started
    set_aside: Path | None  # where the database it replaced was kept
    replayed: int  # journal entries applied on top of the copy


def restore(database_path: Path, source: Path | None = None, *, empty: bool = False) -> Restored:
    """Put a backup back (the newest by default), or start an empty database, then
    replay the journal so that everyone who left since stays gone and nobody gets
    an issue again."""
    aside = None
    if empty:
        if database_path.exists():
            aside = set_aside(database_path, "replaced")
    else:
        source = source or _newest(database_path)
        aside = restore_copy(database_path, source)
    db = connect_database(database_path, create=True, blank=True)
    try:
        journal = connect_journal(db, database_path, replay=False)
        replayed = replay_journal(db, journal)
        journal.close()
    finally:
        db.close()
    return Restored(None if empty else source, aside, replayed)


def _newest(database_path: Path) -> Path:
    backups = list_backups(database_path)
    if not backups:
        raise DatabaseError(
            f"no backups in {backup_dir(database_path)}",
            hint="name a backup file, or see `newsletter restore --help` to start an empty database",
        )
    return backups[0]
