"""The ledger's side of the journal (newsletter.db.journal): each delivery's moves,
who left while the database was held, and what the journal knows at a freeze.

Forward moves (`sending`, `sent`, `failed`) are replayed into a database that
lacks them; so every move back to `queued` (a temporary failure, a policy stop,
`--retry-failed`, `--resend-uncertain`) is journalled too, or a replay would
undo it.
"""

from __future__ import annotations

from typing import Any

from newsletter.db.recovery import LeftWatch, delivered_hashes, unplaced_from
from newsletter.subscribers.store import Store

Recipient = tuple[str, int, str]  # slug, subscriber id, address hash


class DeliveryJournal:
    """Held by one Ledger; every method is a no-op for a store without a journal."""

    def __init__(self, store: Store) -> None:
        self.journal = store.journal
        self.conn = store.conn
        self._recipients: dict[int, Recipient] = {}  # delivery id -> recipient, while in hand
        self._left = LeftWatch(store.conn, store.journal)

    def close(self) -> None:
        self._left.close()

    def remember(self, slug: str, rows: list[dict[str, Any]]) -> None:
        """Rows just read from the queue (delivery_id, id, email_key), hashed once each."""
        if self.journal is None:
            return
        hash_of = self.journal.hash
        for row in rows:
            if row["id"] is not None:
                self._recipients[row["delivery_id"]] = (slug, row["id"], hash_of(row["email_key"]))

    def has_left(self, delivery_id: int) -> bool:
        """The person left in the journal (perhaps not yet in the database)."""
        recipient = self._recipients.get(delivery_id)
        return recipient is not None and self._left.has_left(recipient[1])

    def moved(self, delivery_id: int, state: str, *, done: bool = False) -> None:
        """Journal a delivery's new state (`done`: it leaves the hands of this run)."""
        if self.journal is None:
            return
        recipient = self._recipients.get(delivery_id) or self._look_up(delivery_id)
        if done:
            self._recipients.pop(delivery_id, None)
        if recipient is not None:
            self.journal.delivery(recipient[0], state, recipient[1], recipient[2])

    def forget(self, delivery_id: int) -> None:
        self._recipients.pop(delivery_id, None)

    def requeued(self, slug: str, from_status: str) -> list[tuple[object, ...]]:
        """The rows of `slug` in `from_status` now, to journal as `queued` once moved back."""
        if self.journal is None:
            return []
        active_only = " AND s.status = 'active'" if from_status == "failed" else ""
        rows = self.conn.execute(
            "SELECT d.subscriber_id, s.email_key FROM deliveries d"
            " JOIN subscribers s ON s.id = d.subscriber_id"
            " WHERE d.issue_slug = ? AND d.status = ?" + active_only,
            [slug, from_status],
        ).fetchall()
        return [("D", slug, "queued", sid, self.journal.hash(key)) for sid, key in rows]

    def write(self, records: list[tuple[object, ...]]) -> None:
        if self.journal is not None and records:
            self.journal.append(records, sync=False)

    def honour_at_freeze(self, slug: str, now: str) -> int:
        """Frozen rows of people the journal says already had this issue (a database
        restored or rebuilt since) take the journal's state; returns how many."""
        if self.journal is None:
            return 0
        delivered = delivered_hashes(self.journal, slug, unplaced_from(self.conn, self.journal))
        if not delivered:
            return 0
        rows = self.conn.execute(
            "SELECT d.id, s.email_key FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id"
            " WHERE d.issue_slug = ? AND d.status = 'queued'",
            [slug],
        ).fetchall()
        hashed = ((row_id, self.journal.hash(key)) for row_id, key in rows)
        known = [(delivered[h], now, row_id) for row_id, h in hashed if h in delivered]
        self.conn.executemany(
            "UPDATE deliveries SET status = ?, last_error = 'recorded in the journal',"
            " updated_at = ? WHERE id = ?",
            known,
        )
        return len(known)

    def frozen(self, now: str, slug: str, content_hash: str, subject: str) -> None:
        if self.journal is not None:
            self.journal.issue(now, slug, content_hash, subject)

    def _look_up(self, delivery_id: int) -> Recipient | None:
        row = self.conn.execute(
            "SELECT d.issue_slug, d.subscriber_id, s.email_key FROM deliveries d"
            " JOIN subscribers s ON s.id = d.subscriber_id WHERE d.id = ?",
            [delivery_id],
        ).fetchone()
        if row is None or self.journal is None:
            return None
        return (row[0], row[1], self.journal.hash(row[2]))
