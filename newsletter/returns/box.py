"""The return mailbox behind one small interface: a Maildir or an IMAP folder.

`open()`, then `messages()` yields every message waiting, `done(mail)` moves
a processed one out of the way, `close()`. The processing never knows which.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from newsletter.config import Config


@dataclass(frozen=True)
class ReturnedMail:
    raw: bytes
    ref: str  # where the reader found it: a file path, an IMAP UID
    key: str = field(init=False)  # the same message always gives the same key

    def __post_init__(self) -> None:
        normalised = self.raw.replace(b"\r\n", b"\n")
        object.__setattr__(self, "key", hashlib.sha256(normalised).hexdigest())


class ReturnBox(Protocol):
    description: str

    def open(self) -> None: ...

    def messages(self) -> Iterator[ReturnedMail]: ...

    def done(self, mail: ReturnedMail) -> None: ...

    def close(self) -> None: ...


def open_return_box(config: Config, ssl_context: ssl.SSLContext | None = None) -> ReturnBox:
    """The IMAP folder when [bounces.imap] is configured, else the Maildir."""
    bounces = config.bounces
    if bounces.imap is not None:
        from newsletter.returns.imap import ImapBox

        return ImapBox(bounces.imap, bounces.imap.password(), ssl_context=ssl_context)
    from newsletter.returns.maildir import MaildirBox

    return MaildirBox(config.returns_dir, bounces.done_folder)
