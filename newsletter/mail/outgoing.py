"""One recipient's finished message: the only thing a transport is handed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutgoingMessage:
    """One recipient's finished message: what a transport needs, nothing more."""

    message_id: str  # with angle brackets, as in the header
    sender: str  # envelope MAIL FROM (ASCII)
    recipient: str  # envelope RCPT TO (IDNA domain)
    data: bytes  # the whole message, CRLF line endings, ready for SMTP DATA
