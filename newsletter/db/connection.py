"""The one place the database is opened, tuned and migrated.

The connection is plain sqlite3 (reads: `DatabaseSession.query`); sqlite-utils
is imported only to migrate, and a database whose `user_version` says it has
every step does not need it, so `status` starts fast.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from newsletter.db.faults import database_fault
from newsletter.db.migrations import known_names, migration_set
from newsletter.db.recovery import has_history
from newsletter.errors import DatabaseError

BUSY_TIMEOUT_SECONDS = 30.0


def connect_database(
    path: Path, *, create: bool = False, busy_timeout: float | None = None, blank: bool = False
) -> sqlite3.Connection:
    """Open (or with create=True, make) the project database, migrated to now.

    WAL lets the unsubscribe handler write while a send reads; the busy timeout
    makes writers wait for each other instead of failing. (The web handler
    passes a short one and retries itself: see newsletter.web.busy.patiently.)

    A missing or empty file is made anew only in a project with no history
    (no journal entries, no backups), or with blank=True (`restore --empty`):
    a blank database must never pass for one that knew who left.
    """
    if not create and not path.exists():
        raise DatabaseError(f"no database at {path}", hint="run `newsletter init` first")
    if not blank and _is_blank(path) and (history := has_history(path)):
        raise DatabaseError(
            f"{path.name} is missing or empty, but this project has a history ({history})",
            hint="restore the newest backup with `newsletter restore`"
            " (or see `newsletter restore --help` to start an empty database)",
        )
    try:
        timeout = BUSY_TIMEOUT_SECONDS if busy_timeout is None else busy_timeout
        # isolation_level=None: a statement outside an explicit BEGIN commits at once
        # (as sqlite-utils' Database.execute does); transactions are Store.write()'s.
        conn = sqlite3.connect(
            str(path), timeout=timeout, check_same_thread=False, isolation_level=None
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA recursive_triggers=ON")  # a REPLACE fires DELETE triggers
        _migrate(conn, path)
    except sqlite3.Error as error:
        if path.parent.is_dir() and not os.access(path.parent, os.W_OK):
            raise DatabaseError(
                f"cannot open database {path}: the project folder is read-only",
                hint="SQLite writes newsletter.db-wal beside the database: make the folder writable",
            ) from None
        raise database_fault(error, f"cannot open database {path}") from None
    return conn


def _is_blank(path: Path) -> bool:
    try:
        return path.stat().st_size == 0
    except FileNotFoundError:
        return True


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Apply the steps this database lacks; refuse one made by a newer version.

    `user_version` holds how many steps the database has (set here after they
    ran), so the usual open is one PRAGMA; any other number is checked by name.
    """
    known = known_names()
    if conn.execute("PRAGMA user_version").fetchone()[0] == len(known):
        return
    from sqlite_utils import Database

    db, migrations = Database(conn), migration_set()
    applied = {migration.name for migration in migrations.applied(db)}
    unknown = applied - set(known)
    if unknown:
        raise DatabaseError(
            f"{path} was made by a newer version of newsletter (migration {sorted(unknown)[-1]})",
            hint="upgrade newsletter (pip install -U newsletter)",
        )
    if migrations.pending(db):
        migrations.apply(db)
    conn.execute(f"PRAGMA user_version = {len(known)}")
