"""RFC 2920 pipelining on an open smtplib session: about one round trip per message.

smtplib waits for the reply to MAIL, RCPT, DATA and the final dot in turn:
four round trips per message. When the server offers PIPELINING, this session
writes a message's content and final dot together with the next message's
MAIL, RCPT and DATA, in one write (RFC 2920 allows message content first in a
group and DATA last); the replies then come back together, in order: the
dot's, MAIL's, RCPT's, DATA's. One write matters: Postfix answers a group in
one packet only when the group arrives whole; written apart, Nagle's algorithm
on the server and the delayed ACK on the client hold every message ~40 ms.

The exactly-once rules of the unpipelined session hold:
- a message's claim (the ledger's commit) runs after its DATA got 354 and
  before its content is written (with the next group, or by `flush`); if the claim says no, the connection is
  dropped, which makes the server discard the open transaction (RFC 5321
  4.1.1.4), and the message counts as not sent;
- only the message whose content and dot went out is ever in doubt: when its
  reply is lost it is reported as `ReplyLost` (uncertain); the message whose
  commands went out behind it was never claimed, and is reported `Unsent`;
- a refusal of MAIL, RCPT or DATA is raised as the same smtplib exception
  the unpipelined session raises, so `replies.classify` decides as before;
  an RSET is put in front of the next group.

The connection itself (connect, STARTTLS, AUTH) stays smtplib's. Results are
handed to each message's `done(taken, error)` callback: (True, None) accepted,
(False, None) abandoned because the claim said no, (False, error) refused or
lost. Network errors never escape `submit`/`flush`; the session is then
closed and `is_open` is False.
"""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Callable
from dataclasses import dataclass

from newsletter.mail.outgoing import OutgoingMessage
from newsletter.sending.replies import ReplyLost
from newsletter.sending.wire import dot_stuffed, envelope_path, final_reply

Claim = Callable[[], bool]
Done = Callable[[bool, Exception | None], None]
_LOST = (smtplib.SMTPServerDisconnected, OSError)


class Unsent(smtplib.SMTPServerDisconnected):
    """The connection broke on the message before this one, whose answer was lost:
    this message was never claimed nor sent. Not a failure of its own: the caller
    submits it again on a new connection, as the same try."""


def answer_at_once(
    send: Callable[[OutgoingMessage, Claim], bool],
    message: OutgoingMessage,
    claim: Claim,
    done: Done,
) -> None:
    """`submit` for a transport that answers each message before the next: `send`,
    its result handed to `done`."""
    try:
        taken = send(message, claim)
    except Exception as error:
        done(False, error)
        return
    done(taken, None)


def offers_pipelining(session: smtplib.SMTP) -> bool:
    """True when the server's EHLO listed PIPELINING (ask after STARTTLS's second EHLO)."""
    return bool(session.has_extn("pipelining"))


@dataclass
class _Job:
    message: OutgoingMessage
    claim: Claim
    done: Done


