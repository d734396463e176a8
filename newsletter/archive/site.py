"""Every file of the archive, by name: issue pages, indexes, feeds.

The names are flat (see `newsletter.issue.online`): `index.html` (every
language), `index.cy.html`, `SLUG.html`, `SLUG.cy.html`, `feed.atom`,
`feed.cy.atom`. Pages link to each other by relative names, so the same bytes
work served under /archive/ and written to a folder by `archive build`.

An issue's page is the copy kept when it was sent, with what a public page
needs added to its head: a Content-Security-Policy, the canonical address,
Open Graph title and description for link previews, and its feed.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jinja2
from markupsafe import Markup

from newsletter.archive.feeds import atom_feed
from newsletter.config import Config
from newsletter.db.session import DatabaseSession
from newsletter.errors import TemplateError
from newsletter.i18n import autonym, translator
from newsletter.i18n.dates import day_label
from newsletter.issue.editions import EVERY_LANGUAGE
from newsletter.issue.environment import Loaded, make_environment
from newsletter.issue.online import (
    OnlineEdition,
    archive_url,
    feed_name,
    index_name,
    page_name,
    subscribe_url,
)
from newsletter.issue.source import SLUG_PATTERN
from newsletter.issue.template_rules import describe_error
from newsletter.sending.archived import PublishedIssue, published_issues

HTML = "text/html; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
# Inline styles and https images (an issue's pictures) only: no script, no form, no frame.
POLICY = "default-src 'none'; img-src https: data:; style-src 'unsafe-inline'; base-uri 'none'"
HEADER_POLICY = f"{POLICY}; form-action 'none'; frame-ancestors 'none'"  # not allowed in <meta>
DESCRIPTION_LENGTH = 200
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class ArchiveFile:
    body: bytes
    content_type: str


class Archive:
    """The archive of one project; `file(session, name)` for serve, `files(session)` for
    a static build (`session`: the database connection of the calling thread)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.loaded: Loaded = {}
        self.env = make_environment(config.templates_dir, html=True, loaded=self.loaded)
        self.keys = (EVERY_LANGUAGE, *config.languages) if config.bilingual else (EVERY_LANGUAGE,)

    def check(self) -> None:
        """Render each index once with no issue, so a broken template override fails at start."""
        for key in self.keys:
            try:
                self._index(key, [])
            except jinja2.TemplateError as error:
                where, line, message = describe_error(error, self.loaded, "archive/index.html")
                raise TemplateError(
                    f"{where}:{line}: {message}",
                    hint="fix the template in your project's templates/, or delete it to use the default",
                ) from None

    def files(self, session: DatabaseSession) -> dict[str, ArchiveFile]:
        """Every file, by name: what `archive build` writes."""
        issues = published_issues(session, pages=True, bodies=True)
        found = {index_name(key): self._index(key, issues) for key in self.keys}
        found.update((feed_name(key), self._feed(key, issues)) for key in self.keys)
        for issue in issues:
            for edition in issue.editions.values():
                found[page_name(issue.slug, edition.key)] = self._page(issue, edition)
        return found

    def file(self, session: DatabaseSession, name: str) -> ArchiveFile | None:
        """One file by name (None: no such file); reads only what that file needs."""
        for key in self.keys:
            if name == index_name(key):
                return self._index(key, published_issues(session))
            if name == feed_name(key):
                return self._feed(key, published_issues(session, bodies=True))
        slug, key = self._page_of(name)
        if slug is None:
            return None
        issues = published_issues(session, slug, pages=True)
        edition = issues[0].editions.get(key) if issues else None
        return self._page(issues[0], edition) if edition else None

    def _page_of(self, name: str) -> tuple[str | None, str]:
        """(slug, edition key) of an issue page's name; (None, '') if it is not one."""
        stem = name.removesuffix(".html")
        if stem == name:
            return None, ""
        slug, _dot, last = stem.rpartition(".")
        key = last if slug and last in self.keys else EVERY_LANGUAGE
        slug = slug if key else stem
        return (slug if SLUG_PATTERN.fullmatch(slug) else None), key

    # --- the files ----------------------------------------------------------------

    def _page(self, issue: PublishedIssue, edition: OnlineEdition) -> ArchiveFile:
        url = self._url(page_name(issue.slug, edition.key))
        others = [e for e in issue.editions.values() if e.key != edition.key and e.key]
        head = [
            *_policy_and_preview(
                edition.subject, _description(edition), url, self._name(edition.key), "article"
            ),
            _tag("link", rel="canonical", href=url),
            *(
                _tag(
                    "link",
                    rel="alternate",
                    hreflang=other.key,
                    href=page_name(issue.slug, other.key),
                )
                for other in others
            ),
            self._feed_link(edition.key if edition.key in self.keys else EVERY_LANGUAGE),
        ]
        return ArchiveFile(_with_head(edition.html, head).encode("utf-8"), HTML)

    def _index(self, key: str, issues: list[PublishedIssue]) -> ArchiveFile:
        languages = (key,) if key else self.config.languages
        titles = [(lang, translator(lang).gettext("Archive")) for lang in languages]
        title = " / ".join(dict.fromkeys(text for _lang, text in titles))
        name = self.config.joined_text("name") if not key else self.config.text("name", key)
        parts = [self._list(lang, issues, heading=len(languages) > 1) for lang in languages]
        context = {
            "lang": languages[0],
            "issue": {"subject": f"{title} · {name}", "date_label": ""},
            "preheader": "",
            "headings": [{"lang": lang, "text": text} for lang, text in titles],
            "parts": parts,
            "switches": self._switches(key),
            "mastheads": [self._masthead(lang) for lang in _distinct_names(self.config, languages)],
            "versions": [{"lang": lang, "footer": self._footer(lang)} for lang in languages],
        }
        page = self.env.get_template("archive/index.html").render(context)
        description = " / ".join(
            translator(lang).gettext("Every issue of %(name)s")
            % {"name": self.config.text("name", lang)}
            for lang in languages
        )
        feeds = [self._feed_link(feed) for feed in (key, *languages) if feed in self.keys]
        head = [
            *_policy_and_preview(title, description, self._index_url(key), name, "website"),
            *dict.fromkeys(feeds),
        ]
        return ArchiveFile(_with_head(page, head).encode("utf-8"), HTML)

    def _feed(self, key: str, issues: list[PublishedIssue]) -> ArchiveFile:
        chosen = [(issue, issue.editions[key]) for issue in issues if key in issue.editions]
        lang = key or self.config.languages[0]
        name = self.config.joined_text("name") if not key else self.config.text("name", key)
        body = atom_feed(
            base_url=self.config.base_url,
            key=key,
            lang=lang,
            title=name,
            feed_url=self._url(feed_name(key)),
            issues=chosen,
        )
        return ArchiveFile(body, ATOM)

    # --- pieces -------------------------------------------------------------------

    def _list(self, lang: str, issues: list[PublishedIssue], *, heading: bool) -> dict[str, Any]:
        key = lang if self.config.bilingual else EVERY_LANGUAGE
        items = [
            {
                "href": page_name(issue.slug, key),
                "subject": issue.editions[key].subject,
                "sent": _day(issue.published_at, lang),
            }
            for issue in issues
            if key in issue.editions
        ]
        context = {
            "lang": lang,
            "issues": items,
            "feed": feed_name(key),
            "heading": autonym(lang) if heading else "",
        }
        body = self.env.get_template("archive/list.html").render(context)
        return {"lang": lang, "body": Markup(body)}

    def _footer(self, lang: str) -> Markup:
        context = {
            "lang": lang,
            "newsletter": {
                "name": self.config.text("name", lang),
                "postal_address": self.config.text("postal_address", lang),
                "footer": self.config.text("footer", lang),
            },
            "subscribe_url": subscribe_url(self.config.base_url),
            "archive_url": index_name(lang if self.config.bilingual else EVERY_LANGUAGE),
        }
        return Markup(self.env.get_template("archive/footer.html").render(context))

    def _masthead(self, lang: str) -> dict[str, Any]:
        return {
            "lang": lang,
            "newsletter": {"name": self.config.text("name", lang)},
            "issue": {"date_label": ""},
        }

    def _switches(self, key: str) -> list[dict[str, str]]:
        every = " / ".join(autonym(lang) for lang in self.config.languages)
        return [
            {"href": index_name(other), "lang": other, "label": autonym(other) if other else every}
            for other in self.keys
            if other != key
        ]

    def _feed_link(self, key: str) -> str:
        title = self.config.joined_text("name") if not key else self.config.text("name", key)
        label = f"{title} (Atom{', ' + autonym(key) if key else ''})"
        return _tag(
            "link", rel="alternate", type="application/atom+xml", href=feed_name(key), title=label
        )

    def _name(self, lang: str) -> str:
        return self.config.text("name", lang) if lang else self.config.joined_text("name")

    def _index_url(self, key: str) -> str:
        """The index's public address: /archive/ itself for the index of every language."""
        return self._url(index_name(key) if key else "")

    def _url(self, name: str) -> str:
        return archive_url(self.config.base_url) + name


