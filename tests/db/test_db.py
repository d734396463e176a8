"""The one place the database is opened: migrations, refusal of newer files, WAL."""

from __future__ import annotations

import sqlite3

import pytest
from sqlite_utils import Database

from newsletter.db.connection import BUSY_TIMEOUT_SECONDS, connect_database
from newsletter.db.migrations import known_names, migration_set
from newsletter.errors import DatabaseError

from support.subscribers import one_error_line

TABLES = {"meta", "subscribers", "issues", "deliveries", "events", "suppressions"}


def applied_names(path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [
            row[0] for row in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY rowid")
        ]
    finally:
        conn.close()


def test_a_new_database_gets_every_migration(tmp_path):
    path = tmp_path / "new.db"
    conn = connect_database(path, create=True)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables >= TABLES
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(known_names())
    conn.close()
    assert applied_names(path) == known_names()


def test_an_older_database_is_upgraded_on_open(tmp_path):
    path = tmp_path / "old.db"
    old = Database(path)
    migration_set().apply(old, stop_before=known_names()[-1])  # one version behind
    old.close()
    assert known_names()[-1] not in applied_names(path)
    connect_database(path).close()
    assert applied_names(path) == known_names()


def test_a_missing_database_is_not_created_unless_asked(tmp_path):
    with pytest.raises(DatabaseError, match="no database"):
        connect_database(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()


def test_a_database_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "newer.db"
    connect_database(path, create=True).close()
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
        " VALUES ('newsletter', '9999_from_the_future', '2030-01-01')"
    )
    conn.execute(f"PRAGMA user_version = {len(known_names()) + 1}")  # as a newer version leaves it
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseError) as caught:
        connect_database(path)
    assert "newer version of newsletter" in caught.value.message
    assert "9999_from_the_future" in caught.value.message


def test_a_newer_database_is_one_line_on_the_cli(project, cli):
    conn = sqlite3.connect(project / "newsletter.db")
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
        " VALUES ('newsletter', '9999_from_the_future', '2030-01-01')"
    )
    conn.execute(f"PRAGMA user_version = {len(known_names()) + 1}")  # as a newer version leaves it
    conn.commit()
    conn.close()
    line = one_error_line(cli("subscribers", "list"))
    assert "newer version of newsletter" in line


def test_a_file_that_is_not_a_database_is_one_line(project, cli):
    (project / "newsletter.db").write_bytes(b"this is not sqlite" * 100)
    line = one_error_line(cli("subscribers", "list"))
    assert "cannot open database" in line


def test_wal_mode_and_busy_timeout_are_on(tmp_path):
    db = connect_database(tmp_path / "wal.db", create=True)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_SECONDS * 1000
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    finally:
        db.close()
    conn = sqlite3.connect(tmp_path / "wal.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent in the file
    conn.close()
