"""The queue of single mails the web handler sends: confirmations and welcomes.

A mail is queued in the same transaction as the sign-up it belongs to, so a
relay that is down loses nothing: `serve` sends it when the relay answers,
retrying with a growing pause until the mail's link expires. A row is deleted
once the relay has taken it (its bytes hold a confirmation token). Each try
claims the row first (pushing its next attempt out), so two serving processes
never send the same mail at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from newsletter.mail.outgoing import OutgoingMessage
from newsletter.subscribers.addresses import address_key
from newsletter.subscribers.signups import later
from newsletter.subscribers.store import Store

CLAIM_FOR = timedelta(minutes=10)  # a try never takes this long; a crashed one is retried after it


@dataclass(frozen=True)
class QueuedMail:
    id: int
    kind: str
    message: OutgoingMessage
    attempts: int


def enqueue(store: Store, kind: str, email: str, message: OutgoingMessage, expires_at: str) -> None:
    """Queue one mail (inside the caller's transaction, with what it belongs to)."""
    now = store.clock()
    store.conn.execute(
        "INSERT INTO mail_queue (kind, recipient_key, sender, recipient, data, queued_at,"
        " expires_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [kind, address_key(email), message.sender, message.recipient, message.data, now,
         expires_at, now],
    )  # fmt: skip


def claim_due(store: Store, limit: int = 20) -> list[QueuedMail]:
    """Mails whose time has come, claimed for this try."""
    now = store.clock()
    with store.write():
        rows = list(
            store.query(
                "SELECT * FROM mail_queue WHERE next_attempt_at <= ? AND expires_at > ?"
                " ORDER BY next_attempt_at, id LIMIT ?",
                [now, now, limit],
            )
        )
        store.conn.executemany(
            "UPDATE mail_queue SET next_attempt_at = ? WHERE id = ?",
            [(later(now, CLAIM_FOR), row["id"]) for row in rows],
        )
    return [
        QueuedMail(
            row["id"],
            row["kind"],
            OutgoingMessage(_message_id(row["data"]), row["sender"], row["recipient"], row["data"]),
            row["attempts"],
        )
        for row in rows
    ]


def mark_sent(store: Store, mail_id: int) -> None:
    with store.write():
        store.conn.execute("DELETE FROM mail_queue WHERE id = ?", [mail_id])


def mark_deferred(store: Store, mail: QueuedMail, error: str, retry_in: timedelta) -> None:
    with store.write():
        store.conn.execute(
            "UPDATE mail_queue SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
            " WHERE id = ?",
            [error[:500], later(store.clock(), retry_in), mail.id],
        )


def purge_expired(store: Store) -> int:
    """Drop mails whose link has expired: sending them now would only disappoint."""
    with store.write():
        cursor = store.conn.execute("DELETE FROM mail_queue WHERE expires_at <= ?", [store.clock()])
    return cursor.rowcount


def _message_id(data: bytes) -> str:
    head = data.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode("ascii", "replace")
    return ""
