"""Atom feeds (RFC 4287) of the archive: one per language, and one of every edition.

Each entry carries the issue's whole content (`content type="html"`), not only
its title: readers asked for the full text. Links and ids are absolute URLs
under `base_url/archive/`, the address every message's List-Archive names.
"""

from __future__ import annotations

from xml.etree import ElementTree

from newsletter.issue.online import OnlineEdition, archive_url, index_name, page_name
from newsletter.sending.archived import PublishedIssue

ATOM = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
FEED_ENTRIES = 50  # the newest issues a feed carries (the index lists every one)
NEVER = "1970-01-01T00:00:00+00:00"  # the `updated` of a feed with no entry yet
ElementTree.register_namespace("", ATOM)


def atom_feed(
    *,
    base_url: str,
    key: str,
    lang: str,
    title: str,
    feed_url: str,
    issues: list[tuple[PublishedIssue, OnlineEdition]],
) -> bytes:
    """The feed of edition `key` ('' for every language), newest first."""
    feed = ElementTree.Element(f"{{{ATOM}}}feed", {XML_LANG: lang})
    newest = issues[0][0].published_at if issues else NEVER
    _text(feed, "id", feed_url)
    _text(feed, "title", title)
    _text(feed, "updated", newest)
    _link(feed, feed_url, "self", "application/atom+xml")
    _link(feed, archive_url(base_url) + (index_name(key) if key else ""), "alternate", "text/html")
    author = ElementTree.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", title)
    _text(feed, "generator", "newsletter")
    for issue, edition in issues[:FEED_ENTRIES]:
        url = archive_url(base_url) + page_name(issue.slug, edition.key)
        entry = ElementTree.SubElement(feed, f"{{{ATOM}}}entry")
        if len(edition.languages) == 1:
            entry.set(XML_LANG, edition.languages[0])
        _text(entry, "id", url)
        _text(entry, "title", edition.subject)
        _text(entry, "updated", issue.published_at)
        _text(entry, "published", issue.published_at)
        _link(entry, url, "alternate", "text/html")
        if edition.preheader:
            _text(entry, "summary", edition.preheader)
        _text(entry, "content", edition.content).set("type", "html")
    ElementTree.indent(feed)
    document: bytes = ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _text(parent: ElementTree.Element, name: str, text: str) -> ElementTree.Element:
    element = ElementTree.SubElement(parent, f"{{{ATOM}}}{name}")
    element.text = text
    return element


def _link(parent: ElementTree.Element, href: str, rel: str, kind: str) -> None:
    ElementTree.SubElement(parent, f"{{{ATOM}}}link", {"rel": rel, "type": kind, "href": href})
