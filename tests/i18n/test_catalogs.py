"""The gettext catalogs: complete, consistent with the sources, loadable from the package."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from newsletter.i18n import available_languages, translator
from newsletter.i18n.catalogs import catalog_path

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\([a-z_]+\)s")


def extracted() -> set[tuple[str | None, str]]:
    """(context, msgid) of every interface string in the code and the templates (babel.cfg)."""
    method_map = [
        ("newsletter/**.py", "python"),
        ("templates/**.html", "jinja2"),
        ("templates/**.txt", "jinja2"),
    ]
    found = set()
    for _file, _line, message, _comments, context in extract_from_dir(
        str(ROOT),
        method_map,
        keywords={"N_": None, "_": None, "gettext": None, "pgettext": ((1, "c"), 2)},
    ):
        found.add((context, message if isinstance(message, str) else message[0]))
    return found


def welsh() -> dict[tuple[str | None, str], str]:
    with catalog_path("cy").open("rb") as handle:
        catalog = read_po(handle)
    return {(m.context, m.id): m.string for m in catalog if m.id and not m.fuzzy}


def test_every_interface_string_has_a_welsh_translation():
    translated = welsh()
    assert len(extracted()) > 30  # the extraction itself works
    missing = [msgid for key in extracted() if not translated.get(key) for msgid in [key[1]]]
    assert not missing, f"add these to {catalog_path('cy')}: {missing}"


def test_the_template_for_translators_holds_the_strings_of_today():
    """A translator starting a third language begins from the .pot template: a stale one
    leaves them strings nobody shows and misses the new ones."""
    with (catalog_path("cy").parents[2] / "newsletter.pot").open("rb") as handle:
        template = {
            (m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in read_po(handle)
        }
    command = "see docs/development.md: pybabel extract ... --sort-output"
    assert template - {(None, "")} == extracted(), command


def test_welsh_strings_keep_every_placeholder_and_tag():
    for (_context, msgid), msgstr in welsh().items():
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(msgstr)), msgid
        assert msgid.count("<a ") == msgstr.count("<a "), msgid
        assert msgid.count("<span") == msgstr.count("<span"), msgid


def test_the_catalog_is_read_from_the_package_without_a_build_step():
    assert "cy" in available_languages()
    assert translator("cy").gettext("Unsubscribe") == "Dad-danysgrifio"
    assert translator("en").gettext("Unsubscribe") == "Unsubscribe"
    assert translator("fr").gettext("Unsubscribe") == "Unsubscribe"  # no catalog: the source
    link = translator("cy").pgettext("link to this language's version", "Read in English")
    assert link == "Darllen yn Gymraeg"


def test_established_welsh_terms_are_used():
    strings = " ".join(welsh().values())
    for term in ("Dad-danysgrifio", "Ail-danysgrifio", "cylchlythyr", "Iaith y cylchlythyr"):
        assert term in strings
    assert "Cadw fy newis" in strings  # nasal mutation after fy
    assert "ar y rhestr bostio" in strings  # soft mutation after a feminine noun
