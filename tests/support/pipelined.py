"""A server that offers PIPELINING, and a driver that runs a pipelined session
against a real ledger the way the send loop treats a transport's results."""

from __future__ import annotations

import asyncio
import smtplib
import time
from dataclasses import dataclass, field

from newsletter.mail.outgoing import OutgoingMessage
from newsletter.sending.ledger import Ledger
from newsletter.sending.pipelining import PipelinedSession
from newsletter.sending.replies import Kind, classify

from support.smtp import FaultySink, Server

SLUG = "2026-12"


@dataclass
class PipeliningSink(FaultySink):
    """FaultySink that lists PIPELINING in its EHLO reply, refuses MAIL from
    `refused_sender` with 451, and counts the sessions it saw."""

    refused_sender: str = "refused@example.org"
    sessions: int = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: ANN001, ANN201
        session.host_name = hostname
        self.sessions += 1
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: ANN001, ANN201
        if address == self.refused_sender:
            return "451 4.3.2 sender temporarily refused"
        return await super().handle_MAIL(server, session, envelope, address, mail_options)


@dataclass
class StallingSink(PipeliningSink):
    """PipeliningSink that stops answering final dots once `stall_after` messages were
    accepted, as a relay that wedges mid-send: a content that arrives after that is
    recorded (`stalled`) and its reply held until `release()` (at most two minutes),
    then refused with 421 and not kept. `complete` lists every recipient whose whole
    content (up to the final dot) arrived."""

    stall_after: int = 0
    stalled: list[str] = field(default_factory=list)
    complete: list[str] = field(default_factory=list)
    released: bool = False

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201
        self.complete.extend(envelope.rcpt_tos)
        if self.released or len(self.messages) < self.stall_after:
            return self.accept(session, envelope)
        self.stalled.extend(envelope.rcpt_tos)
        deadline = time.monotonic() + 120
        while not self.released and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return "421 4.3.0 closing: no answer in time"

    def release(self) -> None:
        """Answer the held dots (421) and accept every message from now on."""
        self.released = True


def message(recipient: str, sender: str = "newsletter@example.org") -> OutgoingMessage:
    data = (
        f"From: {sender}\r\nTo: {recipient}\r\nSubject: Test\r\n\r\n"
        f"Hello {recipient}\r\n.a line that starts with a dot\r\n"
    ).encode()
    return OutgoingMessage(f"<{recipient}>", sender, recipient, data)


@dataclass
class Driver:
    """Submits queued deliveries to one pipelined session (reconnecting when it
    closes) and records each result in the ledger as the send loop does."""

    server: Server
    ledger: Ledger
    senders: dict[str, str] = field(default_factory=dict)  # recipient -> MAIL FROM
    session: PipelinedSession | None = None
    connections: int = 0
    outcomes: dict[str, str] = field(default_factory=dict)

    def connect(self) -> PipelinedSession:
        smtp = smtplib.SMTP(self.server.host, self.server.port, timeout=10)
        smtp.ehlo()
        self.connections += 1
        return PipelinedSession(smtp)

    def run(self, *, unsubscribe_before: dict[str, object] | None = None) -> dict[str, str]:
        """Send every queued row once; `unsubscribe_before[email]` runs just before it."""
        for delivery in self.ledger.queued_after(SLUG, 0, 10_000):
            subscriber = delivery.subscriber
            assert subscriber is not None
            if self.session is None or not self.session.is_open:
                self.session = self.connect()
            if unsubscribe_before and subscriber.email in unsubscribe_before:
                unsubscribe_before[subscriber.email]()  # type: ignore[operator]
            outgoing = message(
                subscriber.email, self.senders.get(subscriber.email, "newsletter@example.org")
            )
            claimed: list[bool] = []
            self.session.submit(
                outgoing,
                self._claimer(delivery.id, outgoing.message_id, claimed),
                self._recorder(delivery.id, subscriber.email, claimed),
            )
        if self.session is not None:
            self.session.close()
        return self.outcomes

    def _claimer(self, delivery_id: int, message_id: str, claimed: list[bool]):  # noqa: ANN202
        def claim() -> bool:
            claimed.append(self.ledger.claim(delivery_id, message_id))
            return claimed[-1]

        return claim

    def _recorder(self, delivery_id: int, email: str, claimed: list[bool]):  # noqa: ANN202
        def done(taken: bool, error: Exception | None) -> None:
            if taken:
                self.ledger.mark_sent(delivery_id)
                self.outcomes[email] = "sent"
            elif error is None:
                self.ledger.skip(delivery_id)
                self.outcomes[email] = "skipped"
            else:
                self.outcomes[email] = self._failed(delivery_id, error, claimed=any(claimed))

        return done

    def _failed(self, delivery_id: int, error: Exception, *, claimed: bool) -> str:
        verdict = classify(error)
        assert verdict is not None, error
        if verdict.kind is Kind.UNCERTAIN:
            return "uncertain"
        if verdict.kind in (Kind.TEMPORARY, Kind.SOFT_BOUNCE):
            if claimed:
                self.ledger.release(delivery_id, verdict.reason)
            return f"temporary: {verdict.reason}"
        self.ledger.mark_failed(delivery_id, verdict.reason)
        return f"{verdict.kind}: {verdict.reason}"


def ledger_rows(ledger: Ledger) -> dict[str, str]:
    """email -> delivery status, for the issue under test."""
    rows = ledger.store.query(
        "SELECT s.email, d.status FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id"
        " WHERE d.issue_slug = ? ORDER BY d.id",
        [SLUG],
    )
    return {row["email"]: row["status"] for row in rows}
