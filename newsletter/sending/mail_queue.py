"""The queue of single mails: confirmations and welcomes (sent by `serve`), probes.

A mail is queued in the same transaction as the sign-up it belongs to, so a
relay that is down loses nothing: `serve` sends it when the relay answers,
retrying with a growing pause until the mail's link expires. A row is deleted
once the relay has taken it (its bytes hold a confirmation token). Each try
claims the row first (pushing its next attempt out), so two serving processes
never send the same mail at once.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from newsletter.errors import NewsletterError
from newsletter.mail.outgoing import OutgoingMessage
from newsletter.sending.transport import Transport, TransportPlan
from newsletter.subscribers.addresses import address_key
from newsletter.subscribers.signups import later
from newsletter.subscribers.store import Store

CLAIM_FOR = timedelta(minutes=10)  # a try never takes this long; a crashed one is retried after it
MAX_RETRY_SECONDS = 30 * 60
LOG = logging.getLogger("newsletter.mail")


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


def claim_due(store: Store, limit: int = 20, kind: str | None = None) -> list[QueuedMail]:
    """Mails (of `kind`, or any) whose time has come, claimed for this try."""
    now = store.clock()
    with store.write():
        rows = list(
            store.query(
                "SELECT * FROM mail_queue WHERE next_attempt_at <= ? AND expires_at > ?"
                " AND kind = coalesce(?, kind) ORDER BY next_attempt_at, id LIMIT ?",
                [now, now, kind, limit],
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


def send_due(
    store: Store,
    plan: Callable[[], TransportPlan],
    *,
    retry_seconds: float,
    limit: int = 20,
    kind: str | None = None,
) -> int:
    """Send the mails whose time has come through the project's transport; how many went.

    A mail the relay does not take waits `retry_seconds`, doubling per try (at
    most 30 minutes); a relay that is unreachable makes the whole batch wait.
    """
    due = claim_due(store, limit, kind)
    if not due:
        return 0
    try:
        transport = plan().factory()
    except NewsletterError as error:  # e.g. the SMTP password variable is not set
        for mail in due:
            _defer(store, mail, error.message, retry_seconds)
        return 0
    sent = 0
    try:
        for index, mail in enumerate(due):
            went, relay_ok = _send_one(store, transport, mail, retry_seconds)
            sent += went
            if not relay_ok:
                for waiting in due[index + 1 :]:  # the relay is unreachable: all wait
                    _defer(store, waiting, "not tried: the relay was unreachable", retry_seconds)
                break
    finally:
        transport.close()
    return sent


def _send_one(
    store: Store, transport: Transport, mail: QueuedMail, retry_seconds: float
) -> tuple[bool, bool]:
    """(taken, the relay itself still works)."""
    try:
        transport.open()
        transport.send(mail.message)
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException) as error:
        code = _reply_code(error)
        if 500 <= code < 600 and isinstance(error, smtplib.SMTPRecipientsRefused):
            LOG.warning("the relay refused a %s mail for good (%s): dropped", mail.kind, code)
            mark_sent(store, mail.id)
            return False, True
        _defer(store, mail, f"{code} {error}", retry_seconds)
        return False, code < 500
    except (OSError, smtplib.SMTPException) as error:
        _defer(store, mail, str(error) or type(error).__name__, retry_seconds)
        return False, False
    mark_sent(store, mail.id)
    return True, True


def _defer(store: Store, mail: QueuedMail, error: str, retry_seconds: float) -> None:
    pause = min(retry_seconds * 2**mail.attempts, MAX_RETRY_SECONDS)
    LOG.warning("a %s mail waits %.0f s for another try: %s", mail.kind, pause, error)
    mark_deferred(store, mail, error, timedelta(seconds=pause))


def _reply_code(error: Exception) -> int:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _text in error.recipients.values()]
        return codes[0] if codes else 0
    return int(getattr(error, "smtp_code", 0) or 0)


def _message_id(data: bytes) -> str:
    head = data.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode("ascii", "replace")
    return ""
