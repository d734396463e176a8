"""What an SMTP reply or a network error means for a delivery.

The send loop never looks at SMTP details: it hands any exception to
`classify()`, the one pure function that decides between retry,
fail-this-recipient, stop the send, or "the server may have taken it"
(uncertain).
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from dataclasses import dataclass
from enum import StrEnum

from newsletter.subscribers.addresses import clean_field


class ReplyLost(Exception):
    """The message was transmitted but the final reply never came: it may be delivered."""


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
