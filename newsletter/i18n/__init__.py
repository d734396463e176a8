"""Languages and translations: the reader's language, and interface strings in it.

`translator(lang)` gives gettext translations for Python code; `install(env)`
makes `{% trans %}` and `_()` in templates follow the template's `lang`.
"""

from newsletter.i18n.catalogs import N_, available_languages, install, translator
from newsletter.i18n.languages import (
    ENGLISH,
    SOURCE_LANGUAGE,
    WELSH,
    autonym,
    language_name,
    parse_language,
)

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
    "translator",
]
