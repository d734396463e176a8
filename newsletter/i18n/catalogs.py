"""Interface strings in the reader's language, from the gettext catalogs in the package.

The catalogs are the `.po` files under `newsletter/i18n/locale/` (source
strings are English). They are read at run time with Babel and compiled in
memory once per process, so a fresh clone, an editable install and a wheel
all work with no build step and no compiled `.mo` file in git.

One way to get a translator, for mail and web alike: `translator(lang)` in
Python, and in templates `{% trans %}` / `_()`, which follow the template's
`lang` variable (see `install`).
"""

from __future__ import annotations

import gettext
from functools import lru_cache
from importlib import resources
from io import BytesIO
from pathlib import Path
from typing import Any

import jinja2

from newsletter.i18n.languages import SOURCE_LANGUAGE

DOMAIN = "newsletter"


def N_(message: str) -> str:  # noqa: N802 - the gettext convention, known to the extractor
    """Marks a string for the catalogs where it is defined; translated where it is used."""
    return message


def locale_dir() -> Path:
    """Where the catalogs live: newsletter/i18n/locale/LANG/LC_MESSAGES/newsletter.po."""
    return Path(str(resources.files("newsletter.i18n") / "locale"))


def catalog_path(language: str) -> Path:
    return locale_dir() / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=16)
def translator(language: str | None) -> gettext.NullTranslations:
    """The translations for `language`; the English source strings when there is no catalog."""
    if not language or language == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    path = catalog_path(language)
    if not path.is_file():
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo  # here: an English issue never needs them
    from babel.messages.pofile import read_po

    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def available_languages() -> tuple[str, ...]:
    """The source language and every language with a catalog in the package."""
    found = sorted(
        path.parent.parent.name for path in locale_dir().glob(f"*/LC_MESSAGES/{DOMAIN}.po")
    )
    return (SOURCE_LANGUAGE, *found)


def install(env: jinja2.Environment) -> None:
    """Jinja's i18n extension, translating into the language named by the `lang` variable.

    The environment is shared by all languages: a template rendered with
    `lang="cy"` speaks Welsh, with `lang="en"` English. To show two languages
    on one page, render the per-language part once for each (`lang` set) and
    put the results together.
    """
    env.add_extension("jinja2.ext.i18n")
    # the extension added just above gives the environment this method; jinja2's types do not
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _gettext, _ngettext, newstyle=True, pgettext=_pgettext, npgettext=_npgettext
    )


def _language(context: Any) -> str | None:
    return context.get("lang")


@jinja2.pass_context
def _gettext(context: Any, message: str) -> str:
    return translator(_language(context)).gettext(message)


@jinja2.pass_context
def _ngettext(context: Any, singular: str, plural: str, count: int) -> str:
    return translator(_language(context)).ngettext(singular, plural, count)


@jinja2.pass_context
def _pgettext(context: Any, message_context: str, message: str) -> str:
    return translator(_language(context)).pgettext(message_context, message)


@jinja2.pass_context
def _npgettext(context: Any, message_context: str, singular: str, plural: str, count: int) -> str:
    return translator(_language(context)).npgettext(message_context, singular, plural, count)
