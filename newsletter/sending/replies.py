"""Reply classification: what an SMTP reply means, and whom it is about.

One pure function per source of replies: `classify()` for an exception from
a transport, `reply_verdict()` for one reply to MAIL, RCPT or DATA, and
`returned_verdict()` for a recipient's status in a returned DSN. They read the
RFC 3463 enhanced status code first, then the basic code and the stage, and
only then the text. A reply is about:

- the recipient, permanently (5.1.x, a bare 550/551/553 at RCPT): a hard bounce;
- the recipient, for now (4.1.x, 4.2.x, 5.2.2 mailbox full, 5.2.1 disabled):
  retried; repeated, a soft bounce;
- the sender, the relay or the message (everything else: auth, quota,
  "not verified", relay denied, 5.7.x policy, 5.3.x system, 5.2.3 size, any
  5xx at DATA without a recipient-specific code): never a bounce.

A reply whose text names the sender or the relay ("relay not permitted",
"sender", "not verified", "submission quota", "spam") is never about the
recipient, whatever its code: marking a reader bounced cannot be undone by
the coordinator's next attempt, a refused send can.
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


class Stage(StrEnum):
    SESSION = "session"  # greeting, EHLO, STARTTLS, AUTH
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"  # the DATA command and the reply to the final dot


class Kind(StrEnum):
    HARD_BOUNCE = "hard bounce"  # the recipient, permanently: failed, counts a hard bounce
    SOFT_BOUNCE = "soft bounce"  # the recipient, for now: retried; repeated, a soft bounce
    REFUSED = "refused"  # the sender, relay or message: failed, never a bounce
    TEMPORARY = "temporary"  # the relay, for now (4xx, timeout, dropped): retried
    FATAL = "fatal"  # concerns every message: stop now, mark nobody failed
    UNCERTAIN = "uncertain"  # may have been delivered: leave it `sending`


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    reason: str  # one line, as the server said it
    status: str = ""  # "5.1.1", or the basic code ("550") when there is no enhanced one
    hint: str | None = None

    @property
    def detail(self) -> str:
        """For an event: the status code first, then the server's words."""
        if not self.status or self.status in self.reason[:16]:
            return self.reason
        return f"{self.status} {self.reason}"


_ENHANCED = re.compile(r"^\s*#?([245])\.(\d{1,3})\.(\d{1,3})\b")
_NAMES_SENDER = re.compile(
    r"relay(ing)?\s+(access\s+)?(is\s+)?(not\s+(permitted|allowed)|denied|prohibited|refused)"
    r"|unable\s+to\s+relay|not\s+(permitted|allowed)\s+to\s+relay|relay\s+access"
    r"|\bsender\b|\bfrom\s+address\b|not\s+verified|unverified|authenticat|\bauth\b"
    r"|submission|quota\s*exceeded\s*exception|sending\s+(limit|quota|rate)|daily\s+(limit|quota)"
    r"|rate\s+limit|too\s+many\s+(messages|connections|mails|emails)"
    r"|spam|\bblocked\b|block\s*list|black\s*list|dnsbl|reputation|\bpolicy\b|dmarc|\bspf\b"
    r"|dkim|virus|content\s+rejected|message\s+rejected|rejected\s+as|too\s+(big|large)"
    r"|message\s+size",
    re.IGNORECASE,
)


def enhanced_code(text: str) -> str | None:
    """The RFC 3463 code at the start of a reply text ("5.1.1"), if the server gave one."""
    match = _ENHANCED.match(text)
    return ".".join(match.groups()) if match else None


def names_sender(text: str) -> bool:
    """True when the text says the refusal is about the sender, the relay or the message."""
    return _NAMES_SENDER.search(text) is not None


