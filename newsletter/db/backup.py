"""Backups: consistent copies of the database, checked, kept in `backups/`, pruned.

A copy is made with SQLite's online backup, so it is consistent even while a
send or `newsletter serve` writes. Every copy is integrity-checked before it
counts: a damaged database is reported, never saved over a good backup.
Restoring (newsletter.history.restore) puts a copy in place with `install`, in
one rename, then replays the journal into it.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from newsletter.db.connection import connect_database
from newsletter.db.faults import database_fault
from newsletter.db.recovery import BACKUP_DIR_NAME
from newsletter.errors import DatabaseError

KEEP = 5
PREFIX = "newsletter-"
KINDS = (".db", ".zip")  # a database copy (automatic), an archive of the project (`backup`)
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


def prepare_copy(database_path: Path, source: Path) -> Path:
    """A checked copy of the backup at `source`, beside the database, ready for `install`."""
    source = Path(source)
    if not source.is_file():
        raise DatabaseError(f"no backup at {source}", hint="`newsletter restore --list` shows them")
    partial = _incoming(database_path)
    try:
        with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as backup:
            check_integrity(backup, what=f"the backup {source.name}")
            _require_newsletter(backup, source)
            with closing(sqlite3.connect(str(partial))) as target:
                backup.backup(target)
    except (sqlite3.Error, OSError) as error:
        partial.unlink(missing_ok=True)
        raise database_fault(error, f"restore from {source} failed") from None
    return partial


def prepare_empty(database_path: Path) -> Path:
    """A new, empty database beside the database, ready for `install`."""
    partial = _incoming(database_path)
    connect_database(partial, create=True, blank=True).close()
    return partial


def install(database_path: Path, incoming: Path) -> Path | None:
    """`incoming` (a whole, closed database) takes the database's place in one rename,
    so a kill at any moment leaves the old database or the new one, never none.

    The old one is first copied into backups/ (returned), and its WAL folded into
    it: a WAL left beside the new file would be applied to it. Stop `newsletter
    serve` and any send first: they hold the old file open.
    """
    try:
        aside = _copy_aside(database_path, "replaced")
        if not _fold_wal(database_path):  # damaged: its copy (with the WAL) is aside
            _remove_wal(database_path)
        os.replace(incoming, database_path)
        _remove_wal(database_path)
    except (sqlite3.Error, OSError) as error:
        raise database_fault(
            error, f"cannot put the restored database in place of {database_path}"
        ) from None
    finally:
        incoming.unlink(missing_ok=True)
    return aside


def _incoming(database_path: Path) -> Path:
    partial = database_path.with_name(database_path.name + ".restoring")
    for suffix in ("", "-wal", "-shm", "-journal"):  # left by a restore that was killed
        partial.with_name(partial.name + suffix).unlink(missing_ok=True)
    return partial


def _copy_aside(database_path: Path, why: str) -> Path | None:
    """A copy of the database in backups/ under a name pruning skips (None: no database)."""
    if not database_path.exists() or database_path.stat().st_size == 0:
        return None
    aside = backup_dir(database_path) / f"{why}-{stamp()}.db"
    aside.parent.mkdir(parents=True, exist_ok=True)
    try:
        with (
            closing(sqlite3.connect(str(database_path))) as current,
            closing(sqlite3.connect(str(aside))) as copy,
        ):
            current.backup(copy)
    except sqlite3.Error:  # damaged: its files as they are
        aside.unlink(missing_ok=True)
        for suffix in ("", "-wal", "-shm"):
            current_file = database_path.with_name(database_path.name + suffix)
            if current_file.exists():
                shutil.copyfile(current_file, aside.with_name(aside.name + suffix))
    return aside


def _fold_wal(database_path: Path) -> bool:
    """Checkpoint the database's WAL into it and end it; False if it cannot be read."""
    if not database_path.exists():
        return True
    try:
        with closing(sqlite3.connect(str(database_path), timeout=1)) as current:
            current.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            current.execute("PRAGMA journal_mode=DELETE").fetchall()  # the WAL file goes
    except sqlite3.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            raise DatabaseError(
                f"{database_path.name} is in use: nothing was restored",
                hint="stop `newsletter serve` and any send, then run restore again",
            ) from None
        return False
    except sqlite3.Error:
        return False
    return True


def _remove_wal(database_path: Path) -> None:
    for suffix in ("-wal", "-shm"):
        database_path.with_name(database_path.name + suffix).unlink(missing_ok=True)


def _require_newsletter(conn: sqlite3.Connection, source: Path) -> None:
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not {"subscribers", "deliveries", "meta"} <= tables:
        raise DatabaseError(f"{source} is not a newsletter database")


def new_backup_name(directory: Path, reason: str, suffix: str = ".db") -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in reason)[:60]
    return directory / f"{PREFIX}{stamp()}-{safe}{suffix}"


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
