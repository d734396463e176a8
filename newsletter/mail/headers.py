"""The headers the tool writes, encoded and folded by its own rules (RFC 2047, RFC 5322).

Python's header folder (policy.SMTP, 3.6 to 3.13) can emit an empty
encoded-word (`=?utf-8?q??=`) and lines over 76 characters, which rspamd
scores and some decoders cannot read. So the Subject, the From and To display
names and the List-Id phrase are written here, by one small set of rules:

- the text is cleaned (no line breaks or controls), each run of white space one space;
- a word that can stand as it is (printable ASCII, an atom in a phrase, short
  enough for a line, and not looking like an encoded-word) is written as it is;
- consecutive other words become encoded-words, the spaces between them inside
  the encoded text, so every decoder puts them back;
- each encoded-word holds whole characters (at least one, never half of a
  UTF-8 sequence), in Q unless B is clearly shorter, and is at most 75 long;
- lines are folded only at the space between two words and stay within 76.

In a display name, Python's parser puts a space between two adjacent
encoded-words (RFC 2047 says to drop it), so a name's run of encoded words
must fit one encoded-word (a longer one is cut, see display_name); an accented
name that fits one encoded-word is sent as one, which is also the cheapest
per recipient. An ASCII name that is not all atoms is a quoted-string.

Text typed to look like an encoded-word (`=?utf-8?b?...?=`) is itself encoded,
so a decoder shows it as typed instead of decoding it. List-* headers are
folded only between URIs, never turned into encoded-words.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from functools import lru_cache

from newsletter.config import Config
from newsletter.errors import ConfigError, InputError
from newsletter.issue.online import archive_url
from newsletter.subscribers.addresses import ascii_address, clean_field
from newsletter.subscribers.model import Subscriber

CRLF = "\r\n"
FOLD_AT = 78
ONE_CLICK = "List-Unsubscribe=One-Click"
MAX_LINE = 76  # RFC 2047 section 2, for lines that hold an encoded-word
MAX_ENCODED_WORD = 75
MAX_PHRASE_WORD = 64  # fits the first line after "List-Id: ", "From: " or "To: "
MIN_ROOM = 24  # less room than this on a line: the next encoded-word starts a new one
_OVERHEAD = len("=?utf-8?q??=")
Q_SLACK = 8  # Q (half readable in raw headers) even when B would be this much shorter
_PRINTABLE = re.compile(r"[!-~]+")
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
_ATOM_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")  # atoms and spaces
_SAFE_ADDRESS = re.compile(r"[!-~]+@[!-~]+")  # printable ASCII, no space


def subject_header(subject: str) -> str:
    return unstructured_header("Subject", subject)


def from_header(config: Config) -> str:
    """`From: name <address>`; a name too long to be read back the same is a config error."""
    if display_name(config.from_name) != header_text(config.from_name):
        raise ConfigError(
            "newsletter.toml: the name in 'newsletter.from' is too long for a mail header",
            hint="shorten it (a run of accented words must fit in about 40 bytes)",
        )
    return phrase_header("From", config.from_name, ascii_address(config.from_address))


def to_header(name: str, address: str) -> str:
    """`To: name <address>` (per recipient: an over-long name is cut, see display_name)."""
    text = header_text(name)
    if len(text) <= MAX_PHRASE_WORD and _ATOM_PHRASE.fullmatch(text) and "=?" not in text:
        line = f"To: {text} <{address}>" if text else f"To: <{address}>"
        if len(line) <= MAX_LINE:  # the usual case, written at once
            return line + CRLF
    return _phrase_field("To", text, address)


def list_id_header(config: Config) -> str:
    """`List-Id: name <list-id>` (RFC 2919)."""
    return phrase_header("List-Id", config.joined_text("name"), config.list_id)


def list_archive_header(config: Config) -> str:
    """`List-Archive: <BASE/archive/>` (RFC 2369): where every sent issue can be read."""
    return f"List-Archive: <{archive_url(config.base_url)}>{CRLF}"


def list_id_value(config: Config) -> str:
    """The List-Id as a reader shows it (the reference path writes this)."""
    return f"{display_name(config.joined_text('name'))} <{config.list_id}>".lstrip()


def recipient_address(subscriber: Subscriber) -> str:
    """The envelope and To address: IDN domain in ASCII; anything odd refused."""
    address = subscriber.email if subscriber.email.isascii() else _ascii(subscriber.email)
    if not _SAFE_ADDRESS.fullmatch(address) or "<" in address or ">" in address:
        raise InputError(f"cannot mail {subscriber.email!r}: not a plain ASCII address")
    return address


@lru_cache(maxsize=4096)
def _ascii(address: str) -> str:
    return ascii_address(address)


def mailto_uri(config: Config, token: str) -> str | None:
    """The unsubscribe mailto, naming its recipient by token in the subject (the token,
    last in the URI, is the one the https link carries), so the request can be honoured."""
    if not config.unsubscribe_mailto:
        return None
    return f"mailto:{ascii_address(config.unsubscribe_mailto)}?subject=unsubscribe%20{token}"


def list_unsubscribe_header(url: str, mailto: str | None) -> str:
    """`<url>` (and `<mailto>`), folded only between the URIs, never encoded."""
    if not mailto:
        return f"List-Unsubscribe: <{url}>{CRLF}"
    line = f"List-Unsubscribe: <{url}>, <{mailto}>"
    if len(line) <= FOLD_AT:
        return line + CRLF
    return f"List-Unsubscribe: <{url}>,{CRLF} <{mailto}>{CRLF}"


# --- the encoder -----------------------------------------------------------------


def header_text(value: object) -> str:
    """The text a header carries: one line, no controls, each run of white space one space.

    (Python's parser turns a no-break space in a display name into a plain one.)
    """
    return " ".join(clean_field(value).split())


def unstructured_header(name: str, value: object) -> str:
    """`Name: text` (the Subject), encoded and folded, ending in CRLF."""
    lines = [f"{name}:"]
    for text, plain in _runs(header_text(value), _plain_text_word):
        if plain and (_started(lines) or len(lines[0]) + 1 + len(text) <= MAX_LINE):
            _place(lines, text)
            continue
        while text:  # each encoded-word sized to the room left on its line
            room = min(MAX_LINE - len(lines[-1]) - 1, MAX_ENCODED_WORD)
            if room < MIN_ROOM:
                lines.append("")
                room = MAX_ENCODED_WORD
            word, text = _first_encoded_word(text, room)
            lines[-1] += " " + word
    return CRLF.join(lines) + CRLF


def phrase_header(name: str, phrase: object, address: str) -> str:
    """`Name: phrase <address>` (From, To, List-Id), encoded and folded, ending in CRLF.

    The phrase reads back as `display_name(phrase)`; every atom fits the first line.
    """
    return _phrase_field(name, header_text(phrase), address)


def _phrase_field(name: str, text: str, address: str) -> str:
    atoms = [*_phrase_atoms(text)[0], f"<{address}>"]
    line = f"{name}: {' '.join(atoms)}"
    if len(line) <= MAX_LINE:
        return line + CRLF
    lines = [f"{name}:"]
    for atom in atoms:
        _place(lines, atom)
    return CRLF.join(lines) + CRLF


def display_name(value: object) -> str:
    """The display text a phrase header carries, as every decoder will show it.

    Python's parser puts a space between two adjacent encoded-words of a
    display name (RFC 2047 says to drop the space between them), so a run of
    words that need encoding must fit in one encoded-word; a name whose run
    is longer is cut there, at a character.
    """
    return _phrase_atoms(header_text(value))[1]


def _started(lines: list[str]) -> bool:
    """True once the first line holds an atom (it is never left empty: some parsers
    would keep the fold's space as part of the value)."""
    return len(lines) > 1 or " " in lines[0]


def _place(lines: list[str], atom: str) -> None:
    """Append `atom` after a space, on a new line if this one would grow past MAX_LINE."""
    if _started(lines) and len(lines[-1]) + 1 + len(atom) > MAX_LINE:
        lines.append("")
    lines[-1] += " " + atom


def _phrase_atoms(text: str) -> tuple[list[str], str]:
    """(the phrase as header atoms, the text they decode to)."""
    if not text.isascii():  # the usual accented name: one encoded-word when it fits
        word, rest = _first_encoded_word(text, MAX_PHRASE_WORD)
        if not rest:
            return [word], text
    elif "=?" not in text and not _ATOM_PHRASE.fullmatch(text):
        quoted = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if len(quoted) <= MAX_PHRASE_WORD:
            return [quoted], text  # plain ASCII with a comma or a dot: readable
    runs = _runs(text, _plain_atom)
    atoms: list[str] = []
    shown: list[str] = []
    for run, plain in runs:
        if plain:
            atoms.append(run)
            shown.append(run)
            continue
        word, rest = _first_encoded_word(run, MAX_PHRASE_WORD)
        if rest:  # cut: at a character, without a space at the end
            run = run[: len(run) - len(rest)].rstrip()
            word = _first_encoded_word(run, MAX_PHRASE_WORD)[0]
        atoms.append(word)
        shown.append(run)
        if rest:
            break
    return atoms, " ".join(shown)


def _plain_text_word(word: str) -> bool:
    return len(word) <= MAX_ENCODED_WORD and bool(_PRINTABLE.fullmatch(word)) and "=?" not in word


def _plain_atom(word: str) -> bool:
    return len(word) <= MAX_PHRASE_WORD and bool(_ATOM.fullmatch(word)) and "=?" not in word


def _runs(text: str, plain: Callable[[str], bool]) -> list[tuple[str, bool]]:
    """(text, plain) pieces: plain words alone, other words grouped with their spaces."""
    runs: list[tuple[str, bool]] = []
    for word in text.split(" ") if text else ():
        if plain(word):
            runs.append((word, True))
        elif runs and not runs[-1][1]:
            runs[-1] = (f"{runs[-1][0]} {word}", False)
        else:
            runs.append((word, False))
    return runs


def _first_encoded_word(text: str, room: int) -> tuple[str, str]:
    """(the longest encoded-word of at most `room` characters from the start, the rest)."""
    raw = text.encode("utf-8")
    q_word = _q_word(raw)
    b_word = "=?utf-8?b?" + base64.b64encode(raw).decode("ascii") + "?="
    if len(q_word) <= min(room, len(b_word) + Q_SLACK):  # the usual case: all of it fits
        return q_word, ""
    if len(b_word) <= room:
        return b_word, ""
    budget = room - _OVERHEAD
    q_length = b_bytes = q_count = b_count = 0
    for count, char in enumerate(text, 1):
        size = len(char.encode("utf-8"))
        cost = len(_q_word(char.encode("utf-8"))) - _OVERHEAD
        if q_count == count - 1 and q_length + cost <= budget:
            q_length, q_count = q_length + cost, count
        if b_count == count - 1 and -(-(b_bytes + size) // 3) * 4 <= budget:
            b_bytes, b_count = b_bytes + size, count
        if q_count < count and b_count < count:
            break
    count = max(q_count, b_count)
    return _first_encoded_word(text[:count], room)[0], text[count:]


_Q_TABLE = [
    chr(byte)
    if chr(byte).isascii() and chr(byte).isalnum()
    else "_"
    if byte == 32
    else f"={byte:02X}"
    for byte in range(256)
]


def _q_word(raw: bytes) -> str:
    return "=?utf-8?q?" + "".join(map(_Q_TABLE.__getitem__, raw)) + "?="
