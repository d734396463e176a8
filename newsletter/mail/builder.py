"""The message: a skeleton built once per issue, bytes assembled per recipient.

`MessageFactory` does the email-package work (headers that are the same for
everyone, MIME structure, the quoted-printable encoding of every body line that
holds no personal field) once, then per recipient joins precomputed bytes with
the few personal pieces: the To header, Date, Message-ID, List-Unsubscribe and
the body lines with a personal field. A bilingual issue has one skeleton per
edition (each language, and both together), all built here once; per
recipient the reader's language only picks one. `build_reference_message` builds the same
message the slow, obvious way with `EmailMessage`; the tests hold the two equal.

Two traps of Python's email package are avoided on both paths: List-* headers
are folded only between URIs (never turned into RFC 2047 encoded-words), and
bodies are quoted-printable (never 8bit, which smtplib would send without
asking for 8BITMIME).
"""

from __future__ import annotations

import binascii
import itertools
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from newsletter.config import Config
from newsletter.errors import ConfigError, InputError, TemplateError
from newsletter.issue.editions import Edition, PreparedIssue
from newsletter.issue.personal_fields import Skeleton, field_values, html_values
from newsletter.mail.headers import (
    CRLF,
    ONE_CLICK,
    from_header,
    list_archive_header,
    list_id_header,
    list_unsubscribe_header,
    mailto_uri,
    recipient_address,
    subject_header,
    to_header,
)
from newsletter.mail.outgoing import OutgoingMessage
from newsletter.mail.signing import project_signer
from newsletter.subscribers.addresses import ascii_address
from newsletter.subscribers.model import Subscriber

_URL_SAFE = re.compile(r"[A-Za-z0-9_-]{1,200}")  # a token (or a deliberately dead one)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # what bytes.splitlines() splits on, as EmailMessage does


_SECOND = timedelta(seconds=1)
_NEVER = datetime.min.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


