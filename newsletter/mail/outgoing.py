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
    dot_free: bool = False  # True: no line starts with "." (SMTP need not look for one)

    def sent_by(self, sender: str) -> OutgoingMessage:
        """The same message with another envelope sender (VERP), made directly:
        dataclasses.replace is a measurable cost per message."""
        return OutgoingMessage(self.message_id, sender, self.recipient, self.data, self.dot_free)
