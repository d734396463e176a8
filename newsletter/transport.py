"""Where messages go: an SMTP session, or the outbox Maildir, behind one interface.

A transport is `open()` (idempotent), `send(message)` and `close()`. The send
loop never looks at SMTP details: it hands any exception to `classify()`, the
one pure function that decides between retry, fail-this-recipient, stop the
send, or "the server may have taken it" (uncertain).
"""

from __future__ import annotations

import contextlib
import mailbox
import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from newsletter.addresses import clean_field
from newsletter.config import Config, SmtpConfig
from newsletter.errors import InputError
from newsletter.models import OutgoingMessage

Claim = Callable[[], bool]


class Transport(Protocol):
    """open() is idempotent; send() calls `claim` once, before the message body
    goes out, and abandons the message (returns False) if it says no."""

    description: str

    @property
    def is_open(self) -> bool: ...

    def open(self) -> None: ...

    def send(self, message: OutgoingMessage, claim: Claim = lambda: True) -> bool: ...

    def close(self) -> None: ...


TransportFactory = Callable[[], Transport]


class ReplyLost(Exception):
    """The message was transmitted but the final reply never came: it may be delivered."""


# --- reply classification ----------------------------------------------------------


class Kind(StrEnum):
    TEMPORARY = "temporary"  # retry with backoff and a new connection
    RECIPIENT = "recipient"  # this delivery failed; the others go on
    POLICY = "policy"  # 5.7.x: failed; several in a row stop the send
    FATAL = "fatal"  # concerns every message: stop now, mark nobody failed
    UNCERTAIN = "uncertain"  # may have been delivered: leave it `sending`


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    reason: str
    bounce: bool = False  # counts as a hard bounce on the subscriber
    hint: str | None = None


_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")


def enhanced_code(text: str) -> str | None:
    """The RFC 3463 code at the start of a reply text ("5.1.1"), if the server gave one."""
    match = _ENHANCED.match(text)
    return ".".join(match.groups()) if match else None


def reply_verdict(code: int, text: str) -> Verdict:
    """Classify one SMTP reply to MAIL, RCPT or DATA for a single recipient.

    4xx is temporary (454 throttling, 451, 452 included); so is 552 "too many
    recipients", except 5.3.4 "message too big", which every message would
    hit. A 5.7.x is a policy refusal (reputation, authentication): it fails the
    delivery but is not the address's fault. Other 5xx fail the delivery, and
    count as a hard bounce when they say the address is bad (5.1.x, 5.2.x, or
    a bare 550/551/553).
    """
    enhanced = enhanced_code(text)
    reason = clean_field(f"{code} {text}")[:300]
    if code == 552 and enhanced == "5.3.4":
        return Verdict(Kind.FATAL, reason, hint="the message is too big for the server")
    if code == 552 and enhanced != "5.2.2":
        return Verdict(Kind.TEMPORARY, reason)
    if code < 500:
        return Verdict(Kind.TEMPORARY, reason)
    if enhanced and enhanced.startswith("5.7."):
        return Verdict(Kind.POLICY, reason)
    bounce = enhanced.split(".")[1] in ("1", "2") if enhanced else code in (550, 551, 553)
    return Verdict(Kind.RECIPIENT, reason, bounce=bounce)


def classify(error: BaseException) -> Verdict | None:
    """What an exception from `open()` or `send()` means; None if it is not ours (a bug)."""
    if isinstance(error, ReplyLost):
        return Verdict(Kind.UNCERTAIN, f"reply lost after the message was sent: {error}")
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return Verdict(
            Kind.FATAL,
            f"login refused: {_text(error.smtp_code, error.smtp_error)}",
            hint="check smtp.username and the password in the variable smtp.password_env names",
        )
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return Verdict(Kind.FATAL, f"the server cannot do what the config asks: {error}")
    if isinstance(error, smtplib.SMTPSenderRefused):
        if error.smtp_code >= 500:
            return Verdict(
                Kind.FATAL,
                f"sender {error.sender} refused: {_text(error.smtp_code, error.smtp_error)}",
                hint="the relay must allow the address in newsletter.from",
            )
        return Verdict(Kind.TEMPORARY, _text(error.smtp_code, error.smtp_error))
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(error.recipients.values()))
        return reply_verdict(code, _decode(text))
    if isinstance(error, smtplib.SMTPDataError):
        return reply_verdict(error.smtp_code, _decode(error.smtp_error))
    if isinstance(error, smtplib.SMTPConnectError | smtplib.SMTPHeloError):
        kind = Kind.FATAL if error.smtp_code >= 500 else Kind.TEMPORARY
        return Verdict(
            kind, f"server refused the session: {_text(error.smtp_code, error.smtp_error)}"
        )
    if isinstance(error, smtplib.SMTPResponseException):
        return reply_verdict(error.smtp_code, _decode(error.smtp_error))
    if isinstance(error, smtplib.SMTPServerDisconnected):
        if "timed out" in str(error):
            return _timed_out()
        return Verdict(Kind.TEMPORARY, f"connection dropped: {error}")
    return _network_verdict(error)


def _timed_out() -> Verdict:
    return Verdict(
        Kind.TEMPORARY,
        "the server stopped answering (timed out)",
        hint="check smtp.host and smtp.port and that the server is up; a slow server"
        " needs a longer smtp.timeout (seconds)",
    )


def _network_verdict(error: BaseException) -> Verdict | None:
    if isinstance(error, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return Verdict(Kind.TEMPORARY, f"connection dropped: {error}")
    if isinstance(error, ssl.SSLCertVerificationError):
        return Verdict(
            Kind.FATAL,
            f"TLS certificate not trusted: {error.verify_message}",
            hint="check smtp.host: it must match the server's certificate",
        )
    if isinstance(error, ssl.SSLError):
        return Verdict(
            Kind.FATAL,
            f"TLS handshake failed: {error.reason or error}",
            hint='smtp.security: port 465 wants "ssl", port 587 wants "starttls"',
        )
    if isinstance(error, ConnectionRefusedError):
        return Verdict(Kind.FATAL, "connection refused", hint="check smtp.host and smtp.port")
    if isinstance(error, socket.gaierror):
        return Verdict(Kind.FATAL, f"cannot resolve the host: {error}", hint="check smtp.host")
    if isinstance(error, TimeoutError):
        return _timed_out()
    if isinstance(error, OSError):
        return Verdict(Kind.TEMPORARY, f"network error: {error.strerror or error}")
    return None


def _decode(text: bytes | str) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _text(code: int, text: bytes | str) -> str:
    return clean_field(f"{code} {_decode(text)}")[:300]


# --- SMTP --------------------------------------------------------------------------

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
            code, text = session.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            raise ReplyLost(str(error) or "connection closed") from error
        if code != 250:
            raise smtplib.SMTPDataError(code, text)
        return True

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


# --- the outbox --------------------------------------------------------------------


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


# --- choosing one from the config ------------------------------------------------------


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
    context = ssl_context or ssl.create_default_context()
    hostname = socket.getfqdn()

    def factory() -> Transport:
        return SmtpTransport(smtp, password=password, ssl_context=context, local_hostname=hostname)

    return TransportPlan(
        factory,
        SmtpTransport.describe(smtp),
        connections if connections is not None else smtp.connections,
        rate if rate is not None else smtp.rate,
    )