def _policy_and_preview(title: str, description: str, url: str, site: str, kind: str) -> list[str]:
    return [
        _tag("meta", **{"http-equiv": "Content-Security-Policy", "content": POLICY}),
        _tag("meta", name="description", content=description),
        _tag("meta", property="og:type", content=kind),
        _tag("meta", property="og:title", content=title),
        _tag("meta", property="og:description", content=description),
        _tag("meta", property="og:url", content=url),
        _tag("meta", property="og:site_name", content=site),
    ]


def _tag(element: str, /, **attributes: str) -> str:
    pairs = "".join(
        f' {key}="{html.escape(value, quote=True)}"' for key, value in attributes.items()
    )
    return f"<{element}{pairs}>"


def _with_head(page: str, extras: list[str]) -> str:
    """The page with `extras` at the end of its <head> (at the start if it has none)."""
    block = "\n".join(extras) + "\n"
    match = _HEAD_END.search(page)
    if match is None:
        return block + page
    return page[: match.start()] + block + page[match.start() :]


def _description(edition: OnlineEdition) -> str:
    """The preheader, else the first words of the issue: what a link preview shows."""
    if edition.preheader:
        return edition.preheader
    text = _SPACE.sub(" ", html.unescape(_TAG.sub(" ", edition.content))).strip()
    if len(text) <= DESCRIPTION_LENGTH:
        return text
    return text[:DESCRIPTION_LENGTH].rsplit(" ", 1)[0] + "…"


def _day(published_at: str, lang: str) -> str:
    try:
        return day_label(datetime.fromisoformat(published_at).date(), lang)
    except ValueError:
        return ""


def _distinct_names(config: Config, languages: tuple[str, ...]) -> list[str]:
    """One masthead per different name, in order."""
    seen: dict[str, str] = {}
    for lang in languages:
        seen.setdefault(config.text("name", lang), lang)
    return list(seen.values())
