"""Relays that refuse the way real ones do, for the refusal and breaker tests.

- `ScriptedSink`: an aiosmtpd handler answering RCPT and DATA from a script
  (one reply for everyone, or one per recipient), optionally going silent
  after N accepted messages (every MAIL then hangs, as a wedged relay does).
  `PipeliningScriptedSink` is the same, offering PIPELINING.
- `GreetingRefuser`: a bare TCP server that answers every connection with one
  line (e.g. `421 4.3.2 Service not available`) and hangs up.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field

from support.listener import LoopbackListener
from support.smtp import Sink

O365_QUOTA = (
    "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException;"
    " Failed to process message due to a permanent exception"
)
SES_NOT_VERIFIED = (
    "554 Message rejected: Email address is not verified. The following identities failed"
    " the check in region EU-WEST-1: newsletter@example.org"
)
EXIM_RELAY_DENIED = "550 relay not permitted"
MAILBOX_FULL = "552 5.2.2 <{address}>: mailbox full"
TOO_BIG = "552 5.2.3 message size exceeds fixed maximum message size"
GMAIL_SECURITY = (
    "552 5.7.0 This message was blocked because its content presents a potential security issue"
)
NO_SUCH_USER = "550 5.1.1 <{address}>: Recipient address rejected: User unknown"
POLICY = "550 5.7.1 message refused by policy"
FULL_SYSTEM = "452 4.3.1 Insufficient system storage"


@dataclass
class ScriptedSink(Sink):
    rcpt_all: str | None = None  # the reply to every RCPT
    data_all: str | None = None  # the reply to every DATA
    rcpt: dict[str, str] = field(default_factory=dict)  # address -> reply at RCPT
    data: dict[str, str] = field(default_factory=dict)  # address -> reply at DATA
    silent_after: int | None = None  # accept this many messages, then never answer MAIL
    hang_seconds: float = 30.0  # bounded: the test has given up long before
    refusals: list[str] = field(default_factory=list)  # every refusal sent, in order

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: ANN001, ANN201
        if self.silent_after is not None and len(self.messages) >= self.silent_after:
            await asyncio.sleep(self.hang_seconds)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, ANN201
        reply = self.rcpt.get(address, self.rcpt_all)
        if reply:
            return self._refuse(reply, address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201
        address = envelope.rcpt_tos[0]
        reply = self.data.get(address, self.data_all)
        if self.delay:
            await asyncio.sleep(self.delay)
        if reply:
            return self._refuse(reply, address)
        return self.accept(session, envelope)

    def _refuse(self, reply: str, address: str) -> str:
        text = reply.format(address=address)
        self.refusals.append(text)
        return text


class PipeliningScriptedSink(ScriptedSink):
    """ScriptedSink that lists PIPELINING in its EHLO reply."""

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: ANN001, ANN201
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]


class GreetingRefuser(LoopbackListener):
    """Answers every connection with `line` and closes it; counts the connections."""

    def __init__(self, line: str = "421 4.3.2 Service not available, closing channel") -> None:
        self.line = line.encode() + b"\r\n"
        self.connections = 0
        super().__init__()

    def handle(self, client: socket.socket) -> None:
        self.connections += 1
        with client:
            client.sendall(self.line)