class PipelinedSession:
    """Sends messages over one open smtplib session, one group per message."""

    def __init__(self, session: smtplib.SMTP, final_wait: float = 600, timeout: float = 30) -> None:
        """`final_wait`: seconds to wait for the answer to a final dot; `timeout`: for
        the other answers (smtp.data_timeout and smtp.timeout)."""
        self.session: smtplib.SMTP | None = session
        self.final_wait, self.timeout = final_wait, timeout
        self._in_flight: _Job | None = None  # claimed; its reply to the dot not read yet
        self._content = b""  # the in-flight message's content, until the next write
        self._reset_first = False  # the last transaction was refused: RSET opens the next group
        self._busy = False  # inside submit(): a `done` callback may ask to close
        self._close_after = False
        # Each group is written as soon as it is ready; Nagle's algorithm would
        # hold it back until the previous content was acknowledged.
        assert session.sock is not None, "a PipelinedSession takes an open session"
        session.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @property
    def is_open(self) -> bool:
        return self.session is not None

    def submit(self, message: OutgoingMessage, claim: Claim, done: Done) -> None:
        """Write this message's MAIL, RCPT, DATA behind the previous message's content,
        settle the previous message, then claim and transmit this one (left in flight)."""
        session = self.session
        job = _Job(message, claim, done)
        if session is None:
            done(False, smtplib.SMTPServerDisconnected("not connected"))
            return
        self._busy = True
        try:
            self._transact(session, job)
        except BaseException:
            self._drop()  # a bug, or the claim's commit failed: in-flight rows stay `sending`
            raise
        finally:
            self._busy = False
        if self._close_after:
            self.close()

    def flush(self) -> None:
        """Send the message in flight and wait for its reply (before anything that waits)."""
        session = self.session
        if session is None or self._in_flight is None:
            return
        try:
            if self._content:
                content, self._content = self._content, b""
                session.send(content)
            self._settle_in_flight(session)
        except _LOST as error:
            self._lost(None, error)
        except BaseException:
            self._drop()
            raise

    def close(self) -> None:
        """Settle the message in flight, then QUIT. Asked from a `done` callback (a
        retry wants a fresh session), it happens once the group in hand is through."""
        if self._busy:
            self._close_after = True
            return
        self._close_after = False
        self.flush()
        session, self.session = self.session, None
        if session is not None:
            try:
                session.quit()
            except (smtplib.SMTPException, OSError):
                session.close()

    # --- one group ---------------------------------------------------------------------

    def _transact(self, session: smtplib.SMTP, job: _Job) -> None:
        group, self._content = self._content + self._commands(session, job.message), b""
        try:
            session.send(group)
        except _LOST as error:
            return self._lost(job, error)
        if self._in_flight is not None and not self._settle_in_flight(session):
            return job.done(False, Unsent("connection dropped after the previous message"))
        try:
            replies = self._command_replies(session)
        except _LOST as error:
            return self._lost(job, error)
        refusal = _refusal(job.message, *replies)
        if refusal is not None:
            self._reset_first = True
            if replies[-1][0] == 354:  # a server that opened DATA anyway: send nothing
                self._end_empty_data(session)
            return job.done(False, refusal)
        if not job.claim():
            self._drop()  # DATA is open: hanging up is the only way not to send
            return job.done(False, None)
        self._content = dot_stuffed(
            job.message.data, job.message.dot_free
        )  # goes out with the next group
        self._in_flight = job

    def _commands(self, session: smtplib.SMTP, message: OutgoingMessage) -> bytes:
        data = message.data
        body = " BODY=8BITMIME" if not data.isascii() and session.has_extn("8bitmime") else ""
        lines = [
            f"MAIL FROM:{envelope_path(message.sender)}{body}",
            f"RCPT TO:{envelope_path(message.recipient)}",
            "DATA",
        ]
        if self._reset_first:
            lines.insert(0, "RSET")
        return "".join(f"{line}\r\n" for line in lines).encode(session.command_encoding)

    def _command_replies(self, session: smtplib.SMTP) -> list[tuple[int, bytes]]:
        """The replies to [RSET,] MAIL, RCPT and DATA, in the order they were sent."""
        if self._reset_first:
            self._reset_first = False
            session.getreply()  # RSET's 250; a refusal there shows up in MAIL's reply
        return [session.getreply() for _command in ("MAIL", "RCPT", "DATA")]

    def _settle_in_flight(self, session: smtplib.SMTP) -> bool:
        """Read the reply to the in-flight message's dot; False if the connection is gone."""
        job, self._in_flight = self._in_flight, None
        assert job is not None
        try:
            code, text = final_reply(session, self.final_wait, self.timeout)
        except _LOST as error:
            self._drop()
            job.done(False, ReplyLost(str(error) or "connection closed"))
            return False
        if code == 250:
            job.done(True, None)
        else:
            job.done(False, smtplib.SMTPDataError(code, text))
        return True

    def _end_empty_data(self, session: smtplib.SMTP) -> None:
        try:
            session.send(b".\r\n")
            session.getreply()
        except _LOST:
            self._drop()

    def _lost(self, job: _Job | None, error: BaseException) -> None:
        """The connection broke: the message in flight is in doubt (its content may
        have gone out, whole), this one was not sent."""
        in_flight, self._in_flight, self._content = self._in_flight, None, b""
        self._drop()
        if in_flight is not None:
            in_flight.done(False, ReplyLost(str(error) or "connection closed"))
        if job is None:
            return
        if in_flight is None:
            job.done(False, _dropped(str(error)))
        else:
            job.done(False, Unsent(f"connection dropped after the previous message: {error}"))

    def _drop(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            session.close()


def _refusal(
    message: OutgoingMessage,
    mail: tuple[int, bytes],
    rcpt: tuple[int, bytes],
    data: tuple[int, bytes],
) -> Exception | None:
    """The exception the unpipelined session raises for the first refused command."""
    if mail[0] != 250:
        return smtplib.SMTPSenderRefused(mail[0], mail[1], message.sender)
    if rcpt[0] not in (250, 251):
        return smtplib.SMTPRecipientsRefused({message.recipient: rcpt})
    if data[0] != 354:
        return smtplib.SMTPDataError(data[0], data[1])
    return None


def _dropped(detail: str) -> smtplib.SMTPServerDisconnected:
    return smtplib.SMTPServerDisconnected(f"connection dropped: {detail or 'closed'}")
