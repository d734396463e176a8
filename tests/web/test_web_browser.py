"""A real browser (Debian's chromium, headless) unsubscribes through the page.

Proves the page a person sees names the list and their masked address, that
the button works, with and without JavaScript, and what the database holds
afterwards. Skipped only when /usr/bin/chromium is not installed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from newsletter.project import open_project

from support.browser import SCREENSHOTS_ENV, needs_chromium
from support.web import People, Server

pytestmark = needs_chromium


def state(project: Path, subscriber_id: int) -> tuple[str, str | None, list[str]]:
    with open_project(project) as (_config, store):
        person = store.get_by_id(subscriber_id)
        kinds = [f"{e['kind']}:{e['source']}" for e in store.events_for(subscriber_id)]
    return person.status, person.left_via, kinds


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_browser_unsubscribes_with_the_button(
    browser, server: Server, people: People, project: Path, tmp_path: Path, javascript: bool
) -> None:
    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    try:
        url = f"http://{server.host}:{server.port}/u/{people.active.token}"
        response = page.goto(url)
        assert response is not None and response.status == 200
        assert page.locator(".list").inner_text() == "Co-pro Newsletter"
        assert "r***@example.org" in page.locator("main").inner_text()
        assert state(project, people.active.id)[0] == "active"  # opening the page changed nothing
        shots = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
        suffix = "js" if javascript else "nojs"
        page.screenshot(path=str(shots / f"newsletter-page-{suffix}.png"), full_page=True)

        page.get_by_role("button", name="Unsubscribe").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "You have been unsubscribed"
        assert page.url == url  # no redirect
        assert context.cookies() == []
        shot = shots / f"newsletter-unsubscribed-{suffix}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 0
    finally:
        context.close()
    status, left_via, events = state(project, people.active.id)
    assert (status, left_via) == ("unsubscribed", "web")
    assert events.count("unsubscribed:web") == 1


def test_browser_resubscribe_button_only_mails_a_confirmation(
    browser, server: Server, people: People, project: Path
) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"http://{server.host}:{server.port}/u/{people.unsubscribed.token}")
        assert "already unsubscribed" in page.locator("h1").inner_text()
        page.get_by_role("button", name="Resubscribe").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "Check your inbox"
    finally:
        context.close()
    assert state(project, people.unsubscribed.id)[:2] == ("unsubscribed", "cli")
