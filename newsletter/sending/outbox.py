"""The outbox transport: the embedded default, a Maildir any mail client opens."""

from __future__ import annotations

import mailbox
from pathlib import Path
from typing import TYPE_CHECKING

from newsletter.mail.outgoing import OutgoingMessage
from newsletter.sending.pipelining import answer_at_once

if TYPE_CHECKING:
    from newsletter.sending.pipelining import Done
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
        self._maildir()

    def _maildir(self) -> mailbox.Maildir:
        if self._box is None:
            self._box = mailbox.Maildir(self.path, create=True)
        return self._box

    def send(self, message: OutgoingMessage, claim: Claim = lambda: True) -> bool:
        box = self._maildir()
        if not claim():
            return False
        # Maildir files use the local line ending; add() writes to tmp/ and renames into new/.
        box.add(message.data.replace(b"\r\n", b"\n"))
        return True

    def submit(self, message: OutgoingMessage, claim: Claim, done: Done) -> None:
        """`send`, its result handed to `done(taken, error)` at once."""
        answer_at_once(self.send, message, claim, done)

    def flush(self) -> None:
        """Nothing is ever in flight: a file is written or not."""

    def close(self) -> None:
        self._box = None
