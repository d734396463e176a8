"""Reading a CSV file that came out of a spreadsheet: encoding, delimiter, line numbers.

Spreadsheets save CSV in the machine's encoding (UTF-8, with or without a BOM,
or Windows-1252), with `,` or `;` or tabs depending on the locale, and with
line breaks inside quoted cells. This module turns such a file into records
that carry the physical line they start on, so a reject can be found in an
editor, and refuses anything that is not text with one clear message. It
streams: memory does not depend on the size of the file.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from pathlib import Path

import charset_normalizer

from newsletter.errors import InputError, NotFoundError

SAMPLE_BYTES = 64 * 1024
# The csv module refuses a cell over 128 KB by stopping the whole file; read up to
# this, so the row parser can reject just that row (columns.MAX_CELL).
CSV_FIELD_LIMIT = 64 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024
DELIMITERS = (",", ";", "\t")
# Among single-byte encodings that fit the bytes equally well, the one a
# spreadsheet on a Western-European Windows machine writes.
PREFERRED_SINGLE_BYTE = "cp1252"
WESTERN = {"cp1252", "iso8859-1", "iso8859-15", "mac-roman", "cp850", "cp437", "ascii"}
# The single-byte encodings a spreadsheet saves in (Windows and ISO code pages, KOI8);
# never a DOS code page or a CJK multi-byte one unless named with --encoding.
SPREADSHEET = ("cp125", "iso8859", "koi8")
CLEARLY_BETTER = 5.0  # percentage points of charset-normalizer's mess ratio
ENCODING_HINT = "name the file's encoding with --encoding, for example --encoding cp1252"


def check_file(path: Path) -> None:
    """A named file that exists and holds something; one line otherwise."""
    if not path.exists():
        raise NotFoundError(f"no file {path}")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a CSV file")
    try:
        with path.open("rb") as handle:
            empty = not handle.read(1)
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from None
    if empty:
        raise InputError(f"{path} is empty (0 bytes): expected a CSV file with a header row")


def detect_encoding(path: Path, encoding: str | None = None) -> str:
    """The text encoding to read `path` with: the one named, else detected.

    UTF-8 is recognised by decoding the whole file (cheap, streamed), so a file
    whose first megabyte is ASCII and whose last row has a Latin-1 `â` is not
    mistaken for UTF-8.
    """
    with path.open("rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    if encoding:
        return _named_encoding(encoding, head, path)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head and not _utf8_text(head):
        raise _not_text(path)
    error_at = _first_error(path)
    if error_at is None:
        return "utf-8"
    return _guess_single_byte(path, head, error_at)


def header_candidates(path: Path, encoding: str) -> dict[str, list[str]]:
    """The first record parsed with each delimiter, for the caller to choose from."""
    with path.open(encoding=encoding, newline="", errors="replace") as handle:
        sample = handle.read(SAMPLE_BYTES)
    candidates = {}
    for delimiter in DELIMITERS:
        reader = csv.reader(io.StringIO(sample), delimiter=delimiter)
        try:
            candidates[delimiter] = next(reader, [])
        except csv.Error:
            candidates[delimiter] = []
    return candidates


def records(path: Path, encoding: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) for every non-blank record, the header first.

    The line number is the physical line the record starts on, counted the way
    an editor counts, so it stays right after a quoted cell with line breaks.
    """
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    with path.open(encoding=encoding, newline="") as handle:
        tap = _LineTap(handle)
        reader = csv.reader(tap, delimiter=delimiter)
        start, last = 1, (1, list[str]())
        try:
            for fields in reader:
                last = (start, tap.take())
                if any(fields):
                    yield start, fields
                start = reader.line_num + 1
        except UnicodeError:
            raise InputError(
                f"{path} is not valid {encoding} at line {_line_at(path, encoding)}",
                hint=ENCODING_HINT,
            ) from None
        except csv.Error as error:
            raise InputError(
                f"{path} line {reader.line_num}: not readable as CSV: {error}"
            ) from None
    _check_closed(path, *last, delimiter)


class _LineTap:
    """Passes lines to the csv reader and keeps those of the record being read."""

    def __init__(self, handle: Iterator[str]) -> None:
        self.handle = handle
        self.lines: list[str] = []

    def __iter__(self) -> _LineTap:
        return self

    def __next__(self) -> str:
        line = next(self.handle)
        self.lines.append(line)
        return line

    def take(self) -> list[str]:
        lines, self.lines = self.lines, []
        return lines


