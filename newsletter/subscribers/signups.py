"""Joining with double opt-in: sign-up requests, pending sign-ups, confirmation.

A web request only records what was typed (`queue_request`: one INSERT, the
same whoever the address belongs to). The serving process then decides, out of
sight of the client (`open_signup`): a mailbox already mailed `per_address`
times in a day (a bounced one: once; `name+tag@` is `name@`) is not mailed again, anyone else (new,
pending, active, unsubscribed, bounced, forgotten) gets a fresh confirmation
token. Only the token's hash is stored; the link works once, until it expires.
`confirm` makes the person active and records their consent in one transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from newsletter.subscribers.addresses import address_key, clean_field, mailbox_key
from newsletter.subscribers.consent import record_consent
from newsletter.subscribers.model import Subscriber, merged
from newsletter.subscribers.store import Store
from newsletter.subscribers.tokens import looks_like_token, new_token

DAY = timedelta(days=1)


@dataclass(frozen=True)
class SignupRequest:
    """What a form (or the resubscribe button) asked for, not yet looked at."""

    email: str
    name: str = ""
    organisation: str = ""
    language: str = ""
    wording_id: int | None = None
    source: str = "web-form"
    client_ip: str | None = None


@dataclass(frozen=True)
class PendingSignup:
    email: str
    name: str
    organisation: str
    language: str
    wording_id: int | None
    source: str
    client_ip: str | None
    expires_at: str


@dataclass(frozen=True)
class Invitation:
    """A confirmation to mail: the raw token exists only here and in the mail."""

    token: str
    signup: PendingSignup


def later(iso: str, delta: timedelta) -> str:
    return (datetime.fromisoformat(iso) + delta).isoformat(timespec="seconds")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def form_secret(store: Store) -> str:
    """The key that signs the forms' time stamps (made by the migration, per database)."""
    return str(store.value("SELECT value FROM meta WHERE key = 'form_secret'"))


def queue_request(store: Store, request: SignupRequest) -> None:
    """Record a request as it came: the whole of what a POST /subscribe writes."""
    with store.write():
        store.conn.execute(
            "INSERT INTO signup_requests (received_at, email, name, organisation, language,"
            " wording_id, source, client_ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [store.clock(), request.email, clean_field(request.name),
             clean_field(request.organisation), request.language, request.wording_id,
             request.source, request.client_ip],
        )  # fmt: skip


def use_stamp(store: Store, stamp: str, kept_for: timedelta) -> bool:
    """Remember a form's stamp as used; False if it was used before (a replay).
    Call inside the write transaction that queues the request."""
    cursor = store.conn.execute(
        "INSERT OR IGNORE INTO used_stamps (stamp, expires_at) VALUES (?, ?)",
        [stamp, later(store.clock(), kept_for)],
    )
    return cursor.rowcount > 0


def take_requests(store: Store, limit: int = 50) -> list[SignupRequest]:
    """The oldest requests, removed from the queue (call inside the transaction that acts)."""
    rows = list(store.query("SELECT * FROM signup_requests ORDER BY id LIMIT ?", [limit]))
    if rows:
        store.conn.execute("DELETE FROM signup_requests WHERE id <= ?", [rows[-1]["id"]])
    return [
        SignupRequest(
            row["email"], row["name"], row["organisation"], row["language"],
            row["wording_id"], row["source"], row["client_ip"],
        )
        for row in rows
    ]  # fmt: skip


