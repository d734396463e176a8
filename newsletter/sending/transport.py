"""Where messages go: an SMTP session or the outbox Maildir, behind one interface.

A transport is `open()` (idempotent), `send(message)` or `submit(message, ...)`
and `flush()`, and `close()`;
`plan_transport` picks one from the config.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from newsletter.config import Config
from newsletter.errors import InputError
from newsletter.mail.outgoing import OutgoingMessage
from newsletter.sending.outbox import MaildirTransport
from newsletter.sending.pipelining import Done
from newsletter.sending.smtp import SmtpTransport

Claim = Callable[[], bool]


class Transport(Protocol):
    """open() is idempotent; send() and submit() call `claim` once, before the
    message body goes out, and abandon the message if it says no.

    send() answers at once (True: taken; False: abandoned; an exception: not
    taken, or `ReplyLost`). submit() hands the same answer to `done(taken,
    error)`, possibly later: an SMTP session answers for a message while it
    sends the next; flush() waits for the answers still due, and
    close() flushes first.
    """

    description: str

    @property
    def is_open(self) -> bool: ...

    def open(self) -> None: ...

    def send(self, message: OutgoingMessage, claim: Claim = lambda: True) -> bool: ...

    def submit(self, message: OutgoingMessage, claim: Claim, done: Done) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


TransportFactory = Callable[[], Transport]


@dataclass(frozen=True)
class TransportPlan:
    factory: TransportFactory
    description: str
    connections: int
    rate: float
    smtp: bool = True  # False for the outbox: nothing to log in to


def plan_transport(
    config: Config,
    *,
    connections: int | None = None,
    rate: float | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> TransportPlan:
    """SMTP when [smtp] is configured, else the outbox; the password is read here, once."""
    if config.smtp is None:
        if connections is not None and connections != 1:
            raise InputError(
                "--connections is for SMTP sessions; this project sends to the outbox,"
                " which is written by one",
                hint="leave --connections out, or add an [smtp] section to newsletter.toml",
            )
        path = config.outbox_dir
        return TransportPlan(
            lambda: MaildirTransport(path),
            MaildirTransport.describe(path),
            1,
            rate or 0,
            smtp=False,
        )
    smtp = config.smtp
    password = smtp.password()
    context = ssl_context or (None if smtp.security == "none" else ssl.create_default_context())
    hostname = socket.getfqdn()

    def factory() -> Transport:
        return SmtpTransport(smtp, password=password, ssl_context=context, local_hostname=hostname)

    return TransportPlan(
        factory,
        SmtpTransport.describe(smtp),
        connections if connections is not None else smtp.connections,
        rate if rate is not None else smtp.rate,
    )
