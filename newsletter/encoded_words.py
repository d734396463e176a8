"""Header text the tool writes, encoded by the project itself (RFC 2047, RFC 5322).

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
  UTF-8 sequence), in Q or B, whichever carries more, and is at most 75 long;
- lines are folded only at the space between two words and stay within 76.

Text typed to look like an encoded-word (`=?utf-8?b?...?=`) is itself encoded,
so a decoder shows it as typed instead of decoding it.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from functools import lru_cache

from newsletter.addresses import clean_field

CRLF = "\r\n"
MAX_LINE = 76  # RFC 2047 section 2, for lines that hold an encoded-word
MAX_ENCODED_WORD = 75
MAX_PHRASE_WORD = 64  # fits the first line after "List-Id: ", "From: " or "To: "
MIN_ROOM = 24  # less room than this on a line: the next encoded-word starts a new one
_OVERHEAD = len("=?utf-8?q??=")
_PRINTABLE = re.compile(r"[!-~]+")
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
_QUOTABLE = re.compile(r"[ !-~]+")


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


def phrase_header(name: str, phrase: str, address: str) -> str:
    """`Name: phrase <address>` (From, To, List-Id), encoded and folded, ending in CRLF.

    `phrase` is the text `display_name` made, so every atom fits the first line.
    """
    lines = [f"{name}:"]
    for atom in [*_phrase_atoms(phrase)[0], f"<{address}>"]:
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
    runs = _runs(text, _plain_atom)
    if any(not plain for _, plain in runs) and _QUOTABLE.fullmatch(text) and "=?" not in text:
        quoted = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if len(quoted) <= MAX_PHRASE_WORD:  # plain ASCII with a comma or a dot: readable
            return [quoted], text
    atoms: list[str] = []
    shown: list[str] = []
    for run, plain in runs:
        if plain:
            atoms.append(run)
            shown.append(run)
            continue
        word, rest = _first_encoded_word(run, MAX_PHRASE_WORD)
        atoms.append(word)
        shown.append(run[: len(run) - len(rest)])
        if rest:
            break
    return atoms, " ".join(shown).rstrip()


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
    budget = room - _OVERHEAD
    q_length = b_bytes = q_count = b_count = 0
    for count, char in enumerate(text, 1):
        cost, size = _q_cost(char)
        if q_count == count - 1 and q_length + cost <= budget:
            q_length, q_count = q_length + cost, count
        if b_count == count - 1 and -(-(b_bytes + size) // 3) * 4 <= budget:
            b_bytes, b_count = b_bytes + size, count
        if q_count < count and b_count < count:
            break
    if q_count >= b_count:
        return _q_word(text[:q_count]), text[q_count:]
    return _b_word(text[:b_count]), text[b_count:]


@lru_cache(maxsize=4096)
def _q_char(char: str) -> str:
    if char == " ":
        return "_"
    if char.isascii() and char.isalnum():
        return char
    return "".join(f"={byte:02X}" for byte in char.encode("utf-8"))


def _q_cost(char: str) -> tuple[int, int]:
    """(characters in Q, bytes in UTF-8) of one character."""
    return len(_q_char(char)), len(char.encode("utf-8"))


def _q_word(text: str) -> str:
    return "=?utf-8?q?" + "".join(map(_q_char, text)) + "?="


def _b_word(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="
