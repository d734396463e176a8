"""Language codes: every way a spreadsheet or a person names Welsh and English."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.config import parse_config
from newsletter.errors import ConfigError
from newsletter.i18n import autonym, language_name, parse_language
from newsletter.i18n.dates import month_label

BASE = {"from": "News <news@example.org>", "base_url": "https://news.example.org"}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Cymraeg", "cy"), ("CYMRAEG", "cy"), ("welsh", "cy"), ("cy", "cy"), ("CYM", "cy"),
        ("English", "en"), ("saesneg", "en"), ("EN", "en"), ("eng", "en"), (" Welsh ", "cy"),
        ("en-GB", "en"), ("cy_GB", "cy"), ("", ""),
    ],
)  # fmt: skip
def test_welsh_and_english_are_understood_in_any_case(text: str, code: str) -> None:
    assert parse_language(text) == code


@pytest.mark.parametrize("text", ["Klingon", "Gymraeg?", "xx", "fr", "1"])
def test_anything_else_is_not_a_language_of_the_project(text: str) -> None:
    assert parse_language(text) is None


def test_a_third_language_of_the_project_is_accepted() -> None:
    assert parse_language("fr", ("cy", "en", "fr")) == "fr"


def test_names_come_from_cldr() -> None:
    assert language_name("en", "cy") == "Saesneg"
    assert language_name("cy", "en") == "Welsh"
    assert autonym("cy") == "Cymraeg"
    from datetime import date

    assert month_label(date(2026, 12, 1), "cy") == "Rhagfyr 2026"
    assert month_label(date(2026, 12, 1), "en") == "December 2026"


def test_languages_and_per_language_values_in_the_config() -> None:
    config = parse_config(
        {
            "newsletter": {
                **BASE,
                "languages": ["cy", "en"],
                "name": {"cy": "Cylchlythyr", "en": "Newsletter"},
                "postal_address": "Aberystwyth",
            }
        },
        Path("."),
    )
    assert config.languages == ("cy", "en") and config.bilingual
    assert (config.name, config.text("name", "en")) == ("Cylchlythyr", "Newsletter")
    assert config.text("postal_address", "en") == "Aberystwyth"
    assert config.joined_text("name") == "Cylchlythyr / Newsletter"


def test_a_one_language_project_needs_no_languages_key() -> None:
    config = parse_config({"newsletter": {**BASE, "name": "News"}}, Path("."))
    assert config.languages == ("en",) and not config.bilingual
    assert config.text("name", "cy") == "News"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"languages": ["cy", "xx"]}, "'newsletter.languages': 'xx' is not a language code"),
        ({"languages": ["cy", "cy"]}, "names a language twice"),
        ({"languages": []}, "must be a list of language codes"),
        ({"languages": ["cy", "en"], "name": {"cy": "A"}}, "'newsletter.name' has no 'en' value"),
        ({"name": {"fr": "A"}}, "'newsletter.name.fr': 'fr' is not in newsletter.languages"),
        ({"name": 3}, "'newsletter.name' must be a string or a table by language"),
    ],
)
def test_language_mistakes_name_the_key(values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace(".", r"\.")):
        parse_config({"newsletter": {**BASE, "name": "News", **values}}, Path("."))
