"""A bilingual issue: one file per language, three editions, each rendered once."""

from __future__ import annotations

import re
from pathlib import Path

import lxml.html
import pytest

from newsletter.errors import InputError, NotFoundError
from newsletter.issue.checks import check_issue, has_errors
from newsletter.issue.editions import EVERY_LANGUAGE
from newsletter.issue.rendering import prepare_issue
from newsletter.issue.scaffold import scaffold_issue

from support.bilingual import (
    ADDRESSES,
    BODIES,
    NAMES,
    SLUG,
    SUBJECTS,
    make_bilingual,
    write_bilingual_issue,
    write_version,
)
from support.render import subscriber


@pytest.fixture
def config(project: Path):
    config = make_bilingual(project)
    write_bilingual_issue(project)
    return config


def body_langs(html: str) -> list[tuple[str, str]]:
    document = lxml.html.document_fromstring(html)
    return [(div.get("lang"), div.get("id")) for div in document.find_class("version")]


def test_three_editions_each_in_its_language(config) -> None:
    prepared = prepare_issue(config, SLUG)
    assert list(prepared.editions) == ["cy", "en", EVERY_LANGUAGE]
    welsh, english, both = (prepared.editions[key] for key in ["cy", "en", EVERY_LANGUAGE])
    assert (welsh.lang, welsh.content_language, welsh.subject) == ("cy", "cy", SUBJECTS["cy"])
    assert (english.lang, english.content_language) == ("en", "en")
    assert (both.lang, both.content_language) == ("cy", "cy, en")
    assert both.subject == f"{SUBJECTS['cy']} / {SUBJECTS['en']}"


def test_each_reader_gets_their_language_and_no_choice_gets_both(config) -> None:
    prepared = prepare_issue(config, SLUG)
    html, text = prepared.render(subscriber(language="cy"))
    assert html.startswith('<!DOCTYPE html>\n<html lang="cy" dir="ltr">')
    assert body_langs(html) == [("cy", "cy")]
    assert "Croeso i rifyn Rhagfyr" in html and "Welcome to the December" not in html
    assert "Dad-danysgrifio" in html and "Rhagfyr 2026" in html and NAMES["cy"] in html
    assert "Croeso i rifyn Rhagfyr" in text and "I ddad-danysgrifio, agorwch y ddolen" in text
    html, text = prepared.render(subscriber(language="en"))
    assert '<html lang="en" dir="ltr">' in html and body_langs(html) == [("en", "en")]
    assert "Croeso" not in html and "Unsubscribe" in html and "December 2026" in html


def test_the_bilingual_message_holds_both_welsh_first_with_a_link_to_the_other(config) -> None:
    prepared = prepare_issue(config, SLUG)
    for reader in (subscriber(language=""), subscriber(language="fr")):
        html, text = prepared.render(reader)
        assert '<html lang="cy" dir="ltr">' in html
        assert body_langs(html) == [("cy", "cy"), ("en", "en")]
        top = html.index('class="version"')
        link = re.search(
            r'<p class="switch" lang="en"[^>]*><a href="#en"[^>]*>Read in English</a>', html
        )
        assert link and link.start() > top and link.start() < html.index("Croeso")
        assert 'href="#cy"' in html and "Darllen yn Gymraeg" in html
        assert html.index("Croeso") < html.index("Welcome")
        for lang in ("cy", "en"):
            assert ADDRESSES[lang] in html and ADDRESSES[lang] in text
        assert text.index("Croeso") < text.index("Welcome")
        assert text.startswith("[Saesneg isod / English below]\n")  # said in both languages
        assert "I ddad-danysgrifio, agorwch y ddolen" in text
        assert "To unsubscribe, open this link" in text
        footers = lxml.html.document_fromstring(html).xpath('//td[@class="footer"]/div/@lang')
        assert footers == ["cy", "en"]


def test_a_one_language_project_is_as_before(project: Path) -> None:
    from newsletter.config import load_config

    from support.render import write_issue

    write_issue(project)
    prepared = prepare_issue(load_config(project), SLUG)
    assert list(prepared.editions) == [EVERY_LANGUAGE]
    html, text = prepared.render(subscriber(language="cy"))
    assert '<html lang="en" dir="ltr">' in html and prepared.default.content_language == "en"
    assert "You are receiving Co-pro Newsletter because this address" in text
    assert "\nreader@example.org\n" in text
    assert "Read in English" not in html and "* * *" not in text


