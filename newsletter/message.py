"""The message: a skeleton built once per issue, bytes assembled per recipient.

`MessageFactory` does the email-package work (headers that are the same for
everyone, MIME structure, the quoted-printable encoding of every body line that
holds no personal field) once, then per recipient joins precomputed bytes with
the few personal pieces: the To header, Date, Message-ID, List-Unsubscribe and
the body lines with a personal field. `build_reference_message` builds the same
message the slow, obvious way with `EmailMessage`; the tests hold the two equal.

Two traps of Python's email package are avoided on both paths: List-* headers
are folded only between URIs (never turned into RFC 2047 encoded-words), and
bodies are quoted-printable (never 8bit, which smtplib would send without
asking for 8BITMIME).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache

from newsletter.addresses import ascii_address, clean_field
from newsletter.config import Config
from newsletter.errors import ConfigError, InputError, TemplateError
from newsletter.mail.dkim_keys import signer_for
from newsletter.models import OutgoingMessage, Subscriber
from newsletter.personal import Skeleton, field_values, html_values
from newsletter.render import PreparedIssue

CRLF = "\r\n"
MAX_LINE = 998
FOLD_AT = 78
ONE_CLICK = "List-Unsubscribe=One-Click"
_ATOM_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")  # atext and spaces
_URL_SAFE = re.compile(r"[A-Za-z0-9_-]{1,200}")  # a token (or a deliberately dead one)
_SAFE_ADDRESS = re.compile(r"[!-~]+@[!-~]+")  # printable ASCII, no space
_HEADER_POLICY = policy.SMTP
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # what bytes.splitlines() splits on, as EmailMessage does


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
        self._ids = itertools.count(1)
        self._date: tuple[datetime | None, str] = (None, "")
        self._id_prefix = secrets.token_hex(6)
        self._fields = prepared.fields
        self._mailto = _mailto_uri(config)
        boundary = f"=_nl{secrets.token_hex(12)}"
        self._from = _fold_once("From", Address(config.from_name, addr_spec=self.sender))
        self._middle = "".join(
            [
                _fold_once("Reply-To", config.reply_to and ascii_address(config.reply_to)),
                _fold_once("Subject", prepared.subject),
            ]
        )
        self._list_id = _fold_once("List-Id", list_id_value(config))
        self._mime_head = (
            f"List-Unsubscribe-Post: {ONE_CLICK}{CRLF}MIME-Version: 1.0{CRLF}"
            f'Content-Type: multipart/alternative; boundary="{boundary}"{CRLF}{CRLF}'
        )
        self._text_head = _part_head(boundary, "plain").encode("ascii")
        self._html_head = (CRLF + _part_head(boundary, "html")).encode("ascii")
        self._close = f"{CRLF}--{boundary}--{CRLF}".encode("ascii")
        self._text = _EncodedBody(prepared.text)
        self._html = _EncodedBody(prepared.html)
        self._signer = signer_for(config)  # None without [dkim]

    def _date_header(self) -> str:
        """Date: formatting costs microseconds, so it is reused within one second."""
        now = self.clock().replace(microsecond=0)
        if now != self._date[0]:
            self._date = (now, f"Date: {format_datetime(now)}{CRLF}")
        return self._date[1]

    def build(self, subscriber: Subscriber) -> OutgoingMessage:
        """One recipient's message, ready for SMTP DATA (CRLF, 7-bit, lines <= 998)."""
        recipient = recipient_address(subscriber)
        if not _URL_SAFE.fullmatch(subscriber.token):
            raise InputError(f"cannot mail {subscriber.email}: no valid unsubscribe token")
        url = self.prepared.unsubscribe_url(subscriber)
        values = field_values(subscriber, url, self._fields)
        message_id = f"<{self._id_prefix}.{next(self._ids)}.{secrets.token_hex(4)}@{self._domain}>"
        head = "".join(
            [
                self._from,
                to_header(subscriber.name, recipient),
                self._middle,
                self._date_header(),
                f"Message-ID: {message_id}{CRLF}",
                self._list_id,
                list_unsubscribe_header(url, self._mailto),
                self._mime_head,
            ]
        )
        data = b"".join(
            [
                head.encode("ascii"),
                self._text_head,
                self._text.encode(values),
                self._html_head,
                self._html.encode(html_values(values)),
                self._close,
            ]
        )
        if self._signer is not None:
            data = self._signer.sign(data)  # over the final bytes, whatever made them
        return OutgoingMessage(message_id, self.sender, recipient, data)


