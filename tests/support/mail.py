"""Checks on raw mail headers shared by the mail tests."""

from __future__ import annotations

import base64
import quopri
import re

ENCODED_WORD = re.compile(r"=\?utf-8\?([qb])\?([^?]*)\?=")


def assert_encoded_headers_shape(data: bytes, names: tuple[str, ...]) -> None:
    """The RFC 2047 shape for each of the named header fields of a raw message."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    for field in re.split(r"\r\n(?=[^ \t])", head):
        if field.split(":", 1)[0] in names:
            assert_rfc2047_shape(field + "\r\n")


def assert_rfc2047_shape(header: str) -> None:
    """Whole encoded-words <= 75, never empty, whole UTF-8; lines <= 76; folds at spaces."""
    assert header.endswith("\r\n")
    lines = header[:-2].split("\r\n")
    assert all(line.startswith(" ") and line.strip() for line in lines[1:])
    assert " " in lines[0] or len(lines) == 1  # the first line is never left empty
    for line in lines:
        words = ENCODED_WORD.findall(line)
        assert line.count("=?utf-8?") == len(words)  # no encoded-word crosses a fold
        if words:
            assert len(line) <= 76, line
        for match in ENCODED_WORD.finditer(line):
            assert len(match[0]) <= 75 and match[2], match[0]
            kind, payload = match.groups()
            raw = _decode(kind, payload)
            raw.decode("utf-8")  # never half of a character: each word decodes alone


def _decode(kind: str, payload: str) -> bytes:
    if kind == "b":
        return base64.b64decode(payload, validate=True)
    return quopri.decodestring(payload.replace("_", " ").encode("ascii"), header=True)
