"""The import's SQL: one statement per batch of rows, never one per row.

`importer.py` calls `begin`, then `lookup` and `write` per batch, then `end`,
all inside one `Store.write()` transaction, so an import is all or nothing.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from newsletter.subscribers.addresses import address_key
from newsletter.subscribers.model import Subscriber
from newsletter.subscribers.store import Store, subscriber_from_row
from newsletter.subscribers.tokens import new_token


class Found(NamedTuple):
    """What the database knows of one address the batch names."""

    subscriber: Subscriber | None
    seen_at: str | None  # where this import saw the address first ("line 7"), if it did
    consented_at: str | None  # their latest consent record here
    before: str | None = None  # their details before the import, when its first row kept them
    counted: str | None = None  # what that first row was counted as (updated, unchanged, ...)

    @property
    def seen(self) -> bool:
        return self.seen_at is not None


class BulkImport:
    """The batch reads and writes of one CSV import, on the store's connection."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.conn = store.conn

    def begin(self) -> None:
        """A scratch table of the addresses this import has seen, and where; rolled back with it."""
        self.conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS import_seen"
            " (email_key TEXT PRIMARY KEY, place TEXT, before TEXT, counted TEXT)"
        )
        self.conn.execute("DELETE FROM temp.import_seen")

    def end(self) -> None:
        self.conn.execute("DROP TABLE IF EXISTS temp.import_seen")

    def lookup(self, keys: list[str]) -> dict[str, Found]:
        """For each address key: its subscriber (or None), whether this import saw it
        before, and when they last gave consent here."""
        cursor = self.conn.execute(
            "SELECT j.value AS lookup_key, seen.place AS seen_at, seen.before AS before_import,"
            " seen.counted AS counted,"
            " (SELECT max(c.at) FROM consents AS c WHERE c.subscriber_id = s.id) AS consented_at,"
            " s.* FROM json_each(?) AS j"
            " LEFT JOIN subscribers AS s ON s.email_key = j.value"
            " LEFT JOIN temp.import_seen AS seen ON seen.email_key = j.value",
            [json.dumps(keys, ensure_ascii=False)],
        )
        names = [column[0] for column in cursor.description]
        found = {}
        for values in cursor:
            row = dict(zip(names, values, strict=True))
            subscriber = subscriber_from_row(row) if row["id"] is not None else None
            found[row["lookup_key"]] = Found(
                subscriber,
                row["seen_at"],
                row["consented_at"],
                row["before_import"],
                row["counted"],
            )
        return found

    def write(
        self,
        *,
        new: list[Subscriber],
        changed: list[Subscriber],
        events: list[tuple[str, str, str]],
        unsuppress: list[str],
        seen: list[tuple[str, str, str | None, str | None]],
        recounted: list[tuple[str, str]] | None = None,
        source: str,
        consents: list[tuple[Any, ...]] | None = None,
    ) -> None:
        """One batch's writes: new rows (fresh tokens), changed rows, (key, kind, detail) events,
        (key, where, details before, counted as) of the addresses it saw first, and
        (counted as, key) of those a later row counts anew,
        (at, wording id, source, client IP, key) consent records."""
        now = self.store.clock()
        conn = self.conn
        conn.executemany(
            "INSERT INTO subscribers (email, email_key, name, organisation, language, attributes,"
            " status, token, source, subscribed_at, updated_at, unsubscribed_at, left_via)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (s.email, address_key(s.email), s.name, s.organisation, s.language,
                 json.dumps(s.attributes, ensure_ascii=False), s.status, new_token(),
                 s.source, s.subscribed_at or now, now, s.unsubscribed_at, s.left_via)
                for s in new
            ],
        )  # fmt: skip
        self.store.update_subscribers(changed, now)
        conn.executemany(
            "INSERT INTO events (at, kind, subscriber_id, source, detail)"
            " SELECT ?, ?, id, ?, ? FROM subscribers WHERE email_key = ?",
            [(now, kind, source, detail, key) for key, kind, detail in events],
        )
        hasher = self.store.address_hasher()
        conn.executemany(
            "DELETE FROM suppressions WHERE address_hash = ?", [(hasher(e),) for e in unsuppress]
        )
        conn.executemany(
            "INSERT INTO consents (subscriber_id, at, wording_id, source, client_ip)"
            " SELECT id, ?, ?, ?, ? FROM subscribers WHERE email_key = ?",
            consents or [],
        )
        conn.executemany(
            "INSERT OR IGNORE INTO temp.import_seen (email_key, place, before, counted)"
            " VALUES (?, ?, ?, ?)",
            seen,
        )
        conn.executemany(
            "UPDATE temp.import_seen SET counted = ? WHERE email_key = ?", recounted or []
        )

    def journal_changes(self, left: list[str], back: list[str], via: str) -> None:
        """Journal an import's leavers (before it commits) or returners (after)."""
        if self.store.journal is None:
            return
        now = self.store.clock()
        for kind, keys in (("L", left), ("B", back)):
            for start in range(0, len(keys), 5000):
                rows = self.conn.execute(
                    "SELECT id, email_key FROM subscribers"
                    " WHERE email_key IN (SELECT value FROM json_each(?))",
                    [json.dumps(keys[start : start + 5000], ensure_ascii=False)],
                ).fetchall()
                self.store.journal_lines(
                    [(kind, now, sid, self.store.journal.hash(key), via) for sid, key in rows]
                )