def test_scaffolding_writes_one_file_per_language(config, project: Path) -> None:
    paths = scaffold_issue(config, "2027-01")
    assert [p.name for p in paths] == ["2027-01.cy.md", "2027-01.en.md"]
    welsh, english = (p.read_text(encoding="utf-8") for p in paths)
    assert "subject: 'Cylchlythyr Cyd-gynhyrchu: Ionawr 2027'" in welsh
    assert "Croeso byr" in welsh and "Defnyddiwch ddolenni" in welsh
    assert "subject: 'Co-pro Newsletter: January 2027'" in english and "A short welcome" in english
    prepared = prepare_issue(config, "2027-01")
    errors = [
        f.message
        for f in check_issue(config, prepared, readers={"cy": 1, "en": 1, "": 1})
        if f.level == "error"
    ]
    prefixes = [  # each language's sample, until it is written over
        f"issues/2027-01.{language}.md:{line}: {what}"
        for language in ("cy", "en")
        for line, what in (
            (3, "the sample text of `issue new` is still there"),
            (11, "https://example.org is the sample's placeholder link and 2 more"),
        )
    ]
    assert [message[: len(prefix)] for message, prefix in zip(errors, prefixes, strict=True)] == (
        prefixes
    )
    with pytest.raises(InputError, match="2027-01.cy.md already exists"):
        scaffold_issue(config, "2027-01")


def test_a_missing_version_is_an_error_only_when_readers_need_it(config, project: Path) -> None:
    (project / "issues" / f"{SLUG}.en.md").unlink()
    prepared = prepare_issue(config, SLUG)
    assert list(prepared.editions) == ["cy"] and prepared.missing == ("en",)
    errors = [
        f.message
        for f in check_issue(config, prepared, readers={"cy": 2, "en": 1, "": 3})
        if f.level == "error"
    ]
    assert errors == [
        "no English version: issues/2026-12.en.md does not exist, and 4 active readers"
        " need it (1 chose en, 3 get every language)"
    ]
    assert not has_errors(check_issue(config, prepared, readers={"cy": 5}))
    with pytest.raises(InputError, match="has no version in en"):
        prepared.render(subscriber(language=""))
    (project / "issues" / f"{SLUG}.cy.md").unlink()
    with pytest.raises(NotFoundError, match="2026-12.cy.md and issues/2026-12.en.md do not exist"):
        prepare_issue(config, SLUG)


def test_versions_of_different_shape_and_a_missing_subject_are_warnings(config, project) -> None:
    write_version(
        project,
        "en",
        body=BODIES["en"] + "\n## More\n\n![A choir](https://example.org/c.jpg)\n",
        subject="",
    )
    prepared = prepare_issue(config, SLUG)
    assert prepared.editions["en"].subject == SUBJECTS["cy"]  # borrowed
    warnings = [
        f.message for f in check_issue(config, prepared, readers={}) if f.level == "warning"
    ]
    assert "the versions have different numbers of headings: cy 1, en 2" in warnings
    assert "the versions have different numbers of images: cy 0, en 1" in warnings
    assert any(w.startswith("issues/2026-12.en.md has no subject") for w in warnings)


def test_gmail_clipping_is_checked_on_the_bilingual_message(config, project) -> None:
    paragraph = "Mae hwn yn baragraff hir am y rhwydwaith a'i waith. " * 12
    write_version(project, "cy", body="\n\n".join([paragraph] * 95))
    write_version(project, "en", body="\n\n".join([paragraph.replace("Mae", "This")] * 95))
    findings = check_issue(config, prepare_issue(config, SLUG), readers={})
    clipped = [f.message for f in findings if "Gmail clips" in f.message]
    assert clipped and all(message.endswith("[cy+en]") for message in clipped)  # only both together


def test_the_footer_line_of_each_language_is_shown(project: Path) -> None:
    path = project / "newsletter.toml"
    make_bilingual(project)
    text = path.read_text(encoding="utf-8").replace(
        "[newsletter]\n", '[newsletter]\nfooter = { cy = "Diolch!", en = "Thank you!" }\n', 1
    )
    path.write_text(text, encoding="utf-8")
    write_bilingual_issue(project)
    from newsletter.config import load_config

    html, text = prepare_issue(load_config(project), SLUG).render(subscriber(language=""))
    assert html.index("Diolch!") < html.index("Thank you!")
    assert "Diolch!" in text and "Thank you!" in text