def reply_verdict(code: int, text: str, stage: Stage = Stage.RCPT) -> Verdict:
    """Classify one reply to MAIL, RCPT or DATA for a single-recipient transaction."""
    enhanced = enhanced_code(text)
    reason = clean_field(f"{code} {text}")[:300]
    status = enhanced or str(code)
    # RFC 5321 4.5.3.1.10: a bare 552 to RCPT is "too many recipients", really a 452.
    permanent = code >= 500 and not (code == 552 and stage is Stage.RCPT and not enhanced)
    about = _about(code, enhanced, text, stage)
    if about == "recipient":
        kind = Kind.HARD_BOUNCE if permanent else Kind.SOFT_BOUNCE
    elif about == "mailbox":
        kind = Kind.SOFT_BOUNCE
    else:
        kind = Kind.REFUSED if permanent else Kind.TEMPORARY
    return Verdict(kind, reason, status)


def _about(code: int, enhanced: str | None, text: str, stage: Stage) -> str:
    """ "recipient", "mailbox" (full or disabled: for now) or "other"."""
    if stage not in (Stage.RCPT, Stage.DATA) or names_sender(text):
        return "other"
    if enhanced and not enhanced.endswith(".0.0"):
        _, subject, detail = enhanced.split(".")
        if subject == "1":
            return "other" if detail in ("7", "8") else "recipient"
        if subject == "2" and detail in ("1", "2"):
            return "mailbox"
        if subject == "2" and detail in ("0", "4") and stage is Stage.RCPT:
            return "mailbox"
        return "other"
    if stage is Stage.RCPT and code in (550, 551, 553):
        return "recipient"
    if stage is Stage.RCPT and code == 450:
        return "mailbox"
    return "other"


def returned_verdict(status: str, diagnostic: str) -> Verdict:
    """A recipient's fate in a returned DSN: the status field, then the remote's reply.

    As at RCPT, except that in a DSN X.4.4 (no such domain) is about the
    recipient's address and other X.4.x (unreachable, expired) about their
    server, for now.
    """
    reply = _REMOTE_REPLY.match(diagnostic)
    code = int(reply.group(1)) if reply else 0
    text = reply.group(2) if reply else diagnostic
    given = status.strip() if _ENHANCED.match(status) else None
    specific = enhanced_code(text)
    enhanced = specific if specific and (not given or given.endswith(".0.0")) else given
    permanent = (enhanced or str(code)).startswith("5")
    reason = clean_field(diagnostic or status)[:300]
    if enhanced and enhanced.split(".")[1] == "4" and not names_sender(text):
        kind = Kind.HARD_BOUNCE if enhanced.endswith(".4.4") and permanent else Kind.SOFT_BOUNCE
        return Verdict(kind, reason, enhanced)
    verdict = reply_verdict(code or (550 if permanent else 450), f"{enhanced or ''} {text}")
    return Verdict(verdict.kind, reason, enhanced or verdict.status)


_REMOTE_REPLY = re.compile(r"^\s*([245]\d\d)[\s-]+(.*)$", re.DOTALL)


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
        reason = f"sender {error.sender} refused: {_text(error.smtp_code, error.smtp_error)}"
        if error.smtp_code >= 500:
            return Verdict(
                Kind.FATAL, reason, hint="the relay must accept the envelope sender and its account"
            )
        return Verdict(Kind.TEMPORARY, reason)
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(error.recipients.values()))
        return reply_verdict(code, _decode(text), Stage.RCPT)
    if isinstance(error, smtplib.SMTPDataError):
        return reply_verdict(error.smtp_code, _decode(error.smtp_error), Stage.DATA)
    if isinstance(error, smtplib.SMTPConnectError | smtplib.SMTPHeloError):
        kind = Kind.FATAL if error.smtp_code >= 500 else Kind.TEMPORARY
        return Verdict(
            kind, f"server refused the session: {_text(error.smtp_code, error.smtp_error)}"
        )
    if isinstance(error, smtplib.SMTPResponseException):
        return reply_verdict(error.smtp_code, _decode(error.smtp_error), Stage.SESSION)
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


def session_survives(error: Exception) -> bool:
    """A refusal read from the session (RSET sent): the session goes on, except after
    a 421, the server's word that it is closing."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code != 421 for code, _reply in error.recipients.values())
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code != 421
