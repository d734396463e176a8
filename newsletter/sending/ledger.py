"""All SQL that moves issues and deliveries: the send's checkpoint, one row per recipient.

A delivery row moves `queued -> sending -> sent | failed` (or `skipped` when the
person left before their turn), around the SMTP transaction: `sending` is
committed (and journalled) before DATA. The server's 250 is journalled at once,
and `sent` rides the commit of the same worker's next claim (one commit per
message), or is committed on its own when the worker has no next message. So
after any crash the only rows whose fate is unknown are the ones still
`sending` (the messages that were in flight), and a 250 the database missed is
replayed from the journal.

One `Ledger` is shared by the sender's worker threads: it serialises use of the
single SQLite connection with a lock. A commit in WAL mode with
synchronous=NORMAL costs tens of microseconds, so per-message commits are cheap.
The reporting queries (`status`, `failed`, ...) are in `reports.py`.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from newsletter.errors import NewsletterError, SendError
from newsletter.issue.online import OnlineEdition
from newsletter.sending.archived import keep_online_copy
from newsletter.sending.deliveries import Delivery
from newsletter.sending.delivery_journal import DeliveryJournal
from newsletter.sending.reports import IssueReports
from newsletter.subscribers.bounces import record_soft_bounce
from newsletter.subscribers.model import Subscriber
from newsletter.subscribers.store import Store, subscriber_from_row

FORWARD = {"queued": 0, "sending": 1, "sent": 2, "failed": 2}  # how far a move has gone


class Ledger(IssueReports):
    """With a journal (the store's), every delivery's move is journalled too, and an
    unsubscribe journalled while the database was held (see newsletter.web) stops a
    claim just as a committed one does (see sending.delivery_journal)."""

    store: Store

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.conn = store.conn  # plain sqlite3: a send never loads sqlite-utils
        self._lock = threading.RLock()
        self.journalled = DeliveryJournal(store)

    def close(self) -> None:
        """Let go of the journal (a send's ledger follows its end)."""
        self.journalled.close()

    # --- issues ------------------------------------------------------------------

    def begin(
        self,
        slug: str,
        subject: str,
        content_hash: str,
        *,
        allow_changes: bool = False,
        online: Iterable[OnlineEdition] = (),
    ) -> int:
        """Start or resume a send; returns how many recipients were frozen now.

        The recipient list is frozen once, when the issue first starts sending:
        people who subscribe later are not added by a resumed send. Content that
        changed after someone already got the issue is refused unless allowed.
        `online`: the issue's public copy, kept for the archive in the same commit.
        """
        with self._lock, self.store.write():
            record = self.issue(slug)
            now = self.store.clock()
            if record is None:
                self.conn.execute(
                    "INSERT INTO issues (slug, subject, content_hash, created_at) VALUES (?, ?, ?, ?)",
                    [slug, subject, content_hash, now],
                )
            elif record.content_hash != content_hash:
                self.check_content(slug, content_hash, allow_changes)
                self.conn.execute(
                    "UPDATE issues SET subject = ?, content_hash = ? WHERE slug = ?",
                    [subject, content_hash, slug],
                )
            if online:
                keep_online_copy(self.store, slug, content_hash, online)
            if record is None or record.started_at is None:
                self.conn.execute("UPDATE issues SET started_at = ? WHERE slug = ?", [now, slug])
                frozen = self.conn.execute(
                    "INSERT OR IGNORE INTO deliveries"
                    " (issue_slug, subscriber_id, status, updated_at, language)"
                    " SELECT ?, id, 'queued', ?, language FROM subscribers"
                    " WHERE status = 'active' ORDER BY id",
                    [slug, now],
                ).rowcount
                frozen -= self.journalled.honour_at_freeze(slug, now)
                self.journalled.frozen(now, slug, content_hash, subject)
                return frozen
            self.conn.execute("UPDATE issues SET finished_at = NULL WHERE slug = ?", [slug])
            return 0

    def know_issue(self, slug: str, subject: str, content_hash: str, at: str) -> None:
        """An issue the journal says was frozen and this database has never heard of
        (a copy older than its first send): known again, not started."""
        self.conn.execute(
            "INSERT OR IGNORE INTO issues (slug, subject, content_hash, created_at)"
            " VALUES (?, ?, ?, ?)",
            [slug, subject, content_hash, at],
        )

    def move_forward(self, moves: list[tuple[str, int, str]]) -> None:
        """(slug, subscriber id, state) recorded by the journal, in a restored or
        behind database: each delivery moves forward to it, never back. A row the
        database lost is frozen again with its reader's language as it is now."""
        now = self.store.clock()
        moves = [move for move in moves if move[2] in FORWARD]
        self.conn.executemany(
            "INSERT OR IGNORE INTO deliveries (issue_slug, subscriber_id, status, updated_at,"
            " language) SELECT ?, id, 'queued', ?, language FROM subscribers"
            " WHERE id = ? AND EXISTS (SELECT 1 FROM issues WHERE slug = ?)",
            [(slug, now, sid, slug) for slug, sid, _state in moves],
        )
        self.conn.executemany(
            "UPDATE deliveries SET status = ?, updated_at = ?,"
            " sent_at = CASE WHEN ? = 'sent' THEN coalesce(sent_at, ?) ELSE sent_at END"
            " WHERE issue_slug = ? AND subscriber_id = ?"
            " AND (CASE status WHEN 'sending' THEN 1 WHEN 'sent' THEN 2 WHEN 'failed' THEN 2"
            " ELSE 0 END) < ?",
            [(state, now, state, now, slug, sid, FORWARD[state]) for slug, sid, state in moves],
        )

    def active_not_reached(self, slug: str) -> int:
        """Active people with no delivery of `slug` yet under way or done."""
        return int(
            self.store.value(
                "SELECT count(*) FROM subscribers s WHERE s.status = 'active' AND NOT EXISTS"
                " (SELECT 1 FROM deliveries d WHERE d.issue_slug = ? AND d.subscriber_id = s.id"
                "  AND d.status != 'queued')",
                [slug],
            )
        )

    def check_content(self, slug: str, content_hash: str, allow_changes: bool) -> None:
        """Refuse a changed issue once anyone may have the earlier version."""
        record = self.issue(slug)
        if record is None or record.content_hash == content_hash or allow_changes:
            return
        reached = self.store.value(
            "SELECT count(*) FROM deliveries WHERE issue_slug = ?"
            " AND status IN ('sending', 'sent', 'failed')",
            [slug],
        )
        if reached:
            raise SendError(
                f"issue {slug} changed since it started sending"
                f" ({reached} recipients already have the earlier version)",
                hint="restore the earlier text, or pass --allow-changes to send the new one to the rest",
            )

    def finish(self, slug: str) -> bool:
        """Mark the issue finished when nothing is left queued or uncertain."""
        with self._lock:
            cursor = self.conn.execute(
                "UPDATE issues SET finished_at = ? WHERE slug = ? AND NOT EXISTS ("
                " SELECT 1 FROM deliveries WHERE issue_slug = ? AND status IN ('queued', 'sending'))",
                [self.store.clock(), slug, slug],
            )
            return cursor.rowcount > 0

    def finished_issues(self) -> dict[str, tuple[str, int, int]]:
        """slug -> (finished at, sent, failed) of every issue finished with nothing left
        queued or in flight: the journal may fold their delivery lines."""
        rows = self.conn.execute(
            "SELECT i.slug, i.finished_at, sum(CASE c.status WHEN 'sent' THEN c.n ELSE 0 END),"
            " sum(CASE c.status WHEN 'failed' THEN c.n ELSE 0 END) FROM issues i"
            " LEFT JOIN delivery_counts c ON c.issue_slug = i.slug"
            " WHERE i.finished_at IS NOT NULL GROUP BY i.slug"
            " HAVING coalesce(sum(CASE WHEN c.status IN ('queued', 'sending') THEN c.n END), 0) = 0"
        )
        return {slug: (at, sent or 0, failed or 0) for slug, at, sent, failed in rows}

    def settle_folded(self, slug: str, at: str) -> None:
        """The journal says `slug` finished at `at` and folded its delivery lines: this
        database (a copy older than that) cannot know how its rows still queued or in
        flight ended, so they become uncertain (`sending`: `status` names them, and only
        `send --resend-uncertain` sends them again); an issue it never started is
        started and finished, so no send freezes and sends it again."""
        self.conn.execute(
            "UPDATE deliveries SET status = 'sending', updated_at = ?,"
            " last_error = 'the journal says this issue finished; how this one ended is unknown'"
            " WHERE issue_slug = ? AND status = 'queued'",
            [self.store.clock(), slug],
        )
        self.conn.execute(
            "UPDATE issues SET started_at = ?, finished_at = ? WHERE slug = ? AND started_at IS NULL",
            [at, at, slug],
        )

    def requeue_failed(self, slug: str) -> int:
        """`--retry-failed`: failed rows of people still active go back to the queue."""
        with self._lock:
            back = self.journalled.requeued(slug, "failed")
            moved = self.conn.execute(
                "UPDATE deliveries SET status = 'queued', updated_at = ?"
                " WHERE issue_slug = ? AND status = 'failed' AND subscriber_id IN"
                " (SELECT id FROM subscribers WHERE status = 'active')",
                [self.store.clock(), slug],
            ).rowcount
            self.journalled.write(back)
            return moved

    def retryable_failed(self, slug: str) -> int:
        """How many rows `requeue_failed` would put back."""
        row = self.store.one(
            "SELECT count(*) AS n FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id"
            " WHERE d.issue_slug = ? AND d.status = 'failed' AND s.status = 'active'",
            [slug],
        )
        return row["n"] if row else 0

    def requeue_uncertain(self, slug: str) -> int:
        """`--resend-uncertain`: rows left `sending` by a crash go back to the queue."""
        with self._lock:
            back = self.journalled.requeued(slug, "sending")
            moved = self.conn.execute(
                "UPDATE deliveries SET status = 'queued', updated_at = ?"
                " WHERE issue_slug = ? AND status = 'sending'",
                [self.store.clock(), slug],
            ).rowcount
            self.journalled.write(back)
            return moved

    # --- the queue -------------------------------------------------------------------

    def queued_after(self, slug: str, after_id: int, limit: int) -> list[Delivery]:
        """The next batch of queued rows by id (keyset paging keeps memory flat)."""
        with self._lock:
            rows = list(
                self.store.query(
                    "SELECT d.id AS delivery_id, d.attempts AS delivery_attempts,"
                    " d.language AS delivery_language, s.*"
                    " FROM deliveries d LEFT JOIN subscribers s ON s.id = d.subscriber_id"
                    " WHERE d.issue_slug = ? AND d.status = 'queued' AND d.id > ?"
                    " ORDER BY d.id LIMIT ?",
                    [slug, after_id, limit],
                )
            )
        deliveries = [
            Delivery(
                id=row["delivery_id"],
                subscriber=_as_frozen(row) if row["id"] is not None else None,
                attempts=row["delivery_attempts"],
            )
            for row in rows
        ]
        self.journalled.remember(slug, rows)
        return deliveries

    def active_after(self, after_id: int, limit: int) -> list[Subscriber]:
        """Active subscribers by id, for a dry run of an issue not yet frozen."""
        with self._lock:
            rows = list(
                self.store.query(
                    "SELECT * FROM subscribers WHERE status = 'active' AND id > ?"
                    " ORDER BY id LIMIT ?",
                    [after_id, limit],
                )
            )
        return [subscriber_from_row(row) for row in rows]

    def claim(self, delivery_id: int, message_id: str, *, sent: int | None = None) -> bool:
        """queued -> sending, only if the subscriber is still active at this moment.

        The check and the move are one statement, so an unsubscribe committed
        before it is always honoured. `sent` (the same worker's previous
        delivery, just accepted) is marked in the same transaction: one commit
        per message.
        """
        with self._lock:
            now = self.store.clock()
            if self.journalled.has_left(delivery_id):
                if sent is not None:  # that 250 stands, whoever comes next
                    self.mark_sent(sent)
                claimed = False
            elif sent is None:
                claimed = self._claim(delivery_id, message_id, now)
            else:
                claimed = self._claim_after_sent(delivery_id, message_id, sent, now)
            if claimed:
                self._journal_claim(delivery_id)
            return claimed

    def _claim_after_sent(self, delivery_id: int, message_id: str, sent: int, now: str) -> bool:
        """One commit for the last 250 and the next claim; a failed claim keeps the 250."""
        self.journalled.moved(sent, "sent", done=True)
        try:
            with self.store.write():
                self._mark_sent(sent, now)
                return self._claim(delivery_id, message_id, now)
        except sqlite3.Error:
            with contextlib.suppress(sqlite3.Error):  # the journal holds it in any case
                self._mark_sent(sent, now)
            raise

    def _journal_claim(self, delivery_id: int) -> None:
        """The claim is committed: journal it before a byte goes out, or undo it."""
        try:
            self.journalled.moved(delivery_id, "sending")
        except NewsletterError:
            self._move(delivery_id, "queued", "not sent: the journal could not be written")
            raise

    def _claim(self, delivery_id: int, message_id: str, now: str) -> bool:
        cursor = self.conn.execute(
            "UPDATE deliveries SET status = 'sending', attempts = attempts + 1,"
            " message_id = ?, updated_at = ? WHERE id = ? AND status = 'queued'"
            " AND EXISTS (SELECT 1 FROM subscribers s"
            "  WHERE s.id = deliveries.subscriber_id AND s.status = 'active')",
            [message_id, now, delivery_id],
        )
        return cursor.rowcount == 1

    def skip(self, delivery_id: int) -> str:
        """Mark a row whose subscriber is no longer active; returns the reason."""
        with self._lock:
            row = self.store.one(
                "SELECT s.status FROM deliveries d LEFT JOIN subscribers s"
                " ON s.id = d.subscriber_id WHERE d.id = ?",
                [delivery_id],
            )
            reason = (
                f"subscriber {row['status']}" if row and row["status"] else "subscriber forgotten"
            )
            if reason == "subscriber active":  # left in the journal, not yet in the database
                reason = "subscriber unsubscribed"
            self._move(delivery_id, "skipped", reason, "queued")
            self.journalled.forget(delivery_id)
            return reason

    def mark_sent(self, delivery_id: int) -> None:
        with self._lock:
            self.journalled.moved(delivery_id, "sent", done=True)
            self._mark_sent(delivery_id, self.store.clock())

    def _mark_sent(self, delivery_id: int, now: str) -> None:
        self.conn.execute(
            "UPDATE deliveries SET status = 'sent', last_error = NULL, sent_at = ?,"
            " updated_at = ? WHERE id = ?",
            [now, now, delivery_id],
        )

    def mark_failed(self, delivery_id: int, reason: str) -> None:
        with self._lock:
            self._move(delivery_id, "failed", reason)
            self.journalled.moved(delivery_id, "failed")  # kept: a policy stop may requeue it

    def release(self, delivery_id: int, reason: str) -> None:
        """sending -> queued: the server did not take the message (a later send retries)."""
        with self._lock:
            self._move(delivery_id, "queued", reason)
            self.journalled.moved(delivery_id, "queued", done=True)

    def record_bounce(self, subscriber_id: int, slug: str, detail: str, limit: int) -> bool:
        """A hard bounce at sending; True when it marked the person bounced."""
        with self._lock:
            return self.store.record_bounce(subscriber_id, detail, limit, issue=slug)

    def record_soft_bounce(self, subscriber_id: int, slug: str, detail: str, limit: int) -> bool:
        """Every try for this recipient deferred: a soft bounce for this issue."""
        with self._lock:
            return record_soft_bounce(
                self.store, subscriber_id, issue=slug, detail=detail, source="smtp", limit=limit
            )

    def _move(
        self, delivery_id: int, status: str, reason: str, only_from: str | None = None
    ) -> None:
        sql = "UPDATE deliveries SET status = ?, last_error = ?, updated_at = ? WHERE id = ?"
        params: list[Any] = [status, reason[:500], self.store.clock(), delivery_id]
        if only_from:
            sql += " AND status = ?"
            params.append(only_from)
        self.conn.execute(sql, params)


def _as_frozen(row: dict[str, Any]) -> Subscriber:
    """The subscriber of a delivery, in the language frozen with it (if any)."""
    subscriber = subscriber_from_row(row)
    language = row["delivery_language"]
    if language is None or language == subscriber.language:
        return subscriber
    return replace(subscriber, language=language)
