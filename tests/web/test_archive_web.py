"""The public archive, end to end: a real send (aiosmtpd), then a real `newsletter serve`.

Every recipient's message names the archive (List-Archive) and its own page
("read online", in both parts); both answer from `serve` with the issue and
nothing of anyone's. Only sent issues are published, the feeds are Atom with
the full text, and `archive build` writes the very bytes `serve` answers.
"""

from __future__ import annotations

import email
import os
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path
from xml.etree import ElementTree

import feedparser
import pytest
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.project import init_project, open_project

from support.bilingual import BODIES, SUBJECTS, add_readers, make_bilingual, write_version
from support.browser import SCREENSHOTS_ENV, needs_chromium
from support.html import validate
from support.smtp import Sink, configure_smtp, start_server
from support.web import ServeProcess, start_serve

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

BASE = "https://news.example.org"
SENT, TESTED, DRAFT = "2026-12", "2026-11", "2027-01"
READ_ONLINE = {"cy": "Darllen ar-lein", "en": "Read online"}
ATOM = "{http://www.w3.org/2005/Atom}"


@dataclass
class Published:
    project: Path
    serve: ServeProcess
    messages: dict[str, EmailMessage]  # by recipient
    tokens: list[str]

    def get(self, url: str) -> tuple[int, dict[str, str], bytes]:
        """GET a public URL (under base_url) from the served project."""
        import urllib.request

        assert url.startswith(BASE + "/"), url
        request = urllib.request.Request(self.serve.url + url.removeprefix(BASE))
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()


def cli(project: Path, *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env={"NEWSLETTER_PROJECT": str(project)})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Published]:
    """A bilingual project: 2026-12 sent to three readers (cy, en, both) over SMTP,
    2026-11 only test-sent, 2027-01 a draft; then `newsletter serve` on loopback."""
    project = tmp_path_factory.mktemp("archive") / "project"
    init_project(project, name="Co-pro Newsletter")
    make_bilingual(project)
    for lang in ("cy", "en"):
        write_version(project, lang, SENT)
        write_version(project, lang, TESTED, subject=f"Test-sent only {lang}")
        write_version(project, lang, DRAFT, subject=f"Draft only {lang}")
    with open_project(project) as (_config, store):
        add_readers(store)
        tokens = [row["token"] for row in store.query("SELECT token FROM subscribers")]
    controller, server = start_server(Sink())
    try:
        configure_smtp(project, server, connections=1, rate=0)
        cli(project, "send", SENT, "--yes")
        cli(project, "send", TESTED, "--test-to", "me@example.org", "--yes")
    finally:
        controller.stop()
    messages = {
        m.rcpt_to: email.message_from_bytes(m.data, policy=policy.default)
        for m in server.handler.messages
        if m.rcpt_to != "me@example.org"  # the test message
    }
    serve = start_serve(project)
    try:
        yield Published(project, serve, messages, tokens)  # type: ignore[arg-type]
    finally:
        serve.stop()


def read_online_links(message: EmailMessage) -> list[str]:
    """The "read online" links of both parts, in whichever language they are written."""
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    labels = "|".join(READ_ONLINE.values())
    found = re.findall(rf'<a href="([^"]+)"[^>]*>(?:{labels})</a>', html)
    found += re.findall(rf"(?:{labels}): (\S+)", text)
    return found


def assert_nothing_personal(published: Published, page: str) -> None:
    for token in published.tokens:
        assert token not in page
    for address in [*published.messages, "me@example.org"]:
        assert address not in page
    assert "/u/" not in page and 'class="unsubscribe"' not in page
    assert "Unsubscribe" not in page and "Dad-danysgrifio" not in page


