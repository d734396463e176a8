"""SMTP wire details shared by the plain and the pipelined session."""

from __future__ import annotations

import re
import smtplib

_LEADING_DOT = re.compile(rb"(?m)^\.")
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")


def envelope_path(address: str) -> str:
    """<address> for MAIL/RCPT. Our addresses are validated ASCII already, so
    smtplib's general parser (a measurable cost per message) is only the fallback."""
    if _PLAIN_ADDRESS.fullmatch(address):
        return f"<{address}>"
    return smtplib.quoteaddr(address)


def dot_stuffed(data: bytes, dot_free: bool = False) -> bytes:
    """The DATA payload: leading dots doubled, CRLF and the final dot appended.

    `dot_free`: the message's builder knows no line starts with "." (looking
    through a whole message for one costs more than building it did).
    """
    if not dot_free and (data.startswith(b".") or b"\n." in data):
        data = _LEADING_DOT.sub(b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def final_reply(session: smtplib.SMTP, wait: float, then: float) -> tuple[int, bytes]:
    """The reply to the final dot, waited for `wait` seconds (RFC 5321 4.5.3.2.6
    suggests 10 minutes): a server may scan the whole message before it answers,
    and a message given up on too early is one whose fate is unknown. The
    socket's timeout is `then` afterwards."""
    if session.sock is not None:
        session.sock.settimeout(wait)
    try:
        return session.getreply()
    finally:
        if session.sock is not None:
            session.sock.settimeout(then)