class MessageFactory:
    """Builds each recipient's finished bytes from a once-per-issue skeleton."""

    def __init__(
        self,
        config: Config,
        prepared: PreparedIssue,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self.prepared = prepared
        self.clock = clock or _now
        self.sender = ascii_address(config.from_address)
        _require_ascii_config(config, self.sender)
        self._domain = self.sender.rpartition("@")[2]
        self.envelope_sender = ascii_address(config.return_address)  # the Return-Path
        self._ids = itertools.count(1)
        self._date = (_NEVER, _NEVER, "")  # the second it is for, its end, the header
        self._id_prefix = secrets.token_hex(6)
        self._mailto = mailto_uri(config, "")  # + the recipient's token
        boundary = f"=_nl{secrets.token_hex(12)}"
        self._from = from_header(config)
        reply_to = config.reply_to and f"Reply-To: {ascii_address(config.reply_to)}{CRLF}"
        self._reply_to = reply_to or ""
        self._list_id = list_id_header(config) + list_archive_header(config)
        self._mime_head = (
            f"List-Unsubscribe-Post: {ONE_CLICK}{CRLF}MIME-Version: 1.0{CRLF}"
            f'Content-Type: multipart/alternative; boundary="{boundary}"{CRLF}{CRLF}'
        )
        self._text_head = part_head(boundary, "plain").encode("ascii")
        self._html_head = (CRLF + part_head(boundary, "html")).encode("ascii")
        self._close = f"{CRLF}--{boundary}--{CRLF}".encode("ascii")
        self._signer = project_signer(config)
        self._parts = {key: self._edition_parts(e) for key, e in prepared.editions.items()}

    def _edition_parts(self, edition: Edition) -> _EditionParts:
        middle = "".join(
            [
                self._reply_to,
                subject_header(edition.subject),
                f"Content-Language: {edition.content_language}{CRLF}",
            ]
        )
        return _EditionParts(
            edition, middle, _EncodedBody(edition.text), _EncodedBody(edition.html)
        )

    def _date_header(self) -> str:
        """Date: formatting costs microseconds, so it is reused within one second."""
        now = self.clock()
        start, until, header = self._date
        if not start <= now < until:
            start = now.replace(microsecond=0)
            header = f"Date: {format_datetime(start)}{CRLF}"
            self._date = (start, start + _SECOND, header)
        return header

    def build(self, subscriber: Subscriber) -> OutgoingMessage:
        """One recipient's message, ready for SMTP DATA (CRLF, 7-bit, lines <= 998)."""
        recipient = recipient_address(subscriber)
        if not _URL_SAFE.fullmatch(subscriber.token):
            raise InputError(f"cannot mail {subscriber.email}: no valid unsubscribe token")
        parts = self._parts[self.prepared.edition_for(subscriber.language).key]
        url = parts.edition.unsubscribe_url(subscriber)
        values = field_values(subscriber, url, parts.edition.fields)
        message_id = f"<{self._id_prefix}.{next(self._ids)}.{secrets.token_hex(4)}@{self._domain}>"
        head = "".join(
            [
                self._from,
                to_header(subscriber.name, recipient),
                parts.middle,
                self._date_header(),
                f"Message-ID: {message_id}{CRLF}",
                self._list_id,
                list_unsubscribe_header(url, self._mailto and self._mailto + subscriber.token),
                self._mime_head,
            ]
        )
        text, text_dotted = parts.text.encode(values)
        html, html_dotted = parts.html.encode(html_values(values))
        data = b"".join(
            [head.encode("ascii"), self._text_head, text, self._html_head, html, self._close]
        )
        if self._signer is not None:
            data = self._signer.sign(data)  # over the final bytes, whatever made them
        dot_free = not (text_dotted or html_dotted)  # header lines never start with "."
        return OutgoingMessage(message_id, self.envelope_sender, recipient, data, dot_free)


@dataclass(frozen=True)
class _EditionParts:
    """What one edition's messages share: Subject and Content-Language, encoded bodies."""

    edition: Edition
    middle: str  # Reply-To, Subject, Content-Language
    text: _EncodedBody
    html: _EncodedBody


class _EncodedBody:
    """A body skeleton whose slot-free lines are quoted-printable encoded once.

    Quoted-printable encodes each line on its own (soft breaks never cross a
    hard line break), so a line without a personal field encodes the same for
    everyone; only lines with a slot are encoded per recipient. Whether a line
    starts with "." (which SMTP must double) is likewise known once for the
    rest, so the send need not search each whole message for one.
    """

    def __init__(self, skeleton: Skeleton) -> None:
        if any("\0" in chunk for chunk in skeleton.chunks):
            raise TemplateError("the rendered issue contains a NUL character")
        text = skeleton.fill(dict.fromkeys(skeleton.slots, "\0"))
        lines = _LINE_BREAK.split(text)
        if lines[-1] == "":
            lines.pop()
        static: list[str] = []
        self.pieces: list[bytes | Skeleton] = []
        slots = iter(skeleton.slots)
        for line in lines:
            if "\0" not in line:
                static.append(line)
                continue
            self._flush(static)
            parts = line.split("\0")
            self.pieces.append(Skeleton(tuple(parts), tuple(next(slots) for _ in parts[1:])))
        self._flush(static)
        self.dotted = any(isinstance(p, bytes) and _starts_a_line_with_dot(p) for p in self.pieces)

    def _flush(self, lines: list[str]) -> None:
        if lines:
            self.pieces.append(quoted_printable("\n".join(lines) + "\n"))
            lines.clear()

    def encode(self, values: dict[str, str]) -> tuple[bytes, bool]:
        """The encoded body, and whether any of its lines starts with "."."""
        dotted = self.dotted
        encoded = []
        for piece in self.pieces:
            if not isinstance(piece, bytes):
                piece = quoted_printable(piece.fill(values) + "\n")
                dotted = dotted or _starts_a_line_with_dot(piece)
            encoded.append(piece)
        return b"".join(encoded), dotted


def _starts_a_line_with_dot(lines: bytes) -> bool:
    """`lines` begin at the start of a line (every piece of a body does)."""
    return lines.startswith(b".") or b"\n." in lines


def quoted_printable(text: str) -> bytes:
    """UTF-8, quoted-printable, CRLF line ends, lines <= 76 (text uses '\\n' breaks)."""
    encoded = binascii.b2a_qp(text.encode("utf-8"), quotetabs=False, istext=True)
    return encoded.replace(b"\n", b"\r\n")


def part_head(boundary: str, subtype: str) -> str:
    """One alternative's head: UTF-8 text, quoted-printable (never 8bit)."""
    return (
        f'--{boundary}{CRLF}Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}"
    )


def _require_ascii_config(config: Config, sender: str) -> None:
    """Values that go into headers unencoded must be plain ASCII."""
    checks = {
        "newsletter.from (the address)": sender,
        "newsletter.base_url": config.base_url,
        "newsletter.list_id": config.list_id,
    }
    for key, value in checks.items():
        if not value.isascii() or any(char.isspace() or char in '<>"' for char in value):
            raise ConfigError(
                f"newsletter.toml: '{key}' must be plain ASCII without spaces for mail headers",
                hint="write an international domain in its xn-- form",
            )
