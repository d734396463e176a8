"""Language codes: the reader's choice, however a spreadsheet or a person writes it.

A subscriber's `language` is a code (`cy`, `en`, ...) or empty (no choice
made). Names in English, in the language itself and in Welsh are understood
(`Cymraeg`, `Welsh`, `Saesneg`, `English`), as are the ISO 639-2 codes
(`cym`, `wel`, `eng`); `Dwyieithog`, `Both`, `Y ddwy` and `cy+en` mean no
single language (both), as a blank does. Only the languages a project works in are accepted
(Welsh and English always, plus any in `newsletter.languages`), so a third
language is a configuration change, not a code change.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from babel import Locale

WELSH = "cy"
ENGLISH = "en"
SOURCE_LANGUAGE = ENGLISH  # the language the interface strings are written in
_THREE_LETTER = {"cym": WELSH, "wel": WELSH, "eng": ENGLISH}
_NAMED_IN = (ENGLISH, WELSH)  # language names are understood as written in these
# "No single language": the reader gets both. Stored as '' (like a blank cell).
BOTH_WORDS = frozenset({"dwyieithog", "both", "y ddwy", "cy+en", "en+cy", "bilingual"})


NETWORK_LANGUAGES = (WELSH, ENGLISH)


def accepted_codes(languages: tuple[str, ...]) -> tuple[str, ...]:
    """The codes a project accepts: its own languages, then Welsh and English."""
    return tuple(dict.fromkeys((*languages, *NETWORK_LANGUAGES)))


def says_both(text: str) -> bool:
    """True for a value that chooses both languages out loud (not a blank cell)."""
    return " ".join(text.split()).casefold() in BOTH_WORDS


def language_hint(languages: tuple[str, ...]) -> str:
    """What to write instead of a value `parse_language` did not understand."""
    codes = ", ".join(accepted_codes(languages))
    return f"use {codes}, Cymraeg or English; empty (or Dwyieithog, Both) means both"


@lru_cache(maxsize=1024)
def parse_language(text: str, accepted: tuple[str, ...] = NETWORK_LANGUAGES) -> str | None:
    """The code `text` means ('' for blank), or None when it is not one of `accepted`."""
    key = " ".join(text.split()).casefold()
    if not key or key in BOTH_WORDS:
        return ""
    code = _names().get(key) or _THREE_LETTER.get(key) or _known_code(key)
    if code is None and ("-" in key or "_" in key):
        code = _known_code(re.split(r"[-_]", key, maxsplit=1)[0])  # en-GB, cy_GB
    return code if code in accepted_codes(accepted) else None


def is_language_code(code: str) -> bool:
    """A two- or three-letter code Babel has data for (cy, en, fr, ...)."""
    return code in NETWORK_LANGUAGES or _known_code(code) == code  # Babel only for the others


def language_name(code: str, in_language: str) -> str:
    """`code`'s name written in `in_language`: ('en', 'cy') -> 'Saesneg'."""
    locale = _locale(in_language) or _locale(SOURCE_LANGUAGE)
    assert locale is not None
    return locale.languages.get(code, code)


def text_direction(code: str) -> str:
    """'ltr' or 'rtl' for `dir`: Welsh and English without loading Babel, others from CLDR."""
    if code in NETWORK_LANGUAGES or not code:
        return "ltr"
    locale = _locale(code)
    return locale.text_direction if locale is not None else "ltr"


def autonym(code: str) -> str:
    """A language's name in itself ('Cymraeg', 'English'): what a language switch shows."""
    return language_name(code, code)


@lru_cache(maxsize=64)
def _locale(code: str) -> Locale | None:
    from babel import Locale, UnknownLocaleError  # here: reading the config needs no Babel

    try:
        return Locale.parse(code)
    except (UnknownLocaleError, ValueError):
        return None


def _known_code(key: str) -> str | None:
    if not (key.isascii() and key.isalpha() and 2 <= len(key) <= 3):
        return None
    locale = _locale(key)
    return locale.language if locale is not None and locale.language == key else None


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    """'welsh' -> 'cy', 'cymraeg' -> 'cy', 'saesneg' -> 'en', ... for the two languages
    of the network, in English, in Welsh and in themselves."""
    names: dict[str, str] = {}
    for code in (WELSH, ENGLISH):
        for language in (*_NAMED_IN, code):
            names[language_name(code, language).casefold()] = code
    return names
