"""The text part, as a text-only client (or a filter comparing the parts) reads it.

It names every link and image address the HTML part has (rspamd's
URI_COUNT_ODD compares them; a reader without HTML needs them), and its lines
fit an 80-column terminal (at most 78 characters, RFC 5322), a URL excepted: a
URL is never broken. Checked on every edition of the example issue and every
notice, as built for sending.
"""

from __future__ import annotations

import re
from pathlib import Path

import lxml.html
import pytest

from support.clients import EDITIONS, notices, parse

URL = re.compile(r"https?://[^\s<>()\[\]]+")
MAX_LINE = 78


def messages(example_preview: Path) -> dict[str, bytes]:
    folder = example_preview.parent
    found = {
        f"issue-{edition}": (
            folder / file.replace("index", "message").replace(".html", ".eml")
        ).read_bytes()
        for edition, file in EDITIONS.items()
    }
    return {**found, **notices(folder.parents[1])}


def parts(data: bytes) -> tuple[str, str]:
    message = parse(data)
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def html_addresses(html: str) -> tuple[set[str], set[str]]:
    """(web addresses of links and images, mailto addresses) of an HTML part;
    links to a place in the message itself (#en) are not addresses."""
    document = lxml.html.document_fromstring(html)
    targets = document.xpath("//a/@href") + document.xpath("//img/@src")
    web = {target for target in targets if target.startswith(("https://", "http://"))}
    mail = {target.removeprefix("mailto:") for target in targets if target.startswith("mailto:")}
    assert not [t for t in targets if not t.startswith(("https:", "http:", "mailto:", "#"))]
    return web, mail


def test_the_text_part_names_every_address_of_the_html_part(example_preview: Path) -> None:
    for name, data in messages(example_preview).items():
        text, html = parts(data)
        web, mail = html_addresses(html)
        assert web, name
        assert set(URL.findall(text)) == web, name
        assert all(address in text for address in mail), name
    photo = "https://copro.example.org/img/autumn-gathering.jpg"
    assert photo in parts(messages(example_preview)["issue-cy"])[0]  # images too, not alt alone


@pytest.mark.parametrize("kind", ["issue", "confirm", "welcome", "probe"])
def test_text_lines_fit_78_characters_except_urls(example_preview: Path, kind: str) -> None:
    for name, data in messages(example_preview).items():
        if not name.startswith(kind):
            continue
        text, _html = parts(data)
        long = [line for line in text.splitlines() if len(URL.sub("", line)) > MAX_LINE]
        assert not long, f"{name}: {long}"
        if kind in ("issue", "confirm", "probe"):  # wrapped at 72, not chopped short
            assert any(len(line) > 60 for line in text.splitlines()), name


def test_the_bilingual_text_part_opens_in_both_languages(example_preview: Path) -> None:
    text, _html = parts(messages(example_preview)["issue-both"])
    assert text.splitlines()[0] == "[Saesneg isod / English below]"
