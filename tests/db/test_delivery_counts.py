"""Migration 0006: an existing ledger gets its counts, and `status` reads the same."""

from __future__ import annotations

import sqlite3

from sqlite_utils import Database

from newsletter.db.connection import connect_database
from newsletter.db.migrations import migration_set
from newsletter.sending.ledger import Ledger
from newsletter.subscribers.store import Store

from support.sending import assert_counts_match_rows


def older_ledger(path) -> None:  # noqa: ANN001
    """A database as 0005 left it: rows frozen with and without a language."""
    old = Database(sqlite3.connect(path))
    migration_set().apply(old, stop_before="0006_delivery_counts")
    for n, language in enumerate(["cy", "en", "", "cy"], start=1):
        old.execute(
            "INSERT INTO subscribers (email, email_key, language, token, subscribed_at,"
            " updated_at) VALUES (?, ?, ?, ?, 'now', 'now')",
            [f"p{n}@example.org", f"p{n}@example.org", language, f"token-{n}"],
        )
    old.execute(
        "INSERT INTO issues (slug, subject, content_hash, created_at) VALUES ('i', 'I', 'h', 'now')"
    )
    rows = [(1, "sent", "cy", None), (2, "failed", "en", "550 5.1.1 <p2@example.org>: no")]
    rows += [(3, "queued", None, None), (4, "sending", None, None)]  # frozen before 0003
    for subscriber, status, language, error in rows:
        old.execute(
            "INSERT INTO deliveries (issue_slug, subscriber_id, status, language, last_error)"
            " VALUES ('i', ?, ?, ?, ?)",
            [subscriber, status, language, error],
        )
    old.conn.commit()
    old.close()


def test_the_migration_counts_an_existing_ledger_and_status_reads_the_same(tmp_path):
    path = tmp_path / "old.db"
    older_ledger(path)
    store = Store(connect_database(path))
    assert_counts_match_rows(store)
    ledger = Ledger(store)
    status = ledger.status("i")
    assert status.by_language["cy"]["sending"] == 1  # p4's own language: none was frozen
    assert status.failures == [("550 5.1.1 <address>: no", 1)]
    store.set_language(3, "en", "web")  # rows frozen without one follow the reader's choice
    assert ledger.status("i").by_language["en"]["queued"] == 1
    assert_counts_match_rows(store)
    ledger.close()
    store.close()


def test_the_migration_counts_rows_of_many_languages(tmp_path):
    """Counted a few dozen languages per pass: more than that takes more passes."""
    path = tmp_path / "old.db"
    older_ledger(path)
    db = sqlite3.connect(path)
    db.execute(
        "INSERT INTO deliveries (issue_slug, status, language)"
        " WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 120)"
        " SELECT 'i', CASE i % 3 WHEN 0 THEN 'sent' ELSE 'queued' END, 'x' || (i % 70) FROM n"
    )
    db.commit()
    db.close()
    store = Store(connect_database(path))
    assert_counts_match_rows(store)
    assert store.one("SELECT count(DISTINCT language) AS n FROM delivery_counts")["n"] == 73
    store.close()
