"""The suppression list (salted hashes of forgotten addresses) and the event trail.

`Store` inherits these, so they share its connection and its `write()`
transactions; they are apart because they keep what must outlive a person's
row: a forgotten address's hash and the audit trail.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from newsletter.db.journal import address_hasher
from newsletter.db.session import DatabaseSession
from newsletter.subscribers.addresses import address_key, clean_field


class SuppressionsAndEvents(DatabaseSession):
    """The half of `Store` about who may never be re-added, and what happened when."""

    def address_hash(self, email: str) -> str:
        """Salted per database, so a leaked file does not confirm an address elsewhere."""
        return self.address_hasher()(email)

    def suppressed_hashes(self) -> set[str]:
        return {row["address_hash"] for row in self.query("SELECT address_hash FROM suppressions")}

    def is_suppressed(self, email: str) -> bool:
        return bool(
            self.one(
                "SELECT 1 AS x FROM suppressions WHERE address_hash = ?", [self.address_hash(email)]
            )
        )

    def suppress(self, email: str, reason: str) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO suppressions (address_hash, reason, created_at) VALUES (?, ?, ?)",
            [self.address_hash(email), reason, self.clock()],
        )

    def unsuppress(self, email: str) -> None:
        self.conn.execute(
            "DELETE FROM suppressions WHERE address_hash = ?", [self.address_hash(email)]
        )

    def suppress_hash(self, address_hash: str, reason: str, at: str) -> None:
        """Someone this database does not hold (a journalled leaver): an import will
        not add them back."""
        self.conn.execute(
            "INSERT OR IGNORE INTO suppressions (address_hash, reason, created_at) VALUES (?, ?, ?)",
            [address_hash, reason, at],
        )

    def unsuppress_hashes(self, hashes: list[str]) -> None:
        """People who came back on request: their 'left' suppressions go (never a
        'forgotten' one: a forgotten person comes back only by confirming again)."""
        self.conn.executemany(
            "DELETE FROM suppressions WHERE address_hash = ? AND reason = 'left'",
            [(h,) for h in hashes],
        )

    def ids_matching(self, wanted: dict[int, str], hasher: Callable[[str], str]) -> set[int]:
        """The ids among `wanted` (id -> address hash) whose row here has that hash
        (a restored copy may lack some, or hold someone else under an id)."""
        if not wanted:
            return set()
        rows = self.conn.execute(
            "SELECT id, email_key FROM subscribers WHERE id IN (SELECT value FROM json_each(?))",
            [json.dumps(list(wanted))],
        )
        return {row[0] for row in rows if hasher(row[1]) == wanted[row[0]]}

    def ids_by_hash(self, hashes: set[str], hasher: Callable[[str], str]) -> dict[str, int]:
        """The slow way, every address hashed: for a journal replayed from its start."""
        found = {}
        for subscriber_id, email_key in self.conn.execute("SELECT id, email_key FROM subscribers"):
            if (address := hasher(email_key)) in hashes:
                found[address] = subscriber_id
        return found

    def record_event(
        self,
        kind: str,
        subscriber_id: int | None,
        source: str = "",
        detail: str = "",
        issue_slug: str | None = None,
    ) -> None:
        self.conn.execute(
            "INSERT INTO events (at, kind, subscriber_id, issue_slug, source, detail)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                self.clock(),
                kind,
                subscriber_id,
                issue_slug,
                clean_field(source),
                clean_field(detail),
            ],
        )

    def events_for(self, subscriber_id: int) -> list[dict[str, Any]]:
        return list(
            self.query("SELECT * FROM events WHERE subscriber_id = ? ORDER BY id", [subscriber_id])
        )

    def address_hasher(self) -> Callable[[str], str]:
        """`address_hash` with the salt read once, for hashing a whole file of addresses."""
        salt = str(self.value("SELECT value FROM meta WHERE key = 'suppression_salt'"))
        hash_key = address_hasher(salt)
        return lambda email: hash_key(address_key(email))
