"""Consent records: who agreed, when, to exactly which wording, from where.

Every wording ever shown is stored once (`consent_wordings`, keyed by a digest
of its language and text), so a record keeps pointing at the words the person
saw even after the project changes them. The client IP is kept only when the
caller passes one (the project turns that on). `Store.forget` erases the records.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from newsletter.subscribers.store import Store


@dataclass(frozen=True)
class Wording:
    id: int
    digest: str
    language: str
    text: str


@dataclass(frozen=True)
class ConsentRecord:
    at: str
    source: str
    language: str
    wording: str
    wording_digest: str
    client_ip: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "source": self.source,
            "language": self.language,
            "wording": self.wording,
            "wording_digest": self.wording_digest,
            "client_ip": self.client_ip,
        }


def wording_digest(language: str, text: str) -> str:
    return hashlib.sha256(f"{language}\n{text}".encode()).hexdigest()[:32]


def register_wording(store: Store, language: str, text: str) -> Wording:
    """The stored wording for (language, text), added the first time it is shown."""
    digest = wording_digest(language, text)
    with store.write():
        store.conn.execute(
            "INSERT OR IGNORE INTO consent_wordings (digest, language, text, first_shown_at)"
            " VALUES (?, ?, ?, ?)",
            [digest, language, text, store.clock()],
        )
        row = store.row("SELECT * FROM consent_wordings WHERE digest = ?", [digest])
    return _wording(row)


def find_wording(
    store: Store, *, digest: str | None = None, id: int | None = None
) -> Wording | None:
    if digest is not None:
        row = store.one("SELECT * FROM consent_wordings WHERE digest = ?", [digest])
    else:
        row = store.one("SELECT * FROM consent_wordings WHERE id = ?", [id])
    return _wording(row) if row else None


def record_consent(
    store: Store, subscriber_id: int, wording_id: int, source: str, client_ip: str | None
) -> None:
    """One more consent record (call inside the transaction that makes the person active)."""
    store.conn.execute(
        "INSERT INTO consents (subscriber_id, at, wording_id, source, client_ip)"
        " VALUES (?, ?, ?, ?, ?)",
        [subscriber_id, store.clock(), wording_id, source, client_ip],
    )


def latest_consent(store: Store, subscriber_id: int) -> ConsentRecord | None:
    """The most recent consent of a subscriber, with the wording's full text."""
    row = store.one(
        "SELECT c.at, c.source, c.client_ip, w.language, w.text, w.digest"
        " FROM consents AS c JOIN consent_wordings AS w ON w.id = c.wording_id"
        " WHERE c.subscriber_id = ? ORDER BY c.id DESC LIMIT 1",
        [subscriber_id],
    )
    if row is None:
        return None
    return ConsentRecord(
        at=row["at"],
        source=row["source"],
        language=row["language"],
        wording=row["text"],
        wording_digest=row["digest"],
        client_ip=row["client_ip"],
    )


def _wording(row: dict[str, Any]) -> Wording:
    return Wording(row["id"], row["digest"], row["language"], row["text"])
