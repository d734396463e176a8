"""`newsletter restore`: a backup (a project archive, a database copy, or an empty
database) put in place, then the journal replayed into it, so everyone who left
since stays gone and nobody gets an issue twice."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from newsletter.config import DATABASE_NAME, load_config
from newsletter.db.backup import backup_dir, list_backups
from newsletter.db.connection import connect_database
from newsletter.db.journal import Journal, journal_path
from newsletter.errors import DatabaseError
from newsletter.history.backup import Unpacked, is_archive, open_archive, unpack
from newsletter.history.opening import connect_journal
from newsletter.history.placing import install, prepare_copy, prepare_empty
from newsletter.history.replay import catch_up
from newsletter.subscribers.store import Store


@dataclass(frozen=True)
class Restored:
    source: Path | None  # None: an empty database was started
    set_aside: Path | None  # where a copy of the database it replaced was kept
    replayed: int  # journal entries applied on top of the copy
    unpacked: Unpacked | None = None  # an archive's files, journal and what they replaced


def restore(project: Path, source: Path | None = None, *, empty: bool = False) -> Restored:
    """Put a backup back (the newest in backups/ by default), or start an empty
    database, in one rename; then replay the journal into it (a kill before the
    replay is made good by the next command, which replays at open).

    An archive restores into an empty folder too; a database copy needs the project.
    """
    if source is not None and is_archive(source):
        return _restore_archive(project, source)
    database = load_config(project).database_path
    Journal.open(journal_path(database))  # unreadable: one line, before anything is swapped
    if empty:
        incoming = prepare_empty(database)
    else:
        source = source or _newest(database)
        if is_archive(source):
            return _restore_archive(project, source)
        incoming = prepare_copy(database, source)
    aside = install(database, incoming)
    return Restored(None if empty else source, aside, replay_into(database))


def _restore_archive(project: Path, source: Path) -> Restored:
    database = project / DATABASE_NAME
    project.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        archive, manifest, copy = open_archive(source, Path(scratch))
        with archive:
            incoming = prepare_copy(database, copy)
            try:
                unpacked = unpack(archive, manifest, source, project)
            except BaseException:
                incoming.unlink(missing_ok=True)
                raise
        aside = install(database, incoming)
    return Restored(source, aside, replay_into(database), unpacked)


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
