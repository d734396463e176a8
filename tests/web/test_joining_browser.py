"""A person joins in a real browser (Debian's chromium, headless, JavaScript off).

Fill in the form, read the confirmation from the outbox, follow its link, press
the button: every page is screenshotted (set NEWSLETTER_SCREENSHOTS to keep
them) and the database is checked at each step.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from newsletter.i18n import autonym
from newsletter.project import open_project

from support.bilingual import make_bilingual
from support.browser import SCREENSHOTS_ENV, needs_chromium
from support.joining import CONFIRM_LINK, outbox_messages
from support.waiting import wait_for
from support.web import People

pytestmark = needs_chromium


def shot(page, folder: Path, name: str) -> None:  # noqa: ANN001
    path = folder / f"joining-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0


def press_resubscribe(browser, url: str, words: tuple[str, str], shots: Path, name: str) -> None:  # noqa: ANN001
    """Open an unsubscribed reader's page, press its button (`words`: the button and the
    heading that must follow), with a screenshot before and after."""
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(url)
        shot(page, shots, f"unsubscribed-{name}")
        page.get_by_role("button", name=words[0]).click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == words[1]
        shot(page, shots, f"resubscribe-sent-{name}")
    finally:
        context.close()


def test_a_person_joins_through_the_form_and_the_emailed_link(
    browser,
    serve,
    project: Path,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    server = serve("[subscribe]\nmin_fill_seconds = 1\n")
    base = f"http://{server.host}:{server.port}"
    shots = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        assert page.goto(f"{base}/subscribe").status == 200
        shot(page, shots, "form-en")
        page.get_by_label("Email address").fill("Cerys.Hughes@Example.org")
        page.get_by_label("Name").fill("Cerys Hughes")
        page.get_by_label("Organisation (optional)").fill("Menter Iaith")
        honeypot = page.locator(".hp").bounding_box()
        assert honeypot is not None and honeypot["x"] + honeypot["width"] <= 0  # out of sight
        time.sleep(1.2)  # a person takes longer than the form's minimum
        page.get_by_role("button", name="Subscribe").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "Check your inbox"
        shot(page, shots, "sent-en")

        [mail] = wait_for(lambda: outbox_messages(project), what="the confirmation mail")
        text = mail.get_body(preferencelist=("plain",)).get_content()
        link = urlsplit(text[text.index("https://") :].split()[0])
        assert CONFIRM_LINK.search(link.path)
        assert page.goto(f"{base}{link.path}").status == 200
        assert "Confirm your subscription" in page.locator("h1").inner_text()
        shot(page, shots, "confirm-en")
        with open_project(project) as (_config, store):
            assert store.get_subscriber("cerys.hughes@example.org") is None

        page.get_by_role("button", name="Confirm my subscription").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "You are subscribed"
        shot(page, shots, "confirmed-en")
        assert context.cookies() == []

        page.goto(f"{base}{link.path}")
        assert page.locator("h1").inner_text() == "This link is no longer valid"
        shot(page, shots, "invalid-en")
    finally:
        context.close()
    with open_project(project) as (_config, store):
        person = store.get_subscriber("Cerys.Hughes@example.org")
        assert (person.status, person.organisation) == ("active", "Menter Iaith")


def test_the_resubscribe_button_leads_to_check_your_inbox(
    browser,
    server,
    people: People,
    project: Path,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    url = f"http://{server.host}:{server.port}/u/{people.unsubscribed.token}"
    shots = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
    press_resubscribe(browser, url, ("Resubscribe", "Check your inbox"), shots, "en")
    wait_for(lambda: outbox_messages(project), what="the confirmation mail")
    with open_project(project) as (_config, store):
        assert store.get_by_id(people.unsubscribed.id).status == "unsubscribed"


WORDS = {  # what the person reads and presses, in each language
    "cy": {
        "email": "Cyfeiriad e-bost", "name": "Enw", "organisation": "Sefydliad (dewisol)",
        "choice": "Cymraeg", "subscribe": "Tanysgrifio", "sent": "Gwiriwch eich mewnflwch",
        "confirm": "Cadarnhau fy nhanysgrifiad", "done": "Rydych wedi tanysgrifio",
        "invalid": "Nid yw'r ddolen hon yn ddilys mwyach",
    },
    "en": {
        "email": "Email address", "name": "Name", "organisation": "Organisation (optional)",
        "choice": "English", "subscribe": "Subscribe", "sent": "Check your inbox",
        "confirm": "Confirm my subscription", "done": "You are subscribed",
        "invalid": "This link is no longer valid",
    },
}  # fmt: skip


@pytest.mark.parametrize("lang", ["cy", "en"])
def test_a_person_joins_in_their_language_in_a_bilingual_project(
    browser,
    serve,
    project: Path,
    tmp_path: Path,
    lang: str,  # noqa: ANN001
) -> None:
    make_bilingual(project)
    server = serve("[subscribe]\nmin_fill_seconds = 1\n")
    base = f"http://{server.host}:{server.port}"
    shots = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
    words = WORDS[lang]
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{base}/subscribe")
        assert [s.get_attribute("lang") for s in page.locator("main > section").all()] == [
            "cy", "en",
        ]  # fmt: skip
        shot(page, shots, f"bilingual-form-both-{lang}")
        page.get_by_role("link", name=autonym(lang)).click()  # the language switch: a GET
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == lang
        shot(page, shots, f"bilingual-form-{lang}")
        page.get_by_label(words["email"]).fill(f"reader-{lang}@example.org")
        page.get_by_label(words["name"], exact=True).fill("Gwen Morgan")
        page.get_by_label(words["organisation"]).fill("Cwmni Cydweithredol")
        page.get_by_label(words["choice"]).check()
        time.sleep(1.2)
        page.get_by_role("button", name=words["subscribe"]).click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == words["sent"]
        shot(page, shots, f"bilingual-sent-{lang}")

        [mail] = wait_for(lambda: outbox_messages(project), what="the confirmation mail")
        assert mail["Content-Language"] == lang
        text = mail.get_body(preferencelist=("plain",)).get_content()
        path = urlsplit(text[text.index("https://") :].split()[0]).path
        page.goto(f"{base}{path}")
        assert page.locator("html").get_attribute("lang") == lang
        shot(page, shots, f"bilingual-confirm-{lang}")
        page.get_by_role("button", name=words["confirm"]).click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == words["done"]
        shot(page, shots, f"bilingual-confirmed-{lang}")
        page.goto(f"{base}{path}?lang={lang}")
        assert page.locator("h1").inner_text() == words["invalid"]
        shot(page, shots, f"bilingual-invalid-{lang}")
        page.set_content(mail.get_body(preferencelist=("html",)).get_content())
        shot(page, shots, f"bilingual-mail-{lang}")
    finally:
        context.close()
    with open_project(project) as (_config, store):
        person = store.get_subscriber(f"reader-{lang}@example.org")
        assert (person.status, person.language) == ("active", lang)


def test_a_welsh_reader_who_left_is_asked_to_confirm_in_welsh(
    browser,
    serve,
    project: Path,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    make_bilingual(project)
    with open_project(project) as (_config, store):
        left = store.add_subscriber("gadael@example.org", language="cy").subscriber
        store.unsubscribe(left.id, "web")
    server = serve()
    url = f"http://{server.host}:{server.port}/u/{left.token}"
    shots = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
    words = ("Ail-danysgrifio", "Gwiriwch eich mewnflwch")
    press_resubscribe(browser, url, words, shots, "bilingual-cy")
    [mail] = wait_for(lambda: outbox_messages(project), what="the confirmation mail")
    assert mail["Content-Language"] == "cy"
