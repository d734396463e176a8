"""Plain records passed between the store and the rest of the program."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATUSES = ("active", "unsubscribed", "bounced")
LEFT_VIA = ("web", "one-click", "cli", "bounce", "import")
DELIVERY_STATUSES = ("queued", "sending", "sent", "failed", "skipped")


@dataclass(frozen=True)
class Subscriber:
    id: int
    email: str
    name: str = ""
    organisation: str = ""
    language: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    status: str = "active"
    token: str = ""
    source: str = ""
    subscribed_at: str | None = None
    unsubscribed_at: str | None = None
    left_via: str | None = None
    bounce_count: int = 0


@dataclass(frozen=True)
class OutgoingMessage:
    """One recipient's finished message: what a transport needs, nothing more."""

    message_id: str  # with angle brackets, as in the header
    sender: str  # envelope MAIL FROM (ASCII)
    recipient: str  # envelope RCPT TO (IDNA domain)
    data: bytes  # the whole message, CRLF line endings, ready for SMTP DATA
