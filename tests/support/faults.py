"""Relays that refuse the way real ones do, for the refusal and breaker tests.

- `ScriptedSink`: an aiosmtpd handler answering RCPT and DATA from a script
  (one reply for everyone, or one per recipient), optionally going silent
  after N accepted messages (every MAIL then hangs, as a wedged relay does).
  `PipeliningScriptedSink` is the same, offering PIPELINING.
- `GreetingRefuser`: a bare TCP server that answers every connection with one
  line (e.g. `421 4.3.2 Service not available`) and hangs up.
- `WeatherSink`: an ordinary day at a shared relay: 451 to a share of messages
  at random, and a few connections dropped, before the final dot (at RCPT) or
  after it (the message taken, the reply never sent).
- `BurstLimitedSink`: 451 to every MAIL for a few seconds after every N
  messages, as Microsoft 365 and Gmail do when a burst exceeds their rate.
- `RateLimitedSink`: takes at most `rate` messages a second (a token bucket one
  second deep) and answers MAIL above it with 451 4.7.0.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
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


SLOW_DOWN = "451 4.7.0 Too many messages, slow down and try again later"


@dataclass
class WeatherSink(Sink):
    """451 4.3.0 to `defer` of the messages, at random (after the dot); drops a
    connection at `drop_before` of RCPTs and after `drop_after` of the final dots (the
    message taken, as a relay that crashes before it answers); `seed` repeats a day."""

    defer: float = 0.15
    drop_before: float = 0.02
    drop_after: float = 0.01
    seed: int = 2026
    pipelining: bool = False
    dropped_after_dot: list[str] = field(default_factory=list)  # taken, never answered
    deferrals: int = 0
    drops_before: int = 0

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: ANN001, ANN201
        session.host_name = hostname
        if not self.pipelining:
            return responses
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, ANN201
        if self._random.random() < self.drop_before:
            self.drops_before += 1
            server.transport.close()
            return "421 4.3.0 closing"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201
        luck = self._random.random()
        if luck < self.defer:
            self.deferrals += 1
            return "451 4.3.0 Try again later"
        if luck < self.defer + self.drop_after:
            self.accept(session, envelope)
            self.dropped_after_dot.append(envelope.rcpt_tos[0])
            server.transport.abort()  # no reply, nothing flushed
            return "250 OK"
        return self.accept(session, envelope)


@dataclass
class BurstLimitedSink(Sink):
    """Takes `burst` messages, then answers every MAIL with 451 for `blocked_for` s."""

    burst: int = 25
    blocked_for: float = 4.0
    blocked_until: float = 0.0
    refusals: int = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: ANN001, ANN201
        if time.monotonic() < self.blocked_until:
            self.refusals += 1
            return SLOW_DOWN
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201
        reply = self.accept(session, envelope)
        if len(self.messages) % self.burst == 0:
            self.blocked_until = time.monotonic() + self.blocked_for
        return reply


@dataclass
class RateLimitedSink(Sink):
    """At most `rate` messages a second (a bucket of `rate` tokens, refilled
    continuously); MAIL above it is answered 451 4.7.0."""

    rate: float = 50.0
    refusals: int = 0

    def __post_init__(self) -> None:
        self._tokens, self._at = self.rate, time.monotonic()
        self._lock = threading.Lock()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: ANN001, ANN201
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.rate, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens < 1:
                self.refusals += 1
                return SLOW_DOWN
            self._tokens -= 1
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"