def _check_closed(path: Path, start: int, lines: list[str], delimiter: str) -> None:
    """A quote that is never closed swallows every later row into one cell: refuse the file.

    Only the last record can run to the end of the file, so only it is checked
    (strictly) once the reader is done.
    """
    if len(lines) < 2:
        return
    try:
        list(csv.reader(lines, delimiter=delimiter, strict=True))
    except csv.Error as error:
        if "unexpected end of data" in str(error):
            raise InputError(
                f"{path} line {start}: a quoted cell is never closed, so every later line"
                " would become part of it; nothing was imported",
                hint='look for a stray " on that line',
            ) from None


def _named_encoding(encoding: str, head: bytes, path: Path) -> str:
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}", hint=ENCODING_HINT) from None
    if name == "utf-8" and head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:  # e.g. utf-16 needs a BOM to know its byte order: a UnicodeError, not a decode error
        codecs.getincrementaldecoder(name)().decode(head)
    except UnicodeDecodeError:
        pass  # a bad byte: `records` says on which line
    except UnicodeError as error:
        raise InputError(
            f"{path} cannot be read as {name}: {error}",
            hint="name the encoding the file was saved in (utf-16-le or utf-16-be for UTF-16"
            " without a byte order mark), or leave --encoding out to detect it",
        ) from None
    return name


def _utf8_text(head: bytes) -> bool:
    """True when the sample decodes as UTF-8 (a stray NUL in a text file is cleaned later)."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head)
    except UnicodeDecodeError:
        return False
    return True


def _first_error(path: Path, encoding: str = "utf-8") -> int | None:
    """Byte offset of the first byte `encoding` cannot decode, or None when it reads the file."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                return offset + max(error.start, 0)
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return offset
    return None


def _line_at(path: Path, encoding: str) -> int:
    """The line (counted as an editor counts) of the first byte `encoding` cannot decode.

    The csv reader reads ahead in large blocks, so its own count is not where the
    bad byte is.
    """
    offset = _first_error(path, encoding) or 0
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    lines, done = 1, 0
    with path.open("rb") as handle:
        while done < offset:
            chunk = handle.read(min(CHUNK_BYTES, offset - done))
            done += len(chunk)
            lines += decoder.decode(chunk).count("\n")
    return lines


def _guess_single_byte(path: Path, head: bytes, error_at: int) -> str:
    """A single-byte encoding for a file that is not UTF-8: Western unless clearly not.

    charset-normalizer looks at the start of the file plus the bytes around the
    first non-UTF-8 one. On a short sample it hesitates, and its first guess
    for `Si\\xe2n` is Big5; a spreadsheet export is never in a CJK multi-byte
    encoding unless the coordinator says so (--encoding), so only the single-byte
    encodings spreadsheets save in are considered, and Windows-1252 (Latin-1 where a byte is
    undefined in it) wins unless another one fits the text clearly better.
    """
    with path.open("rb") as handle:
        handle.seek(max(0, error_at - 4096))
        around = handle.read(8192)
    sample = head + b"\n" + around
    fits = _first_error(path, PREFERRED_SINGLE_BYTE) is None
    western = PREFERRED_SINGLE_BYTE if fits else "iso8859-1"  # Latin-1 reads every byte
    matches = charset_normalizer.from_bytes(sample)
    if matches.best() is None:
        raise _not_text(path)
    others = [match for match in matches if _codec(match.encoding).startswith(SPREADSHEET)]
    if not others:
        return western
    best = min(others, key=lambda match: match.percent_chaos)
    names = {_codec(name) for name in [best.encoding, *best.could_be_from_charset]}
    if names & WESTERN or best.percent_chaos + CLEARLY_BETTER >= _chaos(sample, western):
        return western
    return _codec(best.encoding)


def _codec(encoding: str) -> str:
    return codecs.lookup(encoding).name


def _chaos(sample: bytes, encoding: str) -> float:
    """charset-normalizer's mess ratio of the sample read as `encoding` (100: unreadable)."""
    match = charset_normalizer.from_bytes(sample, cp_isolation=[encoding]).best()
    return 100.0 if match is None else match.percent_chaos


def _not_text(path: Path) -> InputError:
    return InputError(
        f"{path} is not a CSV text file (it looks binary)",
        hint="save the spreadsheet as CSV (comma, semicolon or tab separated)",
    )
