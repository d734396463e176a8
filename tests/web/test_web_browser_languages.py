"""The Welsh, English and bilingual pages in a real browser (Debian's chromium, headless).

The screenshots are kept in $NEWSLETTER_SCREENSHOTS when it is set, to look at.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from newsletter.project import open_project

from support.bilingual import add_readers, make_bilingual
from support.browser import SCREENSHOTS_ENV, needs_chromium
from support.web import Server

pytestmark = needs_chromium


@pytest.fixture
def tokens(project: Path) -> dict[str, str]:
    make_bilingual(project)
    with open_project(project) as (_config, store):
        return {
            (store.get_by_id(i).language or "both"): store.get_by_id(i).token
            for i in add_readers(store).values()
        }


def test_a_welsh_reader_unsubscribes_in_welsh(browser, tokens, server: Server, project, tmp_path):
    shots = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
    context = browser.new_context(java_script_enabled=False, viewport={"width": 600, "height": 800})
    page = context.new_page()
    try:
        page.goto(f"http://{server.host}:{server.port}/u/{tokens['cy']}")
        assert page.locator("html").get_attribute("lang") == "cy"
        assert (
            page.locator("h1").inner_text()
            == "Dad-danysgrifio o restr bostio Cylchlythyr Cyd-gynhyrchu?"
        )
        page.screenshot(path=str(shots / "web-unsubscribe-cy.png"), full_page=True)
        page.get_by_role("button", name="Dad-danysgrifio").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "Rydych chi wedi dad-danysgrifio"
        page.screenshot(path=str(shots / "web-unsubscribed-cy.png"), full_page=True)
    finally:
        context.close()
    with open_project(project) as (_config, store):
        person = store.get_by_token(tokens["cy"])
        assert (person.status, person.left_via) == ("unsubscribed", "web")


def test_a_reader_switches_and_chooses_a_language(
    browser, tokens, server: Server, project, tmp_path
):
    shots = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
    context = browser.new_context(java_script_enabled=False, viewport={"width": 600, "height": 800})
    page = context.new_page()
    try:
        page.goto(f"http://{server.host}:{server.port}/u/{tokens['both']}")
        assert page.locator("main > section").evaluate_all("s => s.map(e => e.lang)") == [
            "cy",
            "en",
        ]
        page.screenshot(path=str(shots / "web-unsubscribe-both.png"), full_page=True)
        page.get_by_role("link", name="English").click()  # a GET: shows English, changes nothing
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "en"
        page.screenshot(path=str(shots / "web-unsubscribe-en.png"), full_page=True)
        page.get_by_label("Welsh").check()
        page.get_by_role("button", name="Save my choice").click()
        page.wait_for_load_state()
        assert "Saved. Your choice applies from the next issue." in page.inner_text("main")
    finally:
        context.close()
    with open_project(project) as (_config, store):
        assert store.get_by_token(tokens["both"]).language == "cy"
