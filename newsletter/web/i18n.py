"""Which languages a page or email speaks, and its strings in them.

The reader's language when known; otherwise every language of the project,
first language first. Interface strings are gettext messages (`_()` and
`{% trans %}` in templates).
"""

from __future__ import annotations

import gettext
from collections.abc import Callable

import jinja2

from newsletter.config import Config

DEFAULT_LANGUAGES = ("en",)
LANGUAGE_NAMES = {"cy": "Cymraeg", "en": "English"}


def project_languages(config: Config) -> tuple[str, ...]:
    return tuple(getattr(config, "languages", DEFAULT_LANGUAGES))


def shown_languages(config: Config, language: str | None) -> tuple[str, ...]:
    """(language,) when the reader chose one of the project's, else all of them."""
    languages = project_languages(config)
    return (language,) if language in languages else languages


def gettext_for(language: str) -> Callable[[str], str]:
    return gettext.NullTranslations().gettext


def install_i18n(env: jinja2.Environment) -> None:
    """`_()` and `{% trans %}` in templates."""
    env.add_extension("jinja2.ext.i18n")
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]


def language_label(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)
