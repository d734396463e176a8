"""The built manual on a phone: the front page and the Welsh quick start at 375 px
in Debian's chromium. Set NEWSLETTER_SCREENSHOTS=DIR to keep the screenshots."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.browser import SCREENSHOTS_ENV, needs_chromium
from support.docs import REPOSITORY

PHONE = {"width": 375, "height": 812}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
        cwd=REPOSITORY, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return folder


@needs_chromium
@pytest.mark.parametrize(
    ("page", "language", "heading"),
    [
        ("index.html", "en", "newsletter"),
        ("cy/index.html", "cy", "Dechrau arni: yr awr gyntaf"),
    ],
)
def test_the_page_reads_on_a_phone(
    browser, site: Path, page: str, language: str, heading: str
) -> None:
    context = browser.new_context(viewport=PHONE)
    try:
        tab = context.new_page()
        tab.goto((site / page).as_uri())
        content = tab.locator("article")
        assert content.locator("h1").first.inner_text().rstrip("¶ \n") == heading
        # the words are marked with their language, for screen readers and hyphenation
        assert tab.evaluate(
            "lang => [...document.querySelectorAll('article h1')].every("
            "h => h.closest('[lang]').getAttribute('lang') === lang)",
            language,
        )
        # nothing makes the page itself scroll sideways (code and tables scroll in place)
        assert tab.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shots = os.environ.get(SCREENSHOTS_ENV)
        if shots:
            name = "docs-" + page.replace("/", "-").removesuffix(".html") + "-375.png"
            tab.screenshot(path=str(Path(shots) / name), full_page=True)
    finally:
        context.close()