def test_every_message_links_to_its_own_page_with_nothing_personal(published: Published):
    expected = {  # the reader's language, or the bilingual page
        "cymraeg@example.org": ("2026-12.cy.html", ["cy"]),
        "english@example.org": ("2026-12.en.html", ["en"]),
        "neither@example.org": ("2026-12.html", ["cy", "en"]),
    }
    assert sorted(published.messages) == sorted(expected)
    for recipient, message in published.messages.items():
        page_name, languages = expected[recipient]
        assert message["List-Archive"] == f"<{BASE}/archive/>"
        status, _headers, index = published.get(BASE + "/archive/")
        assert status == 200 and SUBJECTS["en"] in index.decode("utf-8")
        links = read_online_links(message)
        assert len(links) == 2 * len(languages), (recipient, links)  # each footer, both parts
        assert set(links) == {f"{BASE}/archive/{page_name}"}
        status, headers, body = published.get(links[0])
        page = body.decode("utf-8")
        assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert f'<html lang="{languages[0]}" dir="ltr">' in page
        for lang in languages:
            assert SUBJECTS[lang].replace("'", "&#39;") in page
            first_line = BODIES[lang].splitlines()[0]
            assert first_line in page
        assert f'href="{BASE}/subscribe"' in page
        assert_nothing_personal(published, page)


def test_the_index_lists_sent_issues_only(published: Published):
    for name in ("", "index.html", "index.cy.html", "index.en.html"):
        status, _headers, body = published.get(f"{BASE}/archive/{name}")
        page = body.decode("utf-8")
        assert status == 200
        assert "2026-12." in page
        assert "Test-sent only" not in page and "Draft only" not in page
        assert TESTED not in page and DRAFT not in page
        assert_nothing_personal(published, page)
    for slug in (TESTED, DRAFT):
        for name in (f"{slug}.html", f"{slug}.cy.html", f"{slug}.en.html"):
            assert published.get(f"{BASE}/archive/{name}")[0] == 404


def test_the_index_links_its_feeds_and_its_languages(published: Published):
    page = published.get(f"{BASE}/archive/index.cy.html")[2].decode("utf-8")
    assert '<link rel="alternate" type="application/atom+xml" href="feed.cy.atom"' in page
    assert '<a href="2026-12.cy.html">' in page and "Archif" in page
    assert 'href="index.en.html" lang="en" dir="ltr" hreflang="en">English</a>' in page
    assert page.startswith('<!DOCTYPE html>\n<html lang="cy" dir="ltr">')
    assert re.search(r'<meta property="og:title" content="[^"]+">', page)
    both = published.get(f"{BASE}/archive/")[2].decode("utf-8")
    assert both.count("<h1>") == 1 and both.index("<h1>") < both.index("<h2>")
    for feed in ("feed.atom", "feed.cy.atom", "feed.en.atom"):
        assert f'type="application/atom+xml" href="{feed}"' in both


@pytest.mark.parametrize("name", ["feed.atom", "feed.cy.atom", "feed.en.atom"])
def test_each_feed_is_atom_with_the_full_text(published: Published, name: str):
    status, headers, body = published.get(f"{BASE}/archive/{name}")
    assert status == 200 and headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10" and parsed.feed.id == f"{BASE}/archive/{name}"
    assert len(parsed.entries) == 1  # the test-sent issue and the draft are not in it
    for entry in parsed.entries:
        for field in ("id", "title", "updated", "link", "content"):
            assert entry.get(field), field
        assert entry.link.startswith(f"{BASE}/archive/2026-12")
        assert published.get(entry.link)[0] == 200
        content = entry.content[0]
        assert content.type == "text/html" and "<h2>" in content.value
        assert_nothing_personal(published, content.value)
    # RFC 4287's required elements, read straight from the XML
    feed = ElementTree.fromstring(body)
    for element in (feed, *feed.findall(f"{ATOM}entry")):
        assert len(element.findall(f"{ATOM}id")) == 1
        assert len(element.findall(f"{ATOM}title")) == 1
        assert len(element.findall(f"{ATOM}updated")) == 1
    assert feed.find(f"{ATOM}author/{ATOM}name") is not None


