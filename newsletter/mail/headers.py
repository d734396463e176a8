"""The headers the tool writes, encoded and folded by its own rules.

Python's email package is used only for headers built once per issue; the
per-recipient headers (To, List-Unsubscribe) are written here directly, and
List-* headers are folded only between URIs, never turned into encoded-words.
"""

from __future__ import annotations

import base64
import re
from email import policy
from functools import lru_cache

from newsletter.config import Config
from newsletter.errors import InputError, TemplateError
from newsletter.subscribers.addresses import ascii_address, clean_field
from newsletter.subscribers.model import Subscriber

CRLF = "\r\n"
MAX_LINE = 998
FOLD_AT = 78
ONE_CLICK = "List-Unsubscribe=One-Click"
_ATOM_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")  # atext and spaces
_SAFE_ADDRESS = re.compile(r"[!-~]+@[!-~]+")  # printable ASCII, no space
_HEADER_POLICY = policy.SMTP


def fold_once(name: str, value: object) -> str:
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


@lru_cache(maxsize=4096)
def _ascii(address: str) -> str:
    return ascii_address(address)


def list_id_value(config: Config) -> str:
    return f"{clean_field(config.name)} <{config.list_id}>"


def mailto_uri(config: Config) -> str | None:
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
