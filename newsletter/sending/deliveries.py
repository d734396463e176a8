"""The records the ledger hands out: an issue, a queued delivery, the statuses a row takes."""

from __future__ import annotations

from dataclasses import dataclass

from newsletter.subscribers.model import Subscriber

DELIVERY_STATUSES = ("queued", "sending", "sent", "failed", "skipped")


@dataclass(frozen=True)
class IssueRecord:
    slug: str
    subject: str
    content_hash: str
    created_at: str
    started_at: str | None
    finished_at: str | None


@dataclass(frozen=True)
class Delivery:
    """A queued row with its subscriber as read (None when they were forgotten)."""

    id: int
    subscriber: Subscriber | None
    attempts: int
