"""Probes: a bounce we cannot tie to a delivery by VERP is confirmed before it counts.

Mailman's model. A permanent bounce attributed only by the Message-ID it
quotes, or one of many in a single message, could be forged by anyone who
saw one of our messages (or guessed nothing at all, for the failed blocks
that name no delivery). So instead of marking the address, a short notice
goes to it with its own VERP tag (`bounces+pID-TAG@`): only if that probe
bounces is the address marked bounced. A probe that does not bounce within
`PROBE_WAIT` leaves the address as it was. One probe per person at a time.
"""

from __future__ import annotations

from datetime import timedelta

from newsletter.config import Config
from newsletter.i18n import N_
from newsletter.mail.notice_writer import NoticeWriter
from newsletter.sending.mail_queue import enqueue
from newsletter.sending.return_path import ReturnPath
from newsletter.subscribers.signups import later
from newsletter.subscribers.store import Store
from newsletter.subscribers.tokens import unsubscribe_url

PROBE_WAIT = timedelta(days=7)  # DSNs come back within Postfix's 5-day queue life
PROBE_SUBJECT = N_("{name}: checking that your address still works")


class Prober:
    """Starts probes (inside the caller's transaction) and reads their outcome."""

    def __init__(self, store: Store, config: Config, return_path: ReturnPath) -> None:
        self.store, self.config, self.return_path = store, config, return_path
        self._writer: NoticeWriter | None = None

    @property
    def writer(self) -> NoticeWriter:
        """Made for the first probe: a run that sends none needs no templates or DKIM key."""
        if self._writer is None:
            self._writer = NoticeWriter(self.config)
        return self._writer

    def start(self, subscriber_id: int, issue: str | None, reason: str) -> bool:
        """Queue a probe to the person; False when one is out already."""
        store = self.store
        subscriber = store.get_by_id(subscriber_id)
        if subscriber is None or self.out_for(subscriber_id):
            return False
        now = store.clock()
        cursor = store.conn.execute(
            "INSERT INTO probes (subscriber_id, issue_slug, reason, sent_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [subscriber_id, issue, reason, now, later(now, PROBE_WAIT)],
        )
        probe_id = int(cursor.lastrowid or 0)
        config = self.config
        message = self.writer.write(
            "probe",
            email=subscriber.email,
            name=subscriber.name,
            language=subscriber.language,
            context={"preferences_url": unsubscribe_url(config.base_url, subscriber.token)},
            subject_msgid=PROBE_SUBJECT,
        ).sent_by(self.return_path.for_probe(probe_id))
        store.conn.execute(
            "UPDATE probes SET message_id = ? WHERE id = ?", [message.message_id, probe_id]
        )
        enqueue(store, "probe", subscriber.email, message, later(now, PROBE_WAIT))
        store.record_event("probe_sent", subscriber_id, "probe", reason, issue)
        return True

    def out_for(self, subscriber_id: int) -> bool:
        return bool(
            self.store.one(
                "SELECT 1 AS x FROM probes WHERE subscriber_id = ? AND outcome IS NULL"
                " AND expires_at > ?",
                [subscriber_id, self.store.clock()],
            )
        )

    def by_message_id(self, message_id: str) -> int | None:
        """The probe a bounce quotes by Message-ID (a project without VERP reads it so)."""
        row = self.store.one("SELECT id FROM probes WHERE message_id = ?", [message_id])
        return row["id"] if row else None

    def bounced(self, probe_id: int, detail: str) -> tuple[int, bool] | None:
        """The probe came back: the address is marked bounced. (subscriber, marked) or None."""
        store = self.store
        row = store.one("SELECT subscriber_id, issue_slug FROM probes WHERE id = ?", [probe_id])
        if row is None:  # forgotten since
            return None
        store.conn.execute(
            "UPDATE probes SET outcome = 'bounced' WHERE id = ? AND outcome IS NULL", [probe_id]
        )
        subscriber_id = row["subscriber_id"]
        marked = store.mark_bounced(subscriber_id)
        if marked:
            store.record_event(
                "bounced", subscriber_id, "probe", f"probe bounced: {detail}", row["issue_slug"]
            )
        return subscriber_id, marked

    def expire(self) -> int:
        """Probes that did not bounce in time: the address works; nothing changes."""
        with self.store.write():
            cursor = self.store.conn.execute(
                "UPDATE probes SET outcome = 'expired' WHERE outcome IS NULL AND expires_at <= ?",
                [self.store.clock()],
            )
        return cursor.rowcount

    def count_out(self) -> int:
        row = self.store.one(
            "SELECT count(*) AS n FROM probes WHERE outcome IS NULL AND expires_at > ?",
            [self.store.clock()],
        )
        return int(row["n"]) if row else 0