class _EncodedBody:
    """A body skeleton whose slot-free lines are quoted-printable encoded once.

    Quoted-printable encodes each line on its own (soft breaks never cross a
    hard line break), so a line without a personal field encodes the same for
    everyone; only lines with a slot are encoded per recipient.
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

    def _flush(self, lines: list[str]) -> None:
        if lines:
            self.pieces.append(quoted_printable("\n".join(lines) + "\n"))
            lines.clear()

    def encode(self, values: dict[str, str]) -> bytes:
        return b"".join(
            piece if isinstance(piece, bytes) else quoted_printable(piece.fill(values) + "\n")
            for piece in self.pieces
        )


def quoted_printable(text: str) -> bytes:
    """UTF-8, quoted-printable, CRLF line ends, lines <= 76 (text uses '\\n' breaks)."""
    encoded = binascii.b2a_qp(text.encode("utf-8"), quotetabs=False, istext=True)
    return encoded.replace(b"\n", b"\r\n")


def _part_head(boundary: str, subtype: str) -> str:
    return (
        f'--{boundary}{CRLF}Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}"
    )


def _fold_once(name: str, value: object) -> str:
    """A header folded by the email package (done once per issue, so its cost is fine)."""
    if not value:
        return ""
    folded = _HEADER_POLICY.header_factory(name, value).fold(policy=_HEADER_POLICY)
    if any(len(line) > MAX_LINE for line in folded.split(CRLF)):
        raise TemplateError(f"the {name} header would be longer than {MAX_LINE} characters")
    return folded


def recipient_address(subscriber: Subscriber) -> str:
    """The envelope and To address: IDN domain in ASCII; anything odd refused."""
    address = subscriber.email if subscriber.email.isascii() else _ascii(subscriber.email)
    if not _SAFE_ADDRESS.fullmatch(address) or "<" in address or ">" in address:
        raise InputError(f"cannot mail {subscriber.email!r}: not a plain ASCII address")
    return address


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


@lru_cache(maxsize=4096)
def _ascii(address: str) -> str:
    return ascii_address(address)


def list_id_value(config: Config) -> str:
    return f"{clean_field(config.name)} <{config.list_id}>"


def _mailto_uri(config: Config) -> str | None:
    if not config.unsubscribe_mailto:
        return None
    return f"mailto:{ascii_address(config.unsubscribe_mailto)}?subject=unsubscribe"


def list_unsubscribe_header(url: str, mailto: str | None) -> str:
    """`<url>` (and `<mailto>`), folded only between the URIs, never encoded."""
    if not mailto:
        return f"List-Unsubscribe: <{url}>{CRLF}"
    line = f"List-Unsubscribe: <{url}>, <{mailto}>"
    if len(line) <= FOLD_AT:
        return line + CRLF
    return f"List-Unsubscribe: <{url}>,{CRLF} <{mailto}>{CRLF}"


# --- the To header ------------------------------------------------------------

MAX_ENCODED_WORD = 75
_Q_TABLE = [
    chr(byte)
    if chr(byte).isascii() and chr(byte).isalnum()
    else "_"
    if byte == 32
    else f"={byte:02X}"
    for byte in range(256)
]


def display_name(name: str) -> str:
    """The display name as sent: one line, shortened to fit one header line.

    A longer name would need several encoded-words, which mail readers join
    differently (Python's own parser adds spaces between them); the address is
    what matters, so an over-long name is cut instead. Text that looks like an
    encoded-word is broken up so that no reader decodes it.
    """
    name = " ".join(
        clean_field(name).replace("=?", "= ?").split()
    )  # never an encoded-word lookalike
    if name.isascii():
        return name[:64].rstrip()
    while name and len(_encoded_word(name)) > MAX_ENCODED_WORD:
        name = name[:-1]
    return name.rstrip()


def to_header(name: str, address: str) -> str:
    """`To: Name <address>` with the name quoted or RFC 2047 encoded as needed."""
    name = display_name(name)
    if not name:
        return f"To: {address}{CRLF}"
    if name.isascii():
        phrase = name if _ATOM_PHRASE.fullmatch(name) else _quoted(name)
    else:
        phrase = _encoded_word(name)
    line = f"To: {phrase} <{address}>"
    if len(line) <= FOLD_AT:
        return line + CRLF
    return f"To: {phrase}{CRLF} <{address}>{CRLF}"


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _encoded_word(name: str) -> str:
    """The shorter of the B and Q encodings of the whole name as one encoded-word."""
    raw = name.encode("utf-8")
    b_word = f"=?utf-8?b?{base64.b64encode(raw).decode('ascii')}?="
    q_body = "".join(map(_Q_TABLE.__getitem__, raw))
    q_word = f"=?utf-8?q?{q_body}?="
    return q_word if len(q_word) <= len(b_word) else b_word


# --- the reference path ---------------------------------------------------------


class _UriListHeader(str):
    """A List-Unsubscribe value the email package emits as given (folded between URIs)."""

    name = "List-Unsubscribe"

    def fold(self, *, policy: object) -> str:  # noqa: ARG002 - the email package's signature
        return list_unsubscribe_header(*self.uris)

    @classmethod
    def of(cls, url: str, mailto: str | None) -> _UriListHeader:
        header = cls(f"<{url}>" + (f", <{mailto}>" if mailto else ""))
        header.uris = (url, mailto)  # type: ignore[attr-defined]
        return header


def build_reference_message(
    config: Config,
    prepared: PreparedIssue,
    subscriber: Subscriber,
    *,
    message_id: str | None = None,
    date: datetime | None = None,
) -> EmailMessage:
    """The slow, obviously-correct message: a fresh EmailMessage (policy SMTP)."""
    html, text = prepared.render(subscriber)
    url = prepared.unsubscribe_url(subscriber)
    sender = ascii_address(config.from_address)
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = Address(config.from_name, addr_spec=sender)
    message["To"] = Address(display_name(subscriber.name), addr_spec=recipient_address(subscriber))
    if config.reply_to:
        message["Reply-To"] = ascii_address(config.reply_to)
    message["Subject"] = prepared.subject
    message["Date"] = date or _now()
    message["Message-ID"] = message_id or f"<{secrets.token_hex(12)}@{sender.rpartition('@')[2]}>"
    message["List-Id"] = list_id_value(config)
    message["List-Unsubscribe"] = _UriListHeader.of(url, _mailto_uri(config))
    message["List-Unsubscribe-Post"] = ONE_CLICK
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message
