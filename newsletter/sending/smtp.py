"""The SMTP transport: one session reused for many messages."""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
import ssl
from typing import TYPE_CHECKING

from newsletter.config import SmtpConfig
from newsletter.mail.outgoing import OutgoingMessage
from newsletter.sending.replies import ReplyLost

if TYPE_CHECKING:
    from newsletter.sending.transport import Claim


_LEADING_DOT = re.compile(rb"(?m)^\.")
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")


class SmtpTransport:
    """One SMTP session reused for many messages, renewed every `messages_per_connection`."""

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
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.local_hostname = local_hostname or socket.getfqdn()
        self.description = self.describe(smtp)
        self._session: smtplib.SMTP | None = None
        self._sent = 0

    @staticmethod
    def describe(smtp: SmtpConfig) -> str:
        return f"SMTP {smtp.host}:{smtp.port} ({smtp.security})"

    @property
    def is_open(self) -> bool:
        """False when the session is gone or has carried its share of messages."""
        limit = self.smtp.messages_per_connection
        return self._session is not None and not (limit and self._sent >= limit)

    def open(self) -> None:
        """Connect, TLS, AUTH; renews a session that reached messages_per_connection."""
        if self.is_open:
            return
        self.close()
        options = {"local_hostname": self.local_hostname, "timeout": self.smtp.timeout}
        if self.smtp.security == "ssl":
            session = smtplib.SMTP_SSL(
                self.smtp.host, self.smtp.port, context=self.ssl_context, **options
            )
        else:
            session = smtplib.SMTP(self.smtp.host, self.smtp.port, **options)
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

    def send(self, message: OutgoingMessage, claim: Claim = lambda: True) -> bool:
        """MAIL, RCPT, DATA on the open session; RSET after a refusal.

        Done step by step (not `sendmail`) for two reasons: `claim` (the
        ledger's commit) runs while the server is answering MAIL, so it costs
        no extra round trip; and a refusal, after which the message surely was
        not taken, is told apart from a reply lost after the final dot, after
        which it may have been (`ReplyLost`).
        """
        session = self._session
        if session is None:
            raise smtplib.SMTPServerDisconnected("not connected")
        try:
            taken = self._transmit(session, message, claim)
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
        session.putcmd("MAIL", f"FROM:{_path(message.sender)}{body}")
        claimed = claim()  # overlaps the server's answer
        code, text = session.getreply()
        if not claimed:
            _rset(session)
            return False
        if code != 250:
            _rset(session)
            raise smtplib.SMTPSenderRefused(code, text, message.sender)
        code, text = session.docmd("RCPT", f"TO:{_path(message.recipient)}")
        if code not in (250, 251):
            _rset(session)
            raise smtplib.SMTPRecipientsRefused({message.recipient: (code, text)})
        code, text = session.docmd("DATA")
        if code != 354:
            _rset(session)
            raise smtplib.SMTPDataError(code, text)
        session.send(_dot_stuffed(data))
        try:
            code, text = self._final_reply(session)
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            raise ReplyLost(str(error) or "connection closed") from error
        if code != 250:
            raise smtplib.SMTPDataError(code, text)
        return True

    def _final_reply(self, session: smtplib.SMTP) -> tuple[int, bytes]:
        """The reply to the final dot, waited for `data_timeout` (RFC 5321 4.5.3.2.6
        suggests 10 minutes): a server may scan the whole message before it answers,
        and a message given up on too early is one whose fate is unknown."""
        if session.sock is not None:
            session.sock.settimeout(self.smtp.data_timeout)
        try:
            return session.getreply()
        finally:
            if session.sock is not None:
                session.sock.settimeout(self.smtp.timeout)

    def close(self) -> None:
        """QUIT politely; a session that is already gone is simply dropped."""
        session, self._session = self._session, None
        if session is not None:
            try:
                session.quit()
            except (smtplib.SMTPException, OSError):
                session.close()

    def _discard(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.close()


def _path(address: str) -> str:
    """<address> for MAIL/RCPT. Our addresses are validated ASCII already, so
    smtplib's general parser (a measurable cost per message) is only the fallback."""
    if _PLAIN_ADDRESS.fullmatch(address):
        return f"<{address}>"
    return smtplib.quoteaddr(address)


def _dot_stuffed(data: bytes) -> bytes:
    """The DATA payload: leading dots doubled, CRLF and the final dot appended."""
    if data.startswith(b".") or b"\n." in data:
        data = _LEADING_DOT.sub(b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def _rset(session: smtplib.SMTP) -> None:
    with contextlib.suppress(smtplib.SMTPException, OSError):
        session.rset()
