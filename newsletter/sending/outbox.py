"""The outbox transport: the embedded default, a Maildir any mail client opens."""

from __future__ import annotations

import mailbox
from pathlib import Path
from typing import TYPE_CHECKING

from newsletter.mail.outgoing import OutgoingMessage

if TYPE_CHECKING:
    from newsletter.sending.transport import Claim


class MaildirTransport:
    """The embedded default: every message lands as a file any mail client can open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = self.describe(path)
        self._box: mailbox.Maildir | None = None

    @staticmethod
    def describe(path: Path) -> str:
        return f"outbox {path} (Maildir)"

    @property
    def is_open(self) -> bool:
        return self._box is not None

    def open(self) -> None:
        if self._box is None:
            self._box = mailbox.Maildir(self.path, create=True)

    def send(self, message: OutgoingMessage, claim: Claim = lambda: True) -> bool:
        if self._box is None:
            self.open()
        if not claim():
            return False
        # Maildir files use the local line ending; add() writes to tmp/ and renames into new/.
        self._box.add(message.data.replace(b"\r\n", b"\n"))  # type: ignore[union-attr]
        return True

    def close(self) -> None:
        self._box = None
