"""DKIM signing (RFC 6376), relaxed/relaxed, of the exact bytes that go on the wire.

The signer takes a finished message (CRLF line ends, as the builder makes it)
and returns it with a `DKIM-Signature` header in front. It knows nothing about
how the message was built, so whatever headers the builder writes are signed as
they are. Per message it canonicalizes and hashes the body (the unsubscribe
link is personal, so the body hash cannot be shared), canonicalizes the signed
headers, and makes one RSA-SHA256 signature through `cryptography` (OpenSSL,
about 0.3 ms for a 2048-bit key, where dkimpy's pure-Python RSA takes ~8 ms),
plus an optional Ed25519 one (RFC 8463, ~0.05 ms) over the same hashes.

The signature header has dkimpy's tags in dkimpy's order, so for the same
message, key and time the two produce the same `b=` value (the tests hold them
equal, and dkimpy and OpenDKIM verify every signature).
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Callable, Sequence

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# What Gmail and Yahoo need covered for one-click unsubscribe (RFC 8058), and the
# headers a reader or a filter acts on. A listed header the message lacks is signed
# as absent, so nobody can add it later. The ones a reader sees or a mailbox acts
# on are listed twice (oversigned, RFC 6376 8.15): a verifier signs the bottom-most
# occurrence plus "none", so a second From, Subject or List-Unsubscribe added above
# the original breaks the signature instead of being shown in its place.
SIGNED_HEADERS = (
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "reply-to",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "list-archive",
    "mime-version",
    "content-type",
    "content-language",
    "auto-submitted",
)
OVERSIGNED = (
    "from",
    "to",
    "subject",
    "date",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "list-archive",
)
H_HEADERS = SIGNED_HEADERS + OVERSIGNED  # the h= tag, in this order
FOLD_AT = 76
_FIELD_START = re.compile(rb"\r\n(?![ \t])")
_WSP_RUN = re.compile(rb"[ \t]+")
_SPACE_RUN = re.compile(rb"  +")  # literal prefixes: sre scans for them at memory speed
_SPACE_AT_EOL = re.compile(rb" \r\n")
_LINE_BREAK = re.compile(rb"\r?\n")

Clock = Callable[[], float]


class DkimSigner:
    """Signs finished messages for one domain: RSA-SHA256 (required: every receiver
    checks it) and, when given, a second Ed25519-SHA256 signature (RFC 8463)."""

    def __init__(
        self,
        domain: str,
        selector: str,
        key: rsa.RSAPrivateKey,
        *,
        ed25519: tuple[str, Ed25519PrivateKey] | None = None,
        headers: Sequence[str] = H_HEADERS,
        clock: Clock = time.time,
    ) -> None:
        self.domain = domain
        self.headers = tuple(name.lower() for name in headers)
        self.clock = clock
        self._h_tag = "h=" + " : ".join(self.headers)
        self._keys = [(self._tag_head("rsa-sha256", selector), self._rsa(key))]
        if ed25519 is not None:
            ed_selector, ed_key = ed25519
            self._keys.append((self._tag_head("ed25519-sha256", ed_selector), self._ed(ed_key)))

    def _tag_head(self, algorithm: str, selector: str) -> str:
        domain = self.domain
        return (
            f"v=1; a={algorithm}; c=relaxed/relaxed; d={domain}; i=@{domain}; q=dns/txt;"
            f" s={selector}; t="
        )

    @staticmethod
    def _rsa(key: rsa.RSAPrivateKey) -> Callable[[bytes], bytes]:
        scheme, digest = padding.PKCS1v15(), hashes.SHA256()
        return lambda data: key.sign(data, scheme, digest)

    @staticmethod
    def _ed(key: Ed25519PrivateKey) -> Callable[[bytes], bytes]:
        return lambda data: key.sign(hashlib.sha256(data).digest())  # RFC 8463 section 3

    def sign(self, message: bytes) -> bytes:
        """The message with its DKIM-Signature header(s) in front."""
        return self.signature(message) + message

    def signature(self, message: bytes) -> bytes:
        """The `DKIM-Signature: ...` header(s) for `message`, CRLF-terminated.
        The body hash and the signed headers are computed once for all keys."""
        head, body = split_message(message)
        body_hash = base64.b64encode(hashlib.sha256(relaxed_body(body)).digest()).decode()
        signed_headers = b"".join(
            relaxed_header(name, value) for name, value in select_headers(head, self.headers)
        )
        now = int(self.clock())
        lines = []
        for tag_head, sign in self._keys:
            tags = [f"{tag_head}{now};", f"{self._h_tag};", f"bh={body_hash};", "b="]
            value = sign(signed_headers + b"dkim-signature:" + " ".join(tags).encode("ascii"))
            lines.append(_fold(tags, base64.b64encode(value).decode("ascii")))
        return "".join(lines).encode("ascii")


def split_message(message: bytes) -> tuple[bytes, bytes]:
    """(header block with its last CRLF, body); a message without a body has b"" as body."""
    end = message.find(b"\r\n\r\n")
    if end < 0:
        return (message if message.endswith(b"\r\n") else message + b"\r\n"), b""
    return message[: end + 2], message[end + 4 :]


def header_fields(head: bytes) -> list[tuple[bytes, bytes]]:
    """(name, raw value after the colon) of each header field, in order."""
    fields = []
    for field in _FIELD_START.split(head.removesuffix(b"\r\n")):
        name, colon, value = field.partition(b":")
        if colon:
            fields.append((name, value))
    return fields


def select_headers(head: bytes, names: Sequence[str]) -> list[tuple[bytes, bytes]]:
    """The fields `h=` names, each occurrence taken from the bottom up (RFC 6376 5.4.2)."""
    fields = header_fields(head)
    lowered = [name.strip().lower() for name, _value in fields]
    chosen, last_seen = [], dict[bytes, int]()
    for name in names:
        wanted = name.encode("ascii")
        index = last_seen.get(wanted, len(fields))
        while index > 0:
            index -= 1
            if lowered[index] == wanted:
                chosen.append(fields[index])
                break
        last_seen[wanted] = index
    return chosen


def relaxed_header(name: bytes, value: bytes) -> bytes:
    """RFC 6376 3.4.2: lower-case name, unfolded value, runs of WSP as one space, trimmed."""
    if b"\n" in value:
        value = _LINE_BREAK.sub(b"", value)
    if b"\t" in value or b"  " in value:
        value = _WSP_RUN.sub(b" ", value)
    return name.strip().lower() + b":" + value.strip(b" ") + b"\r\n"


def relaxed_body(body: bytes) -> bytes:
    """RFC 6376 3.4.4: every run of spaces and tabs becomes one space, none is left
    before a line end, and empty lines at the end are dropped.

    Two scans for literal strings (tabs are rare and checked with memchr): a
    pattern that starts with a character class would visit every space of an
    indented HTML body and cost milliseconds per message."""
    if b"\t" in body:
        body = body.replace(b"\t", b" ")
    body = _SPACE_RUN.sub(b" ", body)
    if _SPACE_AT_EOL.search(body):
        body = body.replace(b" \r\n", b"\r\n")
    end = len(body)
    while body.endswith(b"\r\n", 0, end):
        end -= 2
    return body[:end] + b"\r\n" if end else b""


def _fold(tags: list[str], signature: str) -> str:
    """The header, folded at the spaces between tags and inside h=, with b= on lines
    of its own (whitespace inside b= is ignored by verifiers)."""
    lines, line = [], "DKIM-Signature:"
    words = " ".join(tags[:-1]).split(" ")
    for word in words:
        if len(line) + 1 + len(word) > FOLD_AT:
            lines.append(line)
            line = ""
        line += " " + word
    lines.append(line)
    chunk = FOLD_AT - 1
    lines.append(" b=" + signature[: chunk - 3])
    lines.extend(" " + signature[i : i + chunk] for i in range(chunk - 3, len(signature), chunk))
    return "\r\n".join(lines) + "\r\n"
