"""The web pages in the reader's language: Welsh, English, or both when unknown."""

from __future__ import annotations

import re
from pathlib import Path

import lxml.html
import pytest

from newsletter.project import open_project

from support.bilingual import add_readers, make_bilingual
from support.web import Server, subscriber_state


@pytest.fixture
def tokens(project: Path) -> dict[str, str]:
    """A Welsh-first project with a reader of each kind; their tokens by language chosen."""
    make_bilingual(project)
    with open_project(project) as (_config, store):
        ids = add_readers(store)
        return {
            store.get_by_id(i).language or "both": store.get_by_id(i).token for i in ids.values()
        }


def page(reply, status: int = 200) -> lxml.html.HtmlElement:  # noqa: ANN001
    assert reply.status == status, reply.status
    return lxml.html.document_fromstring(reply.body)


def sections(document) -> list[str]:  # noqa: ANN001
    return document.xpath("//main/section/@lang")


def test_a_welsh_reader_sees_welsh(tokens, server: Server) -> None:
    document = page(server.request("GET", f"/u/{tokens['cy']}"))
    assert document.get("lang") == "cy" and sections(document) == ["cy"]
    assert document.findtext(".//title") == "Dad-danysgrifio · Cylchlythyr Cyd-gynhyrchu"
    assert document.findtext(".//h1") == "Dad-danysgrifio o restr bostio Cylchlythyr Cyd-gynhyrchu?"
    assert [b.text for b in document.iter("button")] == ["Dad-danysgrifio", "Cadw fy newis"]
    labels = [" ".join(label.text_content().split()) for label in document.iter("label")]
    assert labels == ["Cymraeg", "Saesneg", "Y ddwy iaith, mewn un neges"]
    assert document.xpath("//input[@name='language'][@checked]/@value") == ["cy"]
    assert document.xpath("//nav[@class='languages']/a/@href") == ["?lang=en"]
    assert document.xpath("//nav[@class='languages']/a/text()") == ["English"]


def test_an_english_reader_sees_english(tokens, server: Server) -> None:
    document = page(server.request("GET", f"/u/{tokens['en']}"))
    assert document.get("lang") == "en" and sections(document) == ["en"]
    assert document.findtext(".//h1") == "Unsubscribe from Co-pro Newsletter?"
    assert document.xpath("//nav[@class='languages']/a/text()") == ["Cymraeg"]


def test_a_reader_without_a_choice_sees_both_welsh_first(tokens, server: Server) -> None:
    document = page(server.request("GET", f"/u/{tokens['both']}"))
    assert document.get("lang") == "cy" and sections(document) == ["cy", "en"]
    assert (
        document.findtext(".//title") == "Dad-danysgrifio / Unsubscribe · Cylchlythyr Cyd-gynhyrchu"
    )
    assert [h.text for h in document.iter("h1")] == [
        "Dad-danysgrifio o restr bostio Cylchlythyr Cyd-gynhyrchu?",
        "Unsubscribe from Co-pro Newsletter?",
    ]
    assert document.xpath("//nav[@class='languages']/a/@href") == ["?lang=cy", "?lang=en"]


def test_switching_language_is_a_get_that_changes_only_the_display(tokens, server, project):
    before = subscriber_state(project)
    document = page(server.request("GET", f"/u/{tokens['cy']}?lang=en"))
    assert sections(document) == ["en"] and document.findtext(".//h1").startswith("Unsubscribe")
    assert page(server.request("GET", f"/u/{tokens['cy']}?lang=xx")).get("lang") == "cy"
    assert subscriber_state(project) == before


def test_a_reader_chooses_their_language_with_a_post(tokens, server, project) -> None:
    reply = server.post(f"/u/{tokens['both']}", b"action=language&language=en")
    document = page(reply)
    assert reply.status == 200 and sections(document) == ["en"]
    assert "Saved. Your choice applies from the next issue." in reply.text
    with open_project(project) as (_config, store):
        person = store.get_by_token(tokens["both"])
        assert (person.language, person.status) == ("en", "active")
        assert [e["kind"] for e in store.events_for(person.id)][-1] == "language"
    back = server.post(f"/u/{tokens['both']}", b"action=language&language=")
    assert sections(page(back)) == ["cy", "en"]  # no choice again: both
    assert server.post(f"/u/{tokens['both']}", b"action=language&language=fr").status == 400


def test_the_unsubscribe_confirmation_and_errors_speak_the_language(tokens, server) -> None:
    done = page(server.post(f"/u/{tokens['cy']}", b"action=unsubscribe"))
    assert done.findtext(".//h1") == "Rydych chi wedi dad-danysgrifio"
    assert [b.text for b in done.iter("button")] == ["Ail-danysgrifio"]
    missing = server.request("GET", "/u/" + "x" * 24)
    assert sections(page(missing, 404)) == ["cy", "en"]
    assert [h.text for h in page(missing, 404).iter("h1")] == [
        "Heb ddod o hyd i'r ddolen",
        "Link not found",
    ]
    welsh_only = page(server.request("GET", "/u/" + "x" * 24 + "?lang=cy"), 404)
    assert sections(welsh_only) == ["cy"]
    assert re.search("Dydy'r ddolen hon ddim yn ddilys", welsh_only.text_content())
