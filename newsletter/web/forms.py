"""The POST body of the unsubscribe handler: RFC 8058 one-click, the button, resubscribe.

Bodies are small and read whole, up to MAX_BODY_BYTES. Both encodings a
one-click request comes in are accepted: urlencoded (Gmail, browsers) and
multipart/form-data (other mailbox providers), parsed with the standard library;
a multipart body that is cut short or malformed is refused (400), never read as
an empty form.
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

MAX_BODY_BYTES = 8 * 1024
Environ = dict[str, Any]


class HttpError(Exception):
    """Stops a request with an error page; raised by routing and body parsing."""

    def __init__(self, code: int, headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(code)
        self.code = code
        self.headers = headers


class Intent(NamedTuple):
    action: str  # unsubscribe | resubscribe | language
    via: str  # one-click | web
    language: str = ""  # the language chosen (action "language"; '' = both)


def read_intent(environ: Environ) -> Intent:
    """What a POST asks: RFC 8058 one-click, the page's buttons, or a language choice."""
    fields = read_form(environ)
    if fields.get("List-Unsubscribe", "").strip().casefold() == "one-click":
        return Intent("unsubscribe", "one-click")
    action = fields.get("action", "unsubscribe").strip()
    if action not in ("unsubscribe", "resubscribe", "language"):
        raise HttpError(400)
    return Intent(action, "web", fields.get("language", "").strip())


def read_form(environ: Environ) -> dict[str, str]:
    """Form fields from an urlencoded or multipart body; an empty body is no fields."""
    body = read_body(environ)
    if not body.strip():
        return {}
    content_type = str(environ.get("CONTENT_TYPE", ""))
    kind = content_type.partition(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        return _urlencoded(body)
    if kind == "multipart/form-data":
        return _multipart(body, content_type)
    raise HttpError(400)


def read_body(environ: Environ) -> bytes:
    """At most MAX_BODY_BYTES; a longer declared body is refused without reading it."""
    declared = str(environ.get("CONTENT_LENGTH") or "0").strip()
    if not declared.isascii() or not declared.isdigit():
        raise HttpError(400)
    if len(declared) > 9 or int(declared) > MAX_BODY_BYTES:
        raise HttpError(413)
    length = int(declared)
    return environ["wsgi.input"].read(length) if length else b""


def _urlencoded(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, errors="strict", max_num_fields=20
        )
    except ValueError:  # bad UTF-8 (UnicodeDecodeError is a ValueError) or too many fields
        raise HttpError(400) from None
    return dict(pairs)


def _multipart(body: bytes, content_type: str) -> dict[str, str]:
    """Fields of a multipart/form-data body, parsed by the email package (files ignored)."""
    message = _parse_multipart(body, content_type)
    boundary = message.get_boundary()
    if not message.is_multipart() and boundary and boundary.startswith("--"):
        # RFC 8058 section 8.3 prints its delimiter lines as the bare boundary
        # (erratum: the parameter should lack two dashes); senders copied it.
        message = _parse_multipart(body, f'multipart/form-data; boundary="{boundary[2:]}"')
    if not message.is_multipart() or _defective(message):
        raise HttpError(400)
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        value = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(value, bytes) and part.get_filename() is None:
            try:
                fields[name] = value.decode("utf-8")
            except UnicodeDecodeError:
                raise HttpError(400) from None
    return fields


def _defective(message: EmailMessage) -> bool:
    """A body cut short (no closing delimiter, a part without its blank line) is
    unreadable, not empty: what was cut off might have said `action=resubscribe`,
    and the mailbox providers of RFC 8058 send whole, well-formed bodies."""
    return bool(message.defects) or any(part.defects for part in message.iter_parts())


def _parse_multipart(body: bytes, content_type: str) -> EmailMessage:
    if "\r" in content_type or "\n" in content_type or not content_type.isascii():
        raise HttpError(400)
    head = f"Content-Type: {content_type}\r\n\r\n".encode("ascii")
    return BytesParser(EmailMessage, policy=policy.HTTP).parsebytes(head + body)
