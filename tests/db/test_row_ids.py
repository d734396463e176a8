"""Row ids are never reused: a web request or a bounce that read an id acts on that
person or on nobody, never on someone added after them."""

from __future__ import annotations

import sqlite3

from sqlite_utils import Database

from newsletter.db.connection import connect_database
from newsletter.db.migrations import migration_set


def test_an_id_freed_by_forget_is_never_given_to_the_next_subscriber(store):
    for email in ("a@example.org", "b@example.org", "c@example.org"):
        store.add_subscriber(email)
    highest = store.require("c@example.org").id
    store.forget("c@example.org")
    newcomer = store.add_subscriber("d@example.org").subscriber
    assert newcomer.id > highest


def test_the_migration_gives_an_existing_database_ids_that_are_never_reused(tmp_path):
    path = tmp_path / "old.db"
    old = Database(sqlite3.connect(path))
    migration_set().apply(old, stop_before="0005_ids_never_reused")  # the schema as shipped
    for n in range(1, 4):
        old.execute(
            "INSERT INTO subscribers (email, email_key, token, subscribed_at, updated_at)"
            " VALUES (?, ?, ?, 'now', 'now')",
            [f"p{n}@example.org", f"p{n}@example.org", f"token-{n}"],
        )
    old.execute("INSERT INTO events (at, kind, subscriber_id) VALUES ('now', 'added', 3)")
    old.execute("DELETE FROM subscribers WHERE id = 3")  # forgotten
    old.conn.commit()
    old.close()
    db = connect_database(path)
    assert (
        "AUTOINCREMENT"
        in db.execute("SELECT sql FROM sqlite_master WHERE name = 'subscribers'").fetchone()[0]
    )
    assert [r[0] for r in db.execute("SELECT email FROM subscribers ORDER BY id")] == [
        "p1@example.org",
        "p2@example.org",
    ]
    cursor = db.execute(
        "INSERT INTO subscribers (email, email_key, token, subscribed_at, updated_at)"
        " VALUES ('p4@example.org', 'p4@example.org', 'token-4', 'now', 'now')"
    )
    assert cursor.lastrowid == 4  # not 3, the id of the person who was forgotten
    indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "subscribers_by_status" in indexes
