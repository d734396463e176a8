"""The bytes of each kind of message of a bilingual issue: Welsh, English, both."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.header import decode_header, make_header
from pathlib import Path

import pytest

from newsletter.issue.rendering import prepare_issue
from newsletter.mail.builder import MessageFactory
from newsletter.mail.reference import build_reference_message

from support.bilingual import SLUG, SUBJECTS, make_bilingual, write_bilingual_issue
from support.render import bodies, parse, subscriber

FIXED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def built(project: Path):
    config = make_bilingual(project)
    write_bilingual_issue(project)
    prepared = prepare_issue(config, SLUG)
    factory = MessageFactory(config, prepared, clock=lambda: FIXED)

    def build(language: str) -> bytes:
        person = subscriber(language=language, name="Siân Llŷr")
        fast = factory.build(person)
        reference = build_reference_message(
            config, prepared, person, message_id=fast.message_id, date=FIXED
        )
        ours, theirs = parse(fast.data), parse(reference.as_bytes())
        for name in ("Subject", "Content-Language", "List-Id", "From", "List-Unsubscribe"):
            assert str(ours[name]) == str(theirs[name]), name
        assert bodies(ours) == bodies(theirs)
        return fast.data

    return build


def raw_header(data: bytes, name: str) -> str:
    head = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    match = re.search(rf"(?m)^{name}: ([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head)
    assert match, name
    return match[1]


def test_a_welsh_reader_gets_a_welsh_message(built) -> None:
    data = built("cy")
    message = parse(data)
    assert message["Content-Language"] == "cy"
    assert str(make_header(decode_header(raw_header(data, "Subject")))) == SUBJECTS["cy"]
    assert "=?utf-8?" in raw_header(data, "Subject")
    text, html = bodies(message)
    assert '<html lang="cy" dir="ltr">' in html and 'lang="en"' not in html
    assert "Croeso i rifyn Rhagfyr" in text and "Croeso i rifyn Rhagfyr" in html
    assert "Welcome" not in text and "Welcome" not in html


def test_an_english_reader_gets_an_english_message(built) -> None:
    data = built("en")
    message = parse(data)
    assert message["Content-Language"] == "en"
    assert str(make_header(decode_header(raw_header(data, "Subject")))) == SUBJECTS["en"]
    text, html = bodies(message)
    assert '<html lang="en" dir="ltr">' in html and 'lang="cy"' not in html
    assert "Welcome to the December issue" in text and "Croeso" not in html


def test_a_reader_without_a_choice_gets_both_in_one_message(built) -> None:
    data = built("")
    message = parse(data)
    assert message["Content-Language"] == "cy, en"
    raw_subject = raw_header(data, "Subject")
    words = re.findall(r"=\?utf-8\?[qb]\?[^?]*\?=", raw_subject, re.I)
    assert len(words) >= 2  # both subjects carry non-ASCII letters: both are encoded
    decoded = str(make_header(decode_header(raw_subject)))
    assert decoded == f"{SUBJECTS['cy']} / {SUBJECTS['en']}"
    text, html = bodies(message)
    assert '<html lang="cy" dir="ltr">' in html
    assert '<div class="version" lang="cy" dir="ltr" id="cy"' in html
    assert '<div class="version" lang="en" dir="ltr" id="en"' in html
    for part in (text, html):
        assert part.index("Croeso i rifyn Rhagfyr") < part.index("Welcome to the December issue")
    assert re.search(r'<a href="#en"[^>]*>Read in English</a>', html)
    assert "Dad-danysgrifio" in html and "Unsubscribe" in html


def test_the_same_people_get_the_same_edition_bytes_but_their_own_fields(built) -> None:
    first, second = built(""), built("")
    assert parse(first)["Subject"] == parse(second)["Subject"]
    assert parse(first)["Message-ID"] != parse(second)["Message-ID"]
