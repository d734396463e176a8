"""All SQL about subscribers lives here (events and suppressions in `suppressions.py`).

Callers get `Subscriber` records and plain values back; nothing outside this
module (with `bulk_import.py` for the import's batches and `sending/ledger.py` for
deliveries) writes SQL. Writes that belong together
run in one `write()` transaction, begun IMMEDIATE so that two writers queue on
the busy timeout instead of failing halfway.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from newsletter.db.journal import Journal
from newsletter.errors import InputError, NotFoundError
from newsletter.i18n.languages import NETWORK_LANGUAGES, language_hint, parse_language, says_both
from newsletter.subscribers.addresses import address_key, clean_field, normalise_address
from newsletter.subscribers.model import STATUSES, Subscriber, merged
from newsletter.subscribers.suppressions import SuppressionsAndEvents
from newsletter.subscribers.tokens import new_token

Clock = Callable[[], str]
PROFILE_FIELDS = ("name", "organisation", "language")


def utc_now() -> str:
    """Now in UTC, to the second: written once per second (a send asks per message)."""
    return _iso_second(int(time.time()))


@lru_cache(maxsize=1)
def _iso_second(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).isoformat()


@dataclass(frozen=True)
class AddResult:
    outcome: str  # added | updated | unchanged | resubscribed
    subscriber: Subscriber


class Store(SuppressionsAndEvents):
    """`journal` (see newsletter.db.journal) also records who leaves and comes back."""

    def __init__(
        self, conn: sqlite3.Connection, clock: Clock = utc_now, journal: Journal | None = None
    ) -> None:
        super().__init__(conn, clock, journal)

    # --- reading subscribers -------------------------------------------------

    def get_subscriber(self, email: str) -> Subscriber | None:
        row = self.one("SELECT * FROM subscribers WHERE email_key = ?", [address_key(email)])
        return subscriber_from_row(row) if row else None

    def get_by_id(self, subscriber_id: int) -> Subscriber | None:
        row = self.one("SELECT * FROM subscribers WHERE id = ?", [subscriber_id])
        return subscriber_from_row(row) if row else None

    def _written(self, subscriber_id: int | None) -> Subscriber:
        """The row this connection has just written (so it is there)."""
        return subscriber_from_row(
            self.row("SELECT * FROM subscribers WHERE id = ?", [subscriber_id])
        )

    def get_by_token(self, token: str) -> Subscriber | None:
        row = self.one("SELECT * FROM subscribers WHERE token = ?", [token])
        return subscriber_from_row(row) if row else None

    def is_active(self, subscriber_id: int) -> bool:
        row = self.one("SELECT status FROM subscribers WHERE id = ?", [subscriber_id])
        return row is not None and row["status"] == "active"

    def list_subscribers(
        self, status: str | None = None, search: str | None = None
    ) -> Iterator[Subscriber]:
        """Stream subscribers in id order; memory stays flat for any list size."""
        where, params = [], []
        if status:
            if status not in STATUSES:
                raise InputError(f"unknown status {status!r}: use one of {', '.join(STATUSES)}")
            where.append("status = ?")
            params.append(status)
        if search:
            where.append("(email LIKE ? OR name LIKE ? OR organisation LIKE ?)")
            params.extend([f"%{search}%"] * 3)
        sql = "SELECT * FROM subscribers"
        if where:
            sql += " WHERE " + " AND ".join(where)
        for row in self.query(sql + " ORDER BY id", params):
            yield subscriber_from_row(row)

    def count_by_status(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for row in self.query("SELECT status, count(*) AS n FROM subscribers GROUP BY status"):
            counts[row["status"]] = row["n"]
        return counts

    def count_by_language(self, status: str = "active") -> dict[str, int]:
        """How many subscribers (active by default) chose each language ('' = no choice)."""
        return {
            row["language"]: row["n"]
            for row in self.query(
                "SELECT language, count(*) AS n FROM subscribers WHERE status = ? GROUP BY language",
                [status],
            )
        }

    def ping(self) -> None:
        """A cheap read that fails if the database cannot be used (the web health check)."""
        self.one("SELECT 1 AS ok FROM subscribers LIMIT 1")

    # --- changing one subscriber ---------------------------------------------

    def add_subscriber(
        self,
        email: str,
        *,
        name: str = "",
        organisation: str = "",
        language: str = "",
        attributes: dict[str, Any] | None = None,
        source: str = "cli",
        resubscribe: bool = False,
        languages: tuple[str, ...] = NETWORK_LANGUAGES,
    ) -> AddResult:
        """Add or update one person; someone who left comes back only on request."""
        email = normalise_address(email)
        profile = {
            "name": clean_field(name),
            "organisation": clean_field(organisation),
            "language": _language(language, languages),
        }
        with self.write():
            suppressed = self.is_suppressed(email)
            if suppressed and not resubscribe:
                raise InputError(
                    f"{email} left the list earlier (or was forgotten) and is suppressed",
                    hint="pass --resubscribe only if they asked to join again",
                )
            existing = self.get_subscriber(email)
            if existing is None:
                result = AddResult(
                    "added", self.insert_subscriber(email, profile, attributes or {}, source)
                )
                self.unsuppress(email)
            else:
                cleared = ("language",) if says_both(language) else ()
                result = self._update_existing(
                    existing, profile, attributes, source, resubscribe, cleared
                )
        if result.outcome == "resubscribed" or suppressed:
            self.note_return(result.subscriber.id, source)
        return result

    def _update_existing(
        self,
        existing: Subscriber,
        profile: dict[str, str],
        attributes: dict[str, Any] | None,
        source: str,
        resubscribe: bool,
        cleared: tuple[str, ...] = (),
    ) -> AddResult:
        if existing.status != "active" and not resubscribe:
            raise InputError(
                f"{existing.email} is {existing.status}; they will not be re-added",
                hint="pass --resubscribe only if they asked to join again",
            )
        coming_back = existing.status != "active"
        status = "active" if coming_back else None
        updated = merged(existing, profile, attributes or {}, status=status, cleared=cleared)
        if updated == existing:
            return AddResult("unchanged", existing)
        outcome = "resubscribed" if coming_back else "updated"
        if coming_back:
            self.unsuppress(existing.email)
        self.update_subscribers([updated], self.clock())
        self.record_event(outcome, existing.id, source)
        return AddResult(outcome, self._written(existing.id))

    def update_subscribers(self, subscribers: list[Subscriber], now: str) -> None:
        """Write back changed subscribers (profile, attributes, status) in one statement."""
        self.conn.executemany(
            "UPDATE subscribers SET name = ?, organisation = ?, language = ?, attributes = ?,"
            " status = ?, unsubscribed_at = ?, left_via = ?, bounce_count = ?, updated_at = ?"
            " WHERE id = ?",
            [
                (s.name, s.organisation, s.language, json.dumps(s.attributes, ensure_ascii=False),
                 s.status, s.unsubscribed_at, s.left_via, s.bounce_count, now, s.id)
                for s in subscribers
            ],
        )  # fmt: skip

    def insert_subscriber(
        self, email: str, profile: dict[str, str], attributes: dict[str, Any], source: str
    ) -> Subscriber:
        """Insert a new active subscriber with a fresh token (email already normalised)."""
        now = self.clock()
        cursor = self.conn.execute(
            "INSERT INTO subscribers (email, email_key, name, organisation, language,"
            " attributes, status, token, source, subscribed_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?)",
            [
                email,
                address_key(email),
                profile.get("name", ""),
                profile.get("organisation", ""),
                profile.get("language", ""),
                json.dumps(attributes, ensure_ascii=False),
                new_token(),
                clean_field(source),
                now,
                now,
            ],
        )
        self.record_event("added", cursor.lastrowid, source)
        return self._written(cursor.lastrowid)

    def unsubscribe(
        self,
        subscriber_id: int,
        via: str,
        *,
        detail: str = "",
        issue: str | None = None,
        journaled: bool = False,
    ) -> bool:
        """Idempotent: True only when this call changed an active subscriber.

        The journal line is written (and flushed) first: once this returns, or
        even if the database write fails, the person is recorded as gone.
        """
        if not journaled:
            self.note_leaving(subscriber_id, via)
        with self.write():
            cursor = self.conn.execute(
                "UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = ?,"
                " left_via = ?, updated_at = ? WHERE id = ? AND status = 'active'",
                [self.clock(), via, self.clock(), subscriber_id],
            )
            if cursor.rowcount:
                self.record_event("unsubscribed", subscriber_id, via, detail, issue)
            return cursor.rowcount > 0

    def note_leaving(self, subscriber_id: int, via: str) -> bool:
        """Journal that an active person leaves (before the database knows); False if not active."""
        if not self.is_active(subscriber_id):
            return False
        self._journal_left(subscriber_id, via)
        return True

    def note_return(self, subscriber_id: int, via: str) -> None:
        """Journal that someone came back on request (after the database has it)."""
        self._journal_person("B", subscriber_id, via)

    def set_language(self, subscriber_id: int, language: str, via: str) -> bool:
        """The reader's own language choice ('' for both); True when it changed.

        A send already under way keeps the language frozen with its recipient
        list, so the choice applies from the next issue.
        """
        with self.write():
            cursor = self.conn.execute(
                "UPDATE subscribers SET language = ?, updated_at = ?"
                " WHERE id = ? AND status = 'active' AND language != ?",
                [language, self.clock(), subscriber_id, language],
            )
            if cursor.rowcount:
                self.record_event("language", subscriber_id, via, language or "none")
            return cursor.rowcount > 0

    def remove(self, email: str) -> Subscriber:
        """The coordinator's unsubscribe: the row stays, so the address stays suppressed."""
        subscriber = self.require(email)
        self.unsubscribe(subscriber.id, "cli")
        return self._written(subscriber.id)

    def record_bounce(
        self,
        subscriber_id: int,
        detail: str,
        limit: int,
        *,
        issue: str | None = None,
        source: str = "smtp",
    ) -> bool:
        """Count a hard bounce; True when it reached the limit and the person was suppressed.
        (Soft bounces and other refusals: subscribers/bounces.py.)"""
        with self.write():
            self.conn.execute(
                "UPDATE subscribers SET bounce_count = bounce_count + 1, updated_at = ?"
                " WHERE id = ?",
                [self.clock(), subscriber_id],
            )
            self.record_event("bounced", subscriber_id, source, detail, issue)
            return self.mark_bounced(subscriber_id, min_hard_bounces=limit)

    def mark_bounced(
        self, subscriber_id: int, *, min_hard_bounces: int = 0, journaled: bool = False
    ) -> bool:
        """active -> bounced (when it has at least that many hard bounces); True if changed."""
        now = self.clock()
        cursor = self.conn.execute(
            "UPDATE subscribers SET status = 'bounced', unsubscribed_at = ?, left_via = 'bounce',"
            " updated_at = ? WHERE id = ? AND status = 'active' AND bounce_count >= ?",
            [now, now, subscriber_id, min_hard_bounces],
        )
        if cursor.rowcount and not journaled:
            self._journal_left(subscriber_id, "bounce")
        return cursor.rowcount > 0

    def _journal_left(self, subscriber_id: int, via: str) -> None:
        self._journal_person("L", subscriber_id, via)

    def _journal_person(self, kind: str, subscriber_id: int, via: str) -> None:
        if self.journal is None:
            return
        row = self.one("SELECT email_key FROM subscribers WHERE id = ?", [subscriber_id])
        if row is not None:
            address = self.journal.hash(row["email_key"])
            self.journal_lines([(kind, self.clock(), subscriber_id, address, via)])

    def forget(self, email: str) -> None:
        """Erase the person (see `erase`), then their earlier lines in the journal:
        only the forgotten line, the suppression's hash, is left there."""
        subscriber = self.require(email)
        with self.write():
            self._journal_left(subscriber.id, "forgotten")
            self.erase(subscriber)
        if self.journal is not None:
            self.journal.redact(self.journal.hash(address_key(subscriber.email)))

    def erase(self, subscriber: Subscriber) -> None:
        """The person, every event naming them, their consent records, pending sign-up
        and queued mail; only a hashed suppression is kept. (The replay of a journalled
        `forget` into a restored copy calls this too.)"""
        with self.write():
            self.conn.execute("DELETE FROM events WHERE subscriber_id = ?", [subscriber.id])
            self.conn.execute("DELETE FROM probes WHERE subscriber_id = ?", [subscriber.id])
            self.conn.execute(
                "UPDATE deliveries SET subscriber_id = NULL, last_error = NULL"
                " WHERE subscriber_id = ?",
                [subscriber.id],
            )
            self.conn.execute("DELETE FROM subscribers WHERE id = ?", [subscriber.id])
            self._erase_joining(subscriber)
            self.suppress(subscriber.email, "forgotten")
            self.record_event("forgotten", None, "cli")

    def _erase_joining(self, subscriber: Subscriber) -> None:
        """Consent records, a pending sign-up, unread requests and queued mail for the person."""
        key = address_key(subscriber.email)
        self.conn.execute("DELETE FROM consents WHERE subscriber_id = ?", [subscriber.id])
        self.conn.execute("DELETE FROM signups WHERE email_key = ?", [key])
        self.conn.execute("DELETE FROM mail_queue WHERE recipient_key = ?", [key])
        requests = self.query("SELECT id, email FROM signup_requests")
        doomed = [[row["id"]] for row in requests if address_key(row["email"]) == key]
        self.conn.executemany("DELETE FROM signup_requests WHERE id = ?", doomed)

    def require(self, email: str) -> Subscriber:
        subscriber = self.get_subscriber(normalise_address(email))
        if subscriber is None:
            raise NotFoundError(f"no subscriber {email}")
        return subscriber

    def attribute_keys(self, status: str | None = None) -> list[str]:
        """Every attribute key in use (among subscribers of `status`), sorted: export's extra columns."""
        sql = "SELECT DISTINCT j.key FROM subscribers AS s, json_each(s.attributes) AS j"
        params = []
        if status:
            sql += " WHERE s.status = ?"
            params.append(status)
        return sorted(row[0] for row in self.conn.execute(sql + " ORDER BY 1", params))


def _language(text: str, languages: tuple[str, ...]) -> str:
    code = parse_language(clean_field(text), languages)
    if code is None:
        raise InputError(
            f"unknown language {text!r}",
            hint=language_hint(languages),
        )
    return code


def subscriber_from_row(row: dict[str, Any]) -> Subscriber:
    return Subscriber(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        organisation=row["organisation"],
        language=row["language"],
        attributes=_attributes(row["attributes"]),
        status=row["status"],
        token=row["token"],
        source=row["source"],
        subscribed_at=row["subscribed_at"],
        unsubscribed_at=row["unsubscribed_at"],
        left_via=row["left_via"],
        bounce_count=row["bounce_count"],
    )


def _attributes(stored: str | None) -> dict[str, Any]:
    """Most people have none: "{}" needs no JSON parser (a send reads every row)."""
    return json.loads(stored) if stored and stored != "{}" else {}
