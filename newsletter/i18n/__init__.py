"""Languages and translations: the reader's language, and interface strings in it.

`translator(lang)` gives gettext translations for Python code; `install(env)`
makes `{% trans %}` and `_()` in templates follow the template's `lang`.

The catalogs (Jinja and Babel) load on first use, not on import: commands such
as `status` read language codes from the config and never translate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from newsletter.i18n.languages import (
    ENGLISH,
    SOURCE_LANGUAGE,
    WELSH,
    autonym,
    language_name,
    parse_language,
    text_direction,
)

if TYPE_CHECKING:
    from newsletter.i18n.catalogs import N_, available_languages, install, translator

_FROM_CATALOGS = ("N_", "available_languages", "install", "translator")

__all__ = [
    "N_",
    "ENGLISH",
    "SOURCE_LANGUAGE",
    "WELSH",
    "autonym",
    "available_languages",
    "install",
    "language_name",
    "parse_language",
    "text_direction",
    "translator",
]


def __getattr__(name: str) -> Any:
    if name in _FROM_CATALOGS:
        from newsletter.i18n import catalogs

        return getattr(catalogs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