def open_signup(
    store: Store, request: SignupRequest, *, valid_for: timedelta, per_address: int
) -> Invitation | None:
    """A fresh confirmation token for this address, or None when it must not be mailed.

    Call inside a write transaction. An address already mailed `per_address`
    times in the last day gets nothing; nobody can tell. A bounced address may
    come back this way too (a forged or passing bounce must not lock anyone
    out), but is mailed at most once a day: its server may still refuse.
    """
    existing = store.get_subscriber(request.email)
    if existing is not None and existing.status == "bounced":
        per_address = min(per_address, 1)
    now = store.clock()
    key, mailbox = address_key(request.email), mailbox_key(request.email)
    if _mailed_today(store, mailbox, now) >= per_address:
        return None
    row = store.one("SELECT * FROM signups WHERE email_key = ?", [key])
    window_start, sent = now, 0
    if row is not None and row["window_started_at"] > later(now, -DAY):
        window_start, sent = row["window_started_at"], row["mails_in_window"]
    token = new_token()
    expires_at = later(now, valid_for)
    store.conn.execute("DELETE FROM signups WHERE email_key = ?", [key])
    store.conn.execute(
        "INSERT INTO signups (email, email_key, mailbox_key, name, organisation, language,"
        " token_hash, wording_id, source, client_ip, requested_at, expires_at, mails_in_window,"
        " window_started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [request.email, key, mailbox, request.name, request.organisation, request.language,
         token_hash(token), request.wording_id, request.source, request.client_ip, now,
         expires_at, sent + 1, window_start],
    )  # fmt: skip
    return Invitation(
        token, _pending(store.one("SELECT * FROM signups WHERE email_key = ?", [key]))
    )


def _mailed_today(store: Store, mailbox: str, now: str) -> int:
    """Confirmation mails to this mailbox (any of its +tags) in the last day."""
    row = store.one(
        "SELECT coalesce(sum(mails_in_window), 0) AS n FROM signups"
        " WHERE mailbox_key = ? AND window_started_at > ?",
        [mailbox, later(now, -DAY)],
    )
    return int(row["n"]) if row else 0


def find_pending(store: Store, token: str) -> PendingSignup | None:
    """The sign-up a link belongs to, while it is valid; None for any other token."""
    if not looks_like_token(token):
        return None
    row = store.one(
        "SELECT * FROM signups WHERE token_hash = ? AND expires_at > ?",
        [token_hash(token), store.clock()],
    )
    return _pending(row) if row else None


def confirm(
    store: Store, token: str, wording_id: int, client_ip: str | None = None
) -> Subscriber | None:
    """Make the person active and record their consent (to `wording_id`, from
    `client_ip` when the project keeps it); None if the link is not valid.

    Single use: the pending sign-up is deleted in the same transaction.
    """
    with store.write():
        pending = find_pending(store, token)
        if pending is None:
            return None
        subscriber = _activate(store, pending)
        store.note_return(subscriber.id, pending.source)  # the journal: back on request
        record_consent(store, subscriber.id, wording_id, pending.source, client_ip)
        store.conn.execute("DELETE FROM signups WHERE token_hash = ?", [token_hash(token)])
    return store.get_by_id(subscriber.id)


def _activate(store: Store, pending: PendingSignup) -> Subscriber:
    profile = {"name": pending.name, "organisation": pending.organisation,
               "language": pending.language}  # fmt: skip
    existing = store.get_subscriber(pending.email)
    store.unsuppress(pending.email)  # forgotten, and now asking to come back
    if existing is None:
        return store.insert_subscriber(pending.email, profile, {}, pending.source)
    coming_back = existing.status != "active"
    updated = merged(existing, profile, {}, status="active" if coming_back else None)
    if updated != existing:
        store.update_subscribers([updated], store.clock())
    store.record_event("resubscribed" if coming_back else "confirmed", existing.id, pending.source)
    return updated


def purge_expired(store: Store) -> int:
    """Delete pending sign-ups whose link has expired (and stamps too old to be
    accepted anyway); how many sign-ups went."""
    with store.write():
        cursor = store.conn.execute("DELETE FROM signups WHERE expires_at <= ?", [store.clock()])
        store.conn.execute("DELETE FROM used_stamps WHERE expires_at <= ?", [store.clock()])
    return cursor.rowcount


def _pending(row: dict[str, Any] | None) -> PendingSignup:
    assert row is not None
    return PendingSignup(
        email=row["email"],
        name=row["name"],
        organisation=row["organisation"],
        language=row["language"],
        wording_id=row["wording_id"],
        source=row["source"],
        client_ip=row["client_ip"],
        expires_at=row["expires_at"],
    )