def test_archive_build_writes_the_bytes_serve_answers(published: Published, tmp_path: Path):
    folder = tmp_path / "site"
    output = cli(published.project, "archive", "build", str(folder))
    assert "wrote 9 files (1 sent issues)" in " ".join(output.split())
    names = sorted(path.name for path in folder.iterdir())
    assert names == sorted(
        ["index.html", "index.cy.html", "index.en.html", "feed.atom", "feed.cy.atom",
         "feed.en.atom", "2026-12.html", "2026-12.cy.html", "2026-12.en.html"]
    )  # fmt: skip
    for name in names:
        status, _headers, body = published.get(f"{BASE}/archive/{name}")
        assert status == 200 and body == (folder / name).read_bytes(), name
        if name.endswith(".html"):
            for link in re.findall(r'<a href="([^"#:]+)"', body.decode("utf-8")):
                assert (folder / urllib.parse.unquote(link)).is_file(), (name, link)


def test_an_issue_edited_after_sending_stays_as_sent(published: Published):
    path = published.project / "issues" / f"{SENT}.en.md"
    original = path.read_text(encoding="utf-8")
    path.write_text(original.replace("Welcome to the December issue.", "EDITED LATER."), "utf-8")
    try:
        page = published.get(f"{BASE}/archive/2026-12.en.html")[2].decode("utf-8")
        feed = published.get(f"{BASE}/archive/feed.en.atom")[2].decode("utf-8")
    finally:
        path.write_text(original, encoding="utf-8")
    assert "Welcome to the December issue." in page and "EDITED LATER" not in page
    assert "EDITED LATER" not in feed


def test_the_archive_answers_get_and_head_only(published: Published):
    import http.client

    host, port = urllib.parse.urlsplit(published.serve.url).netloc.split(":")
    for method, path, expected in [
        ("GET", "/archive", 301),
        ("HEAD", "/archive/", 200),
        ("POST", "/archive/", 405),
        ("GET", "/archive/nothing.html", 404),
        ("GET", "/archive/../newsletter.toml", 404),
        ("GET", "/archive/2026-12.fr.html", 404),
    ]:
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            connection.request(method, path)
            response = connection.getresponse()
            response.read()
        finally:
            connection.close()
        assert response.status == expected, (method, path)
        if expected == 301:
            assert response.getheader("Location") == "archive/"


# --- the static archive in a browser, and html-validate --------------------------------


@pytest.fixture(scope="module")
def site(published: Published, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("site") / "archive"
    cli(published.project, "archive", "build", str(folder))
    return folder


@needs_chromium
def test_chromium_opens_the_static_index_and_follows_its_links(browser, site: Path):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto((site / "index.html").as_uri())
        assert page.locator("h1").inner_text() == "Archif / Archive"
        page.get_by_role("link", name=SUBJECTS["cy"]).click()
        page.wait_for_load_state()
        assert page.url.endswith("/archive/2026-12.cy.html")
        assert page.locator("h1").inner_text() == SUBJECTS["cy"]
        page.get_by_role("link", name="Pob rhifyn").click()
        page.wait_for_load_state()
        assert page.url.endswith("/archive/index.cy.html")
        page.get_by_role("link", name="English", exact=True).click()
        page.wait_for_load_state()
        assert page.url.endswith("/archive/index.en.html")
        assert page.locator("h1").inner_text() == "Archive"
    finally:
        context.close()


@needs_chromium
@pytest.mark.parametrize(
    "name", ["2026-12.cy.html", "2026-12.en.html", "2026-12.html", "index.html", "index.cy.html"]
)
def test_pages_fit_a_phone_without_sideways_scrolling(
    browser, site: Path, tmp_path: Path, name: str
):
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    try:
        page.goto((site / name).as_uri())
        width = page.evaluate("document.documentElement.scrollWidth")
        shots = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
        page.screenshot(path=str(shots / f"archive-{name}.png"), full_page=True)
    finally:
        context.close()
    assert width <= 375, (name, width)


def test_every_page_passes_html_validate(site: Path, html_validate: Path):
    pages = sorted(site.glob("*.html"))
    assert len(pages) == 6
    for page in pages:
        code, rules, report = validate(html_validate, page)
        assert (code, rules) == (0, set()), f"{page.name}:\n{report}"
