"""The schema, one small named step per change, applied in order at open.

Never edit a step that has shipped: append a new one. Each runs in its own
transaction (sqlite-utils `Migrations`), so a failed upgrade leaves the
database as it was. Read top to bottom, the steps are the schema's history.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlite_utils import Database
    from sqlite_utils.migrations import Migrations

Step = Callable[["Database"], None]
_STEPS: list[tuple[str, Step]] = []  # in order: a database with another name is newer than us


def step(name: str) -> Callable[[Step], Step]:
    """Register a migration under its permanent name."""

    def register(function: Step) -> Step:
        _STEPS.append((name, function))
        return function

    return register


def known_names() -> list[str]:
    return [name for name, _function in _STEPS]


@lru_cache(maxsize=1)
def migration_set() -> Migrations:
    """The steps as sqlite-utils `Migrations`, imported only when a database needs
    them: an up-to-date database is recognised by its user_version (db.connection)."""
    from sqlite_utils.migrations import Migrations

    migrations = Migrations("newsletter")
    for name, function in _STEPS:
        migrations(name=name)(function)
    return migrations


@step("0001_initial")
def initial(db: Database) -> None:
    """The first schema: every table of the first release."""
    create_meta(db)
    create_subscribers(db)
    create_issues(db)
    create_deliveries(db)
    create_events(db)
    create_suppressions(db)


# The first release's tables, each a small function so the schema reads as a list.
# (0001 ran them in one step; later changes are new steps below, never edits here.)


def create_meta(db: Database) -> None:
    import secrets  # here: an up-to-date database opens without it (see connection.py)

    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute(
        "INSERT INTO meta (key, value) VALUES ('suppression_salt', ?)", [secrets.token_hex(16)]
    )


def create_subscribers(db: Database) -> None:
    db.execute(
        """CREATE TABLE subscribers (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL,
        email_key TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL DEFAULT '',
        organisation TEXT NOT NULL DEFAULT '',
        language TEXT NOT NULL DEFAULT '',
        attributes TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'active'
            CHECK (status IN ('active', 'unsubscribed', 'bounced')),
        token TEXT NOT NULL UNIQUE,
        source TEXT NOT NULL DEFAULT '',
        subscribed_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        unsubscribed_at TEXT,
        left_via TEXT,
        bounce_count INTEGER NOT NULL DEFAULT 0
    )"""
    )
    db.execute("CREATE INDEX subscribers_by_status ON subscribers (status, id)")


def create_issues(db: Database) -> None:
    db.execute(
        """CREATE TABLE issues (
        slug TEXT PRIMARY KEY,
        subject TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT
    )"""
    )


def create_deliveries(db: Database) -> None:
    db.execute(
        """CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        issue_slug TEXT NOT NULL REFERENCES issues (slug),
        subscriber_id INTEGER,
        status TEXT NOT NULL DEFAULT 'queued'
            CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'skipped')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        message_id TEXT,
        updated_at TEXT,
        sent_at TEXT,
        UNIQUE (issue_slug, subscriber_id)
    )"""
    )
    db.execute("CREATE INDEX deliveries_by_progress ON deliveries (issue_slug, status, id)")


def create_events(db: Database) -> None:
    db.execute(
        """CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        subscriber_id INTEGER,
        issue_slug TEXT,
        source TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT ''
    )"""
    )
    db.execute("CREATE INDEX events_by_subscriber ON events (subscriber_id)")


def create_suppressions(db: Database) -> None:
    db.execute(
        """CREATE TABLE suppressions (
        address_hash TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        created_at TEXT NOT NULL
    )"""
    )


# --- later changes: append a @step("000N_what_changed") function here ---------


@step("0002_return_mailbox")
def return_mailbox(db: Database) -> None:
    """`newsletter bounces`: the messages already processed (so a second run changes
    nothing), and the lookups that tie a returned message to its delivery and issue."""
    db.execute(
        """CREATE TABLE returned_messages (
        key TEXT PRIMARY KEY,
        category TEXT NOT NULL,
        processed_at TEXT NOT NULL
    )"""
    )
    db.execute("CREATE INDEX deliveries_by_message_id ON deliveries (message_id)")
    db.execute("CREATE INDEX events_by_issue ON events (issue_slug, kind)")


@step("0003_delivery_language")
def delivery_language(db: Database) -> None:
    """The reader's language, frozen with the recipient list: a choice made during
    a send applies from the next issue. NULL on rows frozen before this column."""
    db.execute("ALTER TABLE deliveries ADD COLUMN language TEXT")


@step("0004_joining")
def joining(db: Database) -> None:
    """Joining through the web form: requests, pending sign-ups, consent, a mail queue.

    - signup_requests: what POST /subscribe received, taken in one INSERT so the
      answer costs the same whoever the address belongs to; the serving process
      decides later (new, pending, active, left, bounced).
    - signups: one pending confirmation per address; only a hash of its link's
      token is kept. Deleted when confirmed or expired.
    - consent_wordings: every consent text ever shown, stored once, by digest.
    - consents: who agreed, when, to which wording, from where (the client IP
      only when the project records it). Erased by `forget`.
    - mail_queue: confirmation and welcome mails, sent and retried by `serve`.
    - meta 'form_secret': signs the forms' time stamps (no server state per form).
    """
    db.execute(
        """CREATE TABLE signup_requests (
        id INTEGER PRIMARY KEY,
        received_at TEXT NOT NULL,
        email TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        organisation TEXT NOT NULL DEFAULT '',
        language TEXT NOT NULL DEFAULT '',
        wording_id INTEGER,
        source TEXT NOT NULL,
        client_ip TEXT
    )"""
    )
    db.execute(
        """CREATE TABLE signups (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL,
        email_key TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL DEFAULT '',
        organisation TEXT NOT NULL DEFAULT '',
        language TEXT NOT NULL DEFAULT '',
        token_hash TEXT NOT NULL UNIQUE,
        wording_id INTEGER,
        source TEXT NOT NULL,
        client_ip TEXT,
        requested_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        mails_in_window INTEGER NOT NULL DEFAULT 0,
        window_started_at TEXT NOT NULL
    )"""
    )
    db.execute("CREATE INDEX signups_by_expiry ON signups (expires_at)")
    db.execute(
        """CREATE TABLE consent_wordings (
        id INTEGER PRIMARY KEY,
        digest TEXT NOT NULL UNIQUE,
        language TEXT NOT NULL,
        text TEXT NOT NULL,
        first_shown_at TEXT NOT NULL
    )"""
    )
    db.execute(
        """CREATE TABLE consents (
        id INTEGER PRIMARY KEY,
        subscriber_id INTEGER NOT NULL,
        at TEXT NOT NULL,
        wording_id INTEGER NOT NULL REFERENCES consent_wordings (id),
        source TEXT NOT NULL,
        client_ip TEXT
    )"""
    )
    db.execute("CREATE INDEX consents_by_subscriber ON consents (subscriber_id, id)")
    db.execute(
        """CREATE TABLE mail_queue (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        recipient_key TEXT NOT NULL,
        sender TEXT NOT NULL,
        recipient TEXT NOT NULL,
        data BLOB NOT NULL,
        queued_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        next_attempt_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    )"""
    )
    db.execute("CREATE INDEX mail_queue_by_due ON mail_queue (next_attempt_at)")
    import secrets

    db.execute("INSERT INTO meta (key, value) VALUES ('form_secret', ?)", [secrets.token_hex(32)])


@step("0005_ids_never_reused")
def ids_never_reused(db: Database) -> None:
    """AUTOINCREMENT: an id, once used, is never given to another row.

    Without it SQLite reuses the highest id after a delete (`forget`), and a
    web request or a bounce that read the old id would act on someone else.
    Each table is rebuilt from its own definition, with its indexes.
    """
    for table in ("subscribers", "deliveries", "events"):
        _rebuild_with_autoincrement(db, table)
    highest = db.execute(
        "SELECT max(coalesce((SELECT max(id) FROM subscribers), 0),"
        " coalesce((SELECT max(subscriber_id) FROM events), 0),"
        " coalesce((SELECT max(subscriber_id) FROM deliveries), 0))"
    ).fetchone()[0]
    db.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'subscribers'", [highest])
    db.execute(
        "INSERT INTO sqlite_sequence (name, seq) SELECT 'subscribers', ?"
        " WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'subscribers')",
        [highest],
    )


def _rebuild_with_autoincrement(db: Database, table: str) -> None:
    sql, indexes = _definition(db, table)
    if "AUTOINCREMENT" in sql.upper():
        return
    new_sql = sql.replace(f"CREATE TABLE {table}", f"CREATE TABLE {table}_rebuilt", 1)
    new_sql = new_sql.replace("id INTEGER PRIMARY KEY,", "id INTEGER PRIMARY KEY AUTOINCREMENT,", 1)
    db.execute(new_sql)
    db.execute(f"INSERT INTO {table}_rebuilt SELECT * FROM {table}")
    db.execute(f"DROP TABLE {table}")
    db.execute(f"ALTER TABLE {table}_rebuilt RENAME TO {table}")
    for index_sql in indexes:
        db.execute(index_sql)


def _definition(db: Database, table: str) -> tuple[str, list[str]]:
    rows = db.execute(
        "SELECT type, sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL", [table]
    ).fetchall()
    return (
        next(sql for kind, sql in rows if kind == "table"),
        [sql for kind, sql in rows if kind == "index"],
    )


@step("0006_delivery_counts")
def delivery_counts(db: Database) -> None:
    """What `status` counts, kept by the database itself, so it costs the same at
    a million rows as at ten.

    - delivery_counts: rows per (issue, status, frozen language). Triggers move a
      row's count in the statement that inserts, moves or deletes it: whatever
      code changes a delivery, in the same transaction, so it cannot drift.
      `unfrozen` = 1 counts rows with no frozen language (frozen before 0003, or
      restored by recovery): the subscriber's own language applies to them.
      (A later step that rebuilds `deliveries` must create the triggers again.)
    - partial indexes, empty for most rows: the replies of failed, deferred and
      skipped rows (reasons by issue and status), the unfrozen rows, and the
      Message-IDs (the rows not yet sent had one entry each, all NULL, in the
      old index: a cost at every freeze that pays for the counting).
    """
    db.execute(
        """CREATE TABLE delivery_counts (
        issue_slug TEXT NOT NULL,
        status TEXT NOT NULL,
        language TEXT NOT NULL,
        unfrozen INTEGER NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (issue_slug, status, language, unfrozen)
    ) WITHOUT ROWID"""
    )
    _count_deliveries(db)
    count_in = (
        "INSERT INTO delivery_counts (issue_slug, status, language, unfrozen, n)"
        " VALUES (new.issue_slug, new.status, coalesce(new.language, ''), new.language IS NULL, 1)"
        " ON CONFLICT DO UPDATE SET n = n + 1;"
    )
    count_out = (
        "UPDATE delivery_counts SET n = n - 1 WHERE issue_slug = old.issue_slug"
        " AND status = old.status AND language = coalesce(old.language, '')"
        " AND unfrozen = (old.language IS NULL);"
    )
    db.execute(f"CREATE TRIGGER delivery_counted AFTER INSERT ON deliveries BEGIN {count_in} END")
    db.execute(
        "CREATE TRIGGER delivery_recounted AFTER UPDATE OF issue_slug, status, language"
        " ON deliveries WHEN old.issue_slug IS NOT new.issue_slug"
        " OR old.status IS NOT new.status OR old.language IS NOT new.language"
        f" BEGIN {count_out} {count_in} END"
    )
    db.execute(
        f"CREATE TRIGGER delivery_uncounted AFTER DELETE ON deliveries BEGIN {count_out} END"
    )
    db.execute(
        "CREATE INDEX deliveries_with_reply ON deliveries (issue_slug, status, last_error)"
        " WHERE last_error IS NOT NULL"
    )
    db.execute(
        "CREATE INDEX deliveries_unfrozen ON deliveries (issue_slug, status) WHERE language IS NULL"
    )
    db.execute("DROP INDEX deliveries_by_message_id")
    db.execute(
        "CREATE INDEX deliveries_by_message_id ON deliveries (message_id)"
        " WHERE message_id IS NOT NULL"
    )


def _count_deliveries(db: Database) -> None:
    """Fill delivery_counts from the rows: one pass in the order of the (issue, status)
    index, a sum per language, instead of sorting every row to group them (4x faster)."""
    languages = [row[0] for row in db.execute("SELECT DISTINCT language FROM deliveries")]
    for start in range(0, len(languages), 50):  # a few in practice: one pass
        chunk = languages[start : start + 50]
        sums = ", ".join(["sum(language IS ?)"] * len(chunk))
        rows = db.execute(
            f"SELECT issue_slug, status, {sums} FROM deliveries GROUP BY issue_slug, status", chunk
        ).fetchall()
        for slug, status, *counts in rows:
            for language, n in zip(chunk, counts, strict=True):
                if n:
                    db.execute(
                        "INSERT INTO delivery_counts (issue_slug, status, language, unfrozen, n)"
                        " VALUES (?, ?, ?, ?, ?)",
                        [slug, status, language or "", language is None, n],
                    )


@step("0007_return_keys_and_probes")
def return_keys_and_probes(db: Database) -> None:
    """Returned mail acts only on mail we sent (issue 26).

    - return_keys: the secrets that sign VERP addresses (bounces+ID-TAG@), kept
      here and nowhere else: never in the journal or the config, which may be
      shared. The newest unretired key signs; a retired one is still accepted
      for a while (sending/return_path.py). A database that already sent mail
      keeps its old derived key, retired now, so bounces of mail in flight are
      still read; a forger who could compute it loses it when the grace ends.
    - probes: a short notice sent to confirm a bounce that could not be tied to
      a delivery by VERP (Mailman's model); only if the probe bounces is the
      address marked bounced. Erased by `forget`.
    """
    import hashlib
    import secrets

    db.execute(
        """CREATE TABLE return_keys (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        secret TEXT NOT NULL,
        created_at TEXT NOT NULL,
        retired_at TEXT
    )"""
    )
    now = db.execute("SELECT strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')").fetchone()[0]
    if db.execute("SELECT 1 FROM deliveries LIMIT 1").fetchone():
        salt = db.execute("SELECT value FROM meta WHERE key = 'suppression_salt'").fetchone()
        legacy = hashlib.sha256(f"verp:{salt[0] if salt else ''}".encode()).hexdigest()
        db.execute(
            "INSERT INTO return_keys (secret, created_at, retired_at) VALUES (?, ?, ?)",
            [legacy, now, now],
        )
    db.execute(
        "INSERT INTO return_keys (secret, created_at) VALUES (?, ?)", [secrets.token_hex(32), now]
    )
    db.execute(
        """CREATE TABLE probes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        subscriber_id INTEGER NOT NULL,
        issue_slug TEXT,
        reason TEXT NOT NULL,
        sent_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        message_id TEXT,
        outcome TEXT
    )"""
    )
    db.execute("CREATE INDEX probes_out ON probes (subscriber_id) WHERE outcome IS NULL")
    db.execute("CREATE INDEX probes_by_message_id ON probes (message_id)")


@step("0008_archive")
def archive(db: Database) -> None:
    """The public archive: each issue's editions as they were sent, with nothing
    personal in them, written when the issue starts sending (sending/archived.py).
    The archive shows these, so an issue file edited later cannot change what the
    archive says was sent."""
    db.execute(
        """CREATE TABLE archived_editions (
        issue_slug TEXT NOT NULL REFERENCES issues (slug),
        edition TEXT NOT NULL,
        languages TEXT NOT NULL,
        subject TEXT NOT NULL,
        preheader TEXT NOT NULL,
        html TEXT NOT NULL,
        content TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        PRIMARY KEY (issue_slug, edition)
    )"""
    )


@step("0009_signup_abuse")
def signup_abuse(db: Database) -> None:
    """Sign-up limits a bot cannot walk around (issue 26).

    - signups.mailbox_key: the mailbox an address reaches (`name+tag@` is
      `name@`, Gmail's dots do not count): the per-address limit counts mails
      to the mailbox. Rows waiting at upgrade take their address key.
    - used_stamps: a form's stamp works once (kept until it would have expired).
    """
    db.execute("ALTER TABLE signups ADD COLUMN mailbox_key TEXT")
    db.execute("UPDATE signups SET mailbox_key = email_key")
    db.execute("CREATE INDEX signups_by_mailbox ON signups (mailbox_key)")
    db.execute(
        """CREATE TABLE used_stamps (
        stamp TEXT PRIMARY KEY,
        expires_at TEXT NOT NULL
    ) WITHOUT ROWID"""
    )
