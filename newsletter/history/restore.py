"""`newsletter restore`: a backup (or an empty database) put in place, then the
journal replayed into it, so everyone who left since stays gone and nobody gets
an issue twice."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from newsletter.db.backup import backup_dir, install, list_backups, prepare_copy, prepare_empty
from newsletter.db.connection import connect_database
from newsletter.db.recovery import connect_journal
from newsletter.errors import DatabaseError
from newsletter.history.replay import catch_up
from newsletter.subscribers.store import Store


@dataclass(frozen=True)
class Restored:
    source: Path | None  # None: an empty database was started
    set_aside: Path | None  # where a copy of the database it replaced was kept
    replayed: int  # journal entries applied on top of the copy


def restore(database_path: Path, source: Path | None = None, *, empty: bool = False) -> Restored:
    """Put a database backup back (the newest by default), or start an empty
    database, in one rename; then replay the journal into it (a kill before the
    replay is made good by the next command, which replays at open)."""
    if empty:
        source = None
        incoming = prepare_empty(database_path)
    else:
        source = source or _newest(database_path)
        incoming = prepare_copy(database_path, source)
    aside = install(database_path, incoming)
    return Restored(source, aside, replay_into(database_path))


def replay_into(database_path: Path) -> int:
    """Open the database just put in place and apply the journal to it."""
    conn = connect_database(database_path, create=True, blank=True)
    store = Store(conn, journal=connect_journal(conn, database_path))
    try:
        return catch_up(store)
    finally:
        store.close()


def _newest(database_path: Path) -> Path:
    backups = list_backups(database_path)
    if not backups:
        raise DatabaseError(
            f"no backups in {backup_dir(database_path)}",
            hint="name a backup file, or see `newsletter restore --help` to start an empty database",
        )
    return backups[0]
