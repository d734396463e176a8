"""Pages in the reader's language: each language's body rendered with `lang`, then the frame.

A page template (`web/unsubscribe.html`, ...) is the body of the page in ONE
language: it is rendered once per language shown, with `lang` set, so its
`{% trans %}` and `_()` speak that language, and it may set `title`. The frame
(`web/page.html`) puts the bodies together, first language first, each in an
element carrying its `lang`, with links to the other languages (`?lang=cy`: a
GET that only changes what is shown). A reader whose language is unknown gets
every language of the project.

This is the one way web pages get their language; the subscribe pages build
on it (`PageRenderer.render`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import jinja2
from markupsafe import Markup

from newsletter.config import Config
from newsletter.i18n import autonym, language_name, translator

FRAME = "web/page.html"
LANGUAGE_PARAMETER = "lang"


@dataclass(frozen=True)
class Shown:
    """The languages a page is shown in, and the other choices its switch offers."""

    languages: tuple[str, ...]
    switches: tuple[str, ...]  # each a language code the reader can switch to


def shown_languages(config: Config, reader_language: str, query_string: str = "") -> Shown:
    """?lang= (display only), else the reader's own choice, else every language."""
    requested = parse_qs(query_string, max_num_fields=10).get(LANGUAGE_PARAMETER, [""])[0]
    if requested in config.languages:
        languages: tuple[str, ...] = (requested,)
    elif reader_language in config.languages:
        languages = (reader_language,)
    else:
        languages = config.languages
    switches = (
        ()
        if not config.bilingual
        else tuple(code for code in config.languages if (code,) != languages)
    )
    return Shown(languages, switches)


class PageRenderer:
    """Renders a page's body in each language shown, then the frame around them."""

    def __init__(self, config: Config, env: jinja2.Environment) -> None:
        self.config = config
        self.env = env

    def context(self, lang: str, **values: Any) -> dict[str, Any]:
        """What every page body sees, in language `lang`."""
        config = self.config
        return {
            "lang": lang,
            "newsletter_name": config.text("name", lang),
            "postal_address": config.text("postal_address", lang),
            "contact_address": config.reply_to or config.from_address,
            "just_now": False,
            **values,
        }

    def render(self, template: str, shown: Shown, **values: Any) -> str:
        """The whole page: `template` once per language in `shown`, inside the frame."""
        versions = [self._version(template, lang, values) for lang in shown.languages]
        first = versions[0]
        if _is_whole_page(first["body"]):  # a page copied by an older `init`: it has its own frame
            return str(first["body"])
        frame = {
            **first["context"],
            "title": " / ".join(dict.fromkeys(version["title"] for version in versions)),
            "versions": versions,
            "mastheads": _distinct(versions),
            "switches": [_switch(code) for code in shown.switches],
        }
        return self.env.get_template(FRAME).render(frame)

    def _version(self, template: str, lang: str, values: Mapping[str, Any]) -> dict[str, Any]:
        context = self.context(lang, **values)
        module = self.env.get_template(template).make_module(context)
        return {
            "lang": lang,
            "context": context,
            "title": str(getattr(module, "title", "")),
            "body": Markup(str(module)),
            "newsletter_name": context["newsletter_name"],
            "postal_address": context["postal_address"],
        }


def language_choices(config: Config, lang: str, chosen: str) -> list[dict[str, Any]]:
    """The preferences page's options, named in `lang`: each language, then both (''),
    so the reader's current choice is checked. Empty in a one-language project."""
    if not config.bilingual:
        return []
    every = translator(lang).gettext("Both languages, in one message")
    options = [(code, language_name(code, lang)) for code in config.languages] + [("", every)]
    current = chosen if chosen in config.languages else ""
    return [{"code": code, "label": label, "chosen": code == current} for code, label in options]


def _is_whole_page(body: str) -> bool:
    return body.lstrip()[:15].lower().startswith(("<!doctype", "<html"))


def _switch(code: str) -> dict[str, str]:
    return {"lang": code, "href": f"?{LANGUAGE_PARAMETER}={code}", "label": autonym(code)}


def _distinct(versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One masthead per different (name, address), in order."""
    seen: set[tuple[str, str]] = set()
    found = []
    for version in versions:
        key = (version["newsletter_name"], version["postal_address"])
        if key not in seen:
            seen.add(key)
            found.append(version)
    return found
