"""The web pages in the reader's language: Welsh, English, or both when unknown."""

from __future__ import annotations

import re
from pathlib import Path

import lxml.html
import pytest

from newsletter.project import open_project

from support.bilingual import add_readers, make_bilingual
from support.html import nu_errors
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


def test_a_welsh_reader_sees_welsh(tokens, client: Server) -> None:
    document = page(client.request("GET", f"/u/{tokens['cy']}"))
    assert document.get("lang") == "cy" and sections(document) == ["cy"]
    assert document.findtext(".//title") == "Dad-danysgrifio · Cylchlythyr Cyd-gynhyrchu"
    assert document.findtext(".//h1") == "Dad-danysgrifio o restr bostio Cylchlythyr Cyd-gynhyrchu?"
    assert [b.text for b in document.iter("button")] == ["Dad-danysgrifio", "Cadw fy newis"]
    labels = [" ".join(label.text_content().split()) for label in document.iter("label")]
    assert labels == ["Cymraeg", "Saesneg", "Y ddwy iaith, mewn un neges"]
    assert document.xpath("//input[@name='language'][@checked]/@value") == ["cy"]
    assert document.xpath("//nav[@class='languages']/a/@href") == ["?lang=en"]
    assert document.xpath("//nav[@class='languages']/a/text()") == ["English"]


def test_an_english_reader_sees_english(tokens, client: Server) -> None:
    document = page(client.request("GET", f"/u/{tokens['en']}"))
    assert document.get("lang") == "en" and sections(document) == ["en"]
    assert document.findtext(".//h1") == "Unsubscribe from Co-pro Newsletter?"
    assert document.xpath("//nav[@class='languages']/a/text()") == ["Cymraeg"]


def test_a_reader_without_a_choice_sees_both_welsh_first(tokens, client: Server) -> None:
    document = page(client.request("GET", f"/u/{tokens['both']}"))
    assert document.get("lang") == "cy" and sections(document) == ["cy", "en"]
    assert (
        document.findtext(".//title") == "Dad-danysgrifio / Unsubscribe · Cylchlythyr Cyd-gynhyrchu"
    )
    assert [h.text for h in document.iter("h1")] == [
        "Dad-danysgrifio o restr bostio Cylchlythyr Cyd-gynhyrchu?",
        "Unsubscribe from Co-pro Newsletter?",
    ]
    assert document.xpath("//nav[@class='languages']/a/@href") == ["?lang=cy", "?lang=en"]


def test_switching_language_is_a_get_that_changes_only_the_display(tokens, client, project):
    before = subscriber_state(project)
    document = page(client.request("GET", f"/u/{tokens['cy']}?lang=en"))
    assert sections(document) == ["en"] and document.findtext(".//h1").startswith("Unsubscribe")
    assert page(client.request("GET", f"/u/{tokens['cy']}?lang=xx")).get("lang") == "cy"
    assert subscriber_state(project) == before


def test_a_reader_chooses_their_language_with_a_post(tokens, client, project) -> None:
    reply = client.post(f"/u/{tokens['both']}", b"action=language&language=en")
    document = page(reply)
    assert reply.status == 200 and sections(document) == ["en"]
    assert "Saved. Your choice applies from the next issue." in reply.text
    with open_project(project) as (_config, store):
        person = store.get_by_token(tokens["both"])
        assert (person.language, person.status) == ("en", "active")
        assert [e["kind"] for e in store.events_for(person.id)][-1] == "language"
    back = client.post(f"/u/{tokens['both']}", b"action=language&language=")
    assert sections(page(back)) == ["cy", "en"]  # no choice again: both
    assert client.post(f"/u/{tokens['both']}", b"action=language&language=fr").status == 400


def test_the_unsubscribe_confirmation_and_errors_speak_the_language(tokens, client) -> None:
    done = page(client.post(f"/u/{tokens['cy']}", b"action=unsubscribe"))
    assert done.findtext(".//h1") == "Rydych chi wedi dad-danysgrifio"
    assert [b.text for b in done.iter("button")] == ["Ail-danysgrifio"]
    missing = client.request("GET", "/u/" + "x" * 24)
    assert sections(page(missing, 404)) == ["cy", "en"]
    assert [h.text for h in page(missing, 404).iter("h1")] == [
        "Heb ddod o hyd i'r ddolen",
        "Link not found",
    ]
    welsh_only = page(client.request("GET", "/u/" + "x" * 24 + "?lang=cy"), 404)
    assert sections(welsh_only) == ["cy"]
    assert re.search("Dydy'r ddolen hon ddim yn ddilys", welsh_only.text_content())


def option_labels(document, lang: str) -> list[str]:  # noqa: ANN001
    """The language options' labels in the `lang` section of a page."""
    labels = document.xpath(f"//main/section[@lang='{lang}']//input[@name='language']/..")
    return [" ".join(label.text_content().split()) for label in labels]


def test_every_form_names_the_languages_in_its_own_language(tokens, client: Server) -> None:
    """One set of names per language: the Welsh side says Cymraeg / Saesneg on the sign-up
    form as on the preferences page, the English side Welsh / English; only the switch to
    the other language's page names it in itself (English, Cymraeg), marked with its lang."""
    welsh = ["Cymraeg", "Saesneg", "Y ddwy iaith, mewn un neges"]
    english = ["Welsh", "English", "Both languages, in one message"]
    for path in ("/subscribe", f"/u/{tokens['both']}"):
        document = page(client.request("GET", path))
        assert option_labels(document, "cy") == welsh, path
        assert option_labels(document, "en") == english, path
        assert not document.xpath("//*[@lang='']"), path  # no option says lang=""
    switch = page(client.request("GET", f"/u/{tokens['cy']}")).xpath("//nav/a")[0]
    assert (switch.text, switch.get("lang")) == ("English", "en")


def test_every_page_passes_the_nu_html_checker(
    tokens, client: Server, nu_jar: Path, tmp_path: Path
) -> None:
    """Each page in Welsh, English and both, as the app answers it: no error at all (no tables here)."""
    replies = {
        "subscribe-both": client.request("GET", "/subscribe"),
        "subscribe-cy": client.request("GET", "/subscribe?lang=cy"),
        "subscribe-errors": client.post("/subscribe", b"lang=en&email=not-an-address"),
        "unsubscribe-cy": client.request("GET", f"/u/{tokens['cy']}"),
        "unsubscribe-en": client.request("GET", f"/u/{tokens['en']}"),
        "unsubscribe-both": client.request("GET", f"/u/{tokens['both']}"),
        "not-found": client.request("GET", "/u/" + "x" * 24),
        "confirm-invalid": client.request("GET", "/confirm/" + "y" * 24),
        "unsubscribed-en": client.post(f"/u/{tokens['en']}", b"action=unsubscribe"),
    }
    files = []
    for name, reply in replies.items():
        assert reply.headers["content-type"].startswith("text/html"), name
        files.append(tmp_path / f"{name}.html")
        files[-1].write_bytes(reply.body)
    assert nu_errors(nu_jar, files) == []
