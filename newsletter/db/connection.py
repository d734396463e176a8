"""The one place the database is opened, tuned and migrated."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database

from newsletter.db.migrations import known_names, migrations
from newsletter.errors import DatabaseError

BUSY_TIMEOUT_SECONDS = 30.0


def open_database(
    path: Path, *, create: bool = False, busy_timeout: float | None = None
) -> Database:
    """Open (or with create=True, make) the project database, migrated to now.

    WAL lets the unsubscribe handler write while a send reads; the busy timeout
    makes writers wait for each other instead of failing. (The web handler
    passes a short one and retries itself: see newsletter.web.app.patiently.)
    """
    if not create and not path.exists():
        raise DatabaseError(f"no database at {path}", hint="run `newsletter init` first")
    try:
        timeout = BUSY_TIMEOUT_SECONDS if busy_timeout is None else busy_timeout
        conn = sqlite3.connect(str(path), timeout=timeout, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        db = Database(conn)
        _migrate(db, path)
    except sqlite3.DatabaseError as error:
        raise DatabaseError(f"cannot open database {path}: {error}") from None
    return db


def _migrate(db: Database, path: Path) -> None:
    applied = {migration.name for migration in migrations.applied(db)}
    unknown = applied - set(known_names())
    if unknown:
        raise DatabaseError(
            f"{path} was made by a newer version of newsletter (migration {sorted(unknown)[-1]})",
            hint="upgrade newsletter (pip install -U newsletter)",
        )
    if migrations.pending(db):
        migrations.apply(db)
