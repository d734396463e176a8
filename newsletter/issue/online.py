"""Where an issue lives online, and what its public copy holds.

The archive is flat (`archive/2026-12.cy.html`, `archive/index.cy.html`,
`archive/feed.cy.atom`): the same relative links work from `newsletter serve`,
from any static web host and from a folder opened in a browser. The message's
"read online" link and `List-Archive` header are made from the same names, so
they cannot point anywhere the archive does not answer.

`OnlineEdition` is an edition rendered for the public: the issue's own
templates with `archive/footer.html` as the footer (a generic subscribe link,
nobody's unsubscribe link) and every personal field empty. `send` stores it
when the issue starts sending, and the archive shows that copy, so editing the
source afterwards never changes what the archive says was sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ARCHIVE_FOLDER = "archive"
INDEX = "index"
FEED = "feed"


def archive_url(base_url: str) -> str:
    """`List-Archive` (RFC 2369): the index of every sent issue."""
    return f"{base_url}/{ARCHIVE_FOLDER}/"


def subscribe_url(base_url: str) -> str:
    """The sign-up form: the one link a public page offers instead of a personal one."""
    return f"{base_url}/subscribe"


def _named(stem: str, key: str, suffix: str) -> str:
    return f"{stem}.{key}.{suffix}" if key else f"{stem}.{suffix}"


def page_name(slug: str, key: str) -> str:
    """An edition's page: `SLUG.html` (every language) or `SLUG.cy.html` (one)."""
    return _named(slug, key, "html")


def index_name(key: str) -> str:
    """The index in one language (`index.cy.html`) or in every one (`index.html`)."""
    return _named(INDEX, key, "html")


def feed_name(key: str) -> str:
    """The Atom feed of one language (`feed.cy.atom`) or of every edition (`feed.atom`)."""
    return _named(FEED, key, "atom")


def archive_clash(slug: str) -> str | None:
    """Why an issue may not be called `slug`, or None: its archive page would take the
    index's or the feed's name, or another issue's page in one language (`2026-12.cy`
    is the Welsh page of 2026-12), also on file systems that ignore case."""
    name = slug.lower()
    if name in (INDEX, FEED):
        return f"the archive's {name} page has that name"
    _stem, dot, last = name.rpartition(".")
    if dot and re.fullmatch(r"[a-z]{2,3}", last):
        return f"it ends like a language code (.{last}), as one language's page does"
    return None


def online_url(base_url: str, slug: str, key: str) -> str:
    """The "read online" link of an edition's message."""
    return archive_url(base_url) + page_name(slug, key)


@dataclass(frozen=True)
class OnlineEdition:
    """One edition as the archive publishes it: nothing personal in it."""

    key: str  # a language code, or "" for the edition with every language
    languages: tuple[str, ...]
    subject: str
    preheader: str
    html: str  # the whole page, as the message's templates lay it out
    content: str  # the versions' bodies (Markdown rendered), for the feed
