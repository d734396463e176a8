"""The SMTP transport: one session reused for many messages.

On a session without pipelining the reply to a message's final dot is read
when the next message is submitted (or at `flush`), not at once: the send
loop builds the next message while the server digests this one. Nothing else
moves: the next claim is still committed after that reply was read and
recorded, and only the message whose content went out unanswered is in doubt
(if its reply is lost, the message submitted behind it, never claimed, is
`Unsent`).
"""

from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
from typing import TYPE_CHECKING

from newsletter.config import SmtpConfig
from newsletter.mail.outgoing import OutgoingMessage
from newsletter.sending.pipelining import (
    Done,
    PipelinedSession,
    Unsent,
    offers_pipelining,
)
from newsletter.sending.replies import ReplyLost
from newsletter.sending.wire import dot_stuffed, envelope_path, final_reply

if TYPE_CHECKING:
    from newsletter.sending.transport import Claim


class SmtpTransport:
    """One SMTP session reused for many messages, renewed every `messages_per_connection`;
    pipelined (RFC 2920, pipelining.py) when the server offers it and smtp.pipelining
    is not turned off."""

    def __init__(
        self,
        smtp: SmtpConfig,
        *,
        password: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        self.smtp = smtp
        self.password = password
        self._ssl_context = ssl_context
        self.local_hostname = local_hostname or socket.getfqdn()
        self.description = self.describe(smtp)
        self._session: smtplib.SMTP | None = None
        self._pipeline: PipelinedSession | None = None
        self._sent = 0
        self._awaiting: Done | None = None  # its content went out; the dot's reply not read

    @staticmethod
    def describe(smtp: SmtpConfig) -> str:
        return f"SMTP {smtp.host}:{smtp.port} ({smtp.security})"

    @property
    def is_open(self) -> bool:
        """False when the session is gone or has carried its share of messages."""
        limit = self.smtp.messages_per_connection
        if self._pipeline is not None and not self._pipeline.is_open:
            return False
        return self._session is not None and not (limit and self._sent >= limit)

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """Made on first use: loading the system's CA certificates takes a noticeable
        moment that a loopback relay (security "none") never needs."""
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def open(self) -> None:
        """Connect, TLS, AUTH; renews a session that reached messages_per_connection."""
        if self.is_open:
            return
        self.close()
        hostname, timeout = self.local_hostname, self.smtp.timeout
        if self.smtp.security == "ssl":
            session: smtplib.SMTP = smtplib.SMTP_SSL(
                self.smtp.host, self.smtp.port, hostname, timeout=timeout, context=self.ssl_context
            )
        else:
            session = smtplib.SMTP(self.smtp.host, self.smtp.port, hostname, timeout=timeout)
        try:
            session.ehlo()
            if self.smtp.security == "starttls":
                session.starttls(context=self.ssl_context)
                session.ehlo()
            if self.smtp.username:
                session.login(self.smtp.username, self.password or "")
        except BaseException:
            session.close()
            raise
        self._session, self._sent = session, 0
        if self.smtp.pipelining and offers_pipelining(session):
            self._pipeline = PipelinedSession(session, self.smtp.data_timeout, self.smtp.timeout)

    def submit(self, message: OutgoingMessage, claim: Claim, done: Done) -> None:
        """Send `message`; its result goes to `done(taken, error)` while the next
        message is submitted, or at `flush` (see the module docstring)."""
        if self._pipeline is not None:
            self._sent += 1  # counted while in flight: a session carries no more than its share

            def counted(taken: bool, error: Exception | None) -> None:
                self._sent -= not taken  # one not taken did not use the share
                done(taken, error)

            self._pipeline.submit(message, claim, counted)
            return
        session = self._session
        if session is not None and self._awaiting is not None:
            self._settle()
            if self._session is None:  # lost with the reply, or closed by its `done`
                done(False, Unsent("the session ended after the previous message"))
                return
        if session is None:
            done(False, smtplib.SMTPServerDisconnected("not connected"))
            return
        try:
            taken = self._transmit(session, message, claim)
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as error:
            done(False, error)  # a refusal: the session is still good (RSET already sent)
            return
        except BaseException as error:
            self._discard()  # dropped, timed out, broken, or interrupted mid-command
            if not isinstance(error, Exception):
                raise
            done(False, error)
            return
        if not taken:
            done(False, None)
            return
        self._sent += 1
        self._awaiting = done

    def flush(self) -> None:
        """Wait for the answer to the message in flight."""
        if self._pipeline is not None:
            self._pipeline.flush()
        elif self._awaiting is not None:
            self._settle()

    def _settle(self) -> None:
        """Read the reply to the final dot of the message in flight, and hand it on."""
        done, self._awaiting = self._awaiting, None
        assert done is not None and self._session is not None
        try:
            self._final_reply(self._session)
        except smtplib.SMTPDataError as error:  # refused after the dot: the session is good
            done(False, error)
            return
        except ReplyLost as error:
            self._discard()
            done(False, error)
            return
        except BaseException:
            self._discard()  # interrupted: that message stays in doubt
            raise
        done(True, None)

    def send(self, message: OutgoingMessage, claim: Claim = lambda: True) -> bool:
        """MAIL, RCPT, DATA on the open session; RSET after a refusal.

        Done step by step (not `sendmail`) for two reasons: `claim` (the
        ledger's commit) runs while the server is answering MAIL, so it costs
        no extra round trip; and a refusal, after which the message surely was
        not taken, is told apart from a reply lost after the final dot, after
        which it may have been (`ReplyLost`).
        """
        self.flush()
        session = self._session
        if session is None:
            raise smtplib.SMTPServerDisconnected("not connected")
        try:
            taken = self._transmit(session, message, claim)
            if taken:
                self._final_reply(session)
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused):
            raise  # a refusal: the session is still good (RSET already sent)
        except BaseException:
            self._discard()  # dropped, timed out, broken, or interrupted mid-command
            raise
        self._sent += taken  # renewed by the next open(), after the caller's bookkeeping
        return taken

    def _transmit(self, session: smtplib.SMTP, message: OutgoingMessage, claim: Claim) -> bool:
        data = message.data
        body = " BODY=8BITMIME" if not data.isascii() and session.has_extn("8bitmime") else ""
        session.putcmd("MAIL", f"FROM:{envelope_path(message.sender)}{body}")
        claimed = claim()  # overlaps the server's answer
        code, text = session.getreply()
        if not claimed:
            _rset(session)
            return False
        if code != 250:
            _rset(session)
            raise smtplib.SMTPSenderRefused(code, text, message.sender)
        code, text = session.docmd("RCPT", f"TO:{envelope_path(message.recipient)}")
        if code not in (250, 251):
            _rset(session)
            raise smtplib.SMTPRecipientsRefused({message.recipient: (code, text)})
        code, text = session.docmd("DATA")
        if code != 354:
            _rset(session)
            raise smtplib.SMTPDataError(code, text)
        session.send(dot_stuffed(data, message.dot_free))
        return True

    def _final_reply(self, session: smtplib.SMTP) -> None:
        try:
            code, text = final_reply(session, self.smtp.data_timeout, self.smtp.timeout)
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            raise ReplyLost(str(error) or "connection closed") from error
        if code != 250:
            raise smtplib.SMTPDataError(code, text)

    def close(self) -> None:
        """QUIT politely (after the answer to a message in flight); a session that
        is already gone is simply dropped."""
        pipeline = self._pipeline
        if pipeline is not None:
            pipeline.close()
            if pipeline.is_open:
                return  # asked while answering: it closes after the group in hand
            self._pipeline = self._session = None
            return
        self.flush()
        session, self._session = self._session, None
        if session is not None:
            try:
                session.quit()
            except (smtplib.SMTPException, OSError):
                session.close()

    def _discard(self) -> None:
        session, self._session, self._pipeline = self._session, None, None
        self._awaiting = None
        if session is not None:
            session.close()


def _rset(session: smtplib.SMTP) -> None:
    with contextlib.suppress(smtplib.SMTPException, OSError):
        session.rset()
