"""What a returned message reports, read with the standard `email` package.

- a delivery status notification (RFC 3464): one `RecipientReport` per
  recipient block of its message/delivery-status part;
- the non-standard bounces many MTAs still send (qmail, old Exim, Exchange
  text): the failed addresses `flufl.bounce` finds, with the status code the
  text quotes;
- a feedback report (ARF, RFC 5965): its Feedback-Type and envelope fields;
- the original message a report quotes: the identifiers `newsletter` put in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser, HeaderParser
from email.utils import getaddresses

from newsletter.subscribers.addresses import clean_field

_STATUS = re.compile(r"(?<![\d.])#?([245]\.\d{1,3}\.\d{1,3})(?![\d.])")
_REPLY_LINE = re.compile(r"\b[45]\d\d[ -][^\r\n]*")
_TOKEN_IN_URL = re.compile(r"/u/([A-Za-z0-9_-]{24})(?![A-Za-z0-9_-])")
_MESSAGE_ID = re.compile(r"<[^<>\s@]+@[^<>\s]+>")


@dataclass(frozen=True)
class RecipientReport:
    recipient: str  # the address that failed, as the report names it
    action: str  # failed | delayed | delivered | relayed | expanded
    status: str  # "5.1.1"
    diagnostic: str  # the remote server's reply, one line


@dataclass(frozen=True)
class Original:
    """Identifiers of the message a report is about, where the report quotes them."""

    message_ids: tuple[str, ...] = ()
    tokens: tuple[str, ...] = ()
    envelope_senders: tuple[str, ...] = ()


def delivery_reports(message: Message) -> list[RecipientReport] | None:
    """The recipient blocks of an RFC 3464 DSN; None when the message is not one."""
    for part in message.walk():
        if part.get_content_type() in ("message/delivery-status", "message/global-delivery-status"):
            return [_recipient_report(block) for block in _blocks(part)[1:]]
    return None


def _blocks(part: Message) -> list[Message]:
    """The per-message block, then one per recipient (parsed by `email`, or by hand)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    raw = _decoded(part)
    text = raw.decode("utf-8", "replace").replace("\r\n", "\n")
    return [HeaderParser().parsestr(block) for block in re.split(r"\n\s*\n", text) if block.strip()]


def _recipient_report(block: Message) -> RecipientReport:
    recipient = _address_field(block.get("Final-Recipient") or block.get("Original-Recipient"))
    status = _one_line(block.get("Status", ""))
    match = _STATUS.search(status)
    diagnostic = _one_line(block.get("Diagnostic-Code", "")).partition(";")
    return RecipientReport(
        recipient=recipient,
        action=_one_line(block.get("Action", "")).lower(),
        status=match.group(1) if match else "",
        diagnostic=(diagnostic[2] or diagnostic[0]).strip(),
    )


def _address_field(value: object) -> str:
    """ "rfc822; someone@example.org" -> "someone@example.org"."""
    text = _one_line(value or "")
    return text.partition(";")[2].strip().strip("<>") if ";" in text else text.strip("<>")


def _one_line(value: object) -> str:
    return clean_field(" ".join(str(value).split()))


def nonstandard_reports(message: Message) -> list[RecipientReport]:
    """A bounce in no standard format, read by flufl.bounce's detectors.

    They give the failed addresses (temporary or permanent); the status code
    and the reply line, when the text quotes them, come from the text itself.
    """
    from flufl.bounce import all_failures  # a few ms to import: only when needed

    temporary, permanent = all_failures(message)
    text = body_text(message)
    reports = []
    for failures, action in ((permanent, "failed"), (temporary, "delayed")):
        for address in sorted(failures):
            recipient = (
                address.decode("utf-8", "replace") if isinstance(address, bytes) else address
            )
            reports.append(_quoted_report(recipient, action, text))
    return reports


def _quoted_report(recipient: str, action: str, text: str) -> RecipientReport:
    """The status code and reply line nearest after the address in the bounce text."""
    at = text.lower().find(recipient.lower())
    near = text[at:] if at >= 0 else text
    status = _STATUS.search(near)
    reply = _REPLY_LINE.search(near)
    default = "5.0.0" if action == "failed" else "4.0.0"
    return RecipientReport(
        recipient=recipient,
        action=action,
        status=status.group(1) if status else default,
        diagnostic=_one_line(reply.group(0) if reply else _line_after(near)),
    )


def _line_after(text: str) -> str:
    """The first line of prose after the address: what qmail-style bounces say."""
    lines = [line.strip() for line in text.splitlines()[1:] if line.strip()]
    return lines[0][:300] if lines else ""


def body_text(message: Message, limit: int = 200_000) -> str:
    """The text parts of a message, decoded, for the heuristics that read prose."""
    chunks = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            raw = _decoded(part)
            charset = part.get_content_charset() or "utf-8"
            try:
                chunks.append(raw.decode(charset, "replace"))
            except LookupError:
                chunks.append(raw.decode("utf-8", "replace"))
    return "\n".join(chunks)[:limit]


def feedback_fields(message: Message) -> Message | None:
    """The fields of an ARF report's message/feedback-report part; None if not ARF."""
    for part in message.walk():
        if part.get_content_type() == "message/feedback-report":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
            raw = _decoded(part)
            return BytesHeaderParser().parsebytes(raw.lstrip())
    return None


def original_message(message: Message) -> Original:
    """What the report quotes of the message it is about: our Message-ID, the
    unsubscribe token in its List-Unsubscribe, its envelope sender."""
    headers = _quoted_headers(message)
    ids = [value for h in headers for value in _MESSAGE_ID.findall(h.get("Message-ID", ""))]
    tokens = [
        token for h in headers for token in _TOKEN_IN_URL.findall(h.get("List-Unsubscribe", ""))
    ]
    senders = [
        address for h in headers for _, address in getaddresses(h.get_all("Return-Path", []))
    ]
    if not ids:  # a bounce in prose that pasted the original below its text
        ids = _MESSAGE_ID.findall(_after_header_line(body_text(message), "message-id"))
    return Original(tuple(dict.fromkeys(ids)), tuple(dict.fromkeys(tokens)), tuple(senders))


def _quoted_headers(message: Message) -> list[Message]:
    found = []
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                found.append(payload[0])
        elif kind in ("text/rfc822-headers", "text/global-headers"):
            found.append(BytesHeaderParser().parsebytes(_decoded(part).lstrip()))
    return found


def _decoded(part: Message) -> bytes:
    """A leaf part's body, transfer-decoded; b"" when it has none."""
    raw = part.get_payload(decode=True)
    return raw if isinstance(raw, bytes) else b""


def _after_header_line(text: str, name: str) -> str:
    lines = [line for line in text.splitlines() if line.lower().lstrip().startswith(name + ":")]
    return "\n".join(lines)
