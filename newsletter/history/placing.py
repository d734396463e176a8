"""A database put in the project's place by `restore`: a checked copy of a backup, or
an empty one, made beside it and swapped in by one rename, the old one kept aside."""

from __future__ import annotations

import os
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

from newsletter.db.backup import backup_dir, check_integrity, stamp
from newsletter.db.connection import connect_database
from newsletter.db.faults import database_fault
from newsletter.errors import DatabaseError


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
