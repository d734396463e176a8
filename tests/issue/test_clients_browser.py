"""Messages as mail clients show them, in a real browser (Debian's chromium, headless).

Every edition of the example issue (cy, en, both) and every notice (the
confirmation, the welcome and the probe, for a Welsh, an English and an
undecided reader):
- with every network request blocked (images that a client or a firewall does
  not load), with and without the <style> block (clients that drop it), at 375
  and 600 px: nothing scrolls sideways (WCAG 1.4.10);
- under forced dark mode (Chromium's, which inverts as Gmail's app does) and
  with prefers-color-scheme: dark: each button is one colour, and its text has
  a contrast of at least 4.5:1, measured on the pixels of a screenshot.
Set NEWSLETTER_SCREENSHOTS to a folder to keep the screenshots.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest

from support.browser import CHROMIUM, FLAGS, SCREENSHOTS_ENV, needs_chromium
from support.clients import every_page
from support.png import RGB, contrast, read_png

pytestmark = needs_chromium
PAGES = [f"issue-{edition}" for edition in ("cy", "en", "both")] + [
    f"{kind}-{reader}"
    for kind in ("confirm", "welcome", "probe")
    for reader in ("cy", "en", "both")
]
# Chromium's own forced dark mode: the page's colours are inverted by lightness,
# whatever colour-scheme it declares (as Gmail's apps and Outlook.com do).
DARK_FLAGS = ["--force-dark-mode", "--enable-features=WebContentsForceDark"]


@pytest.fixture(scope="module")
def pages(example_preview: Path) -> dict[str, Path]:
    return every_page(example_preview)


def shots_folder(tmp_path: Path) -> Path:
    return Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)


def without_style(page: Path, folder: Path) -> Path:
    html = re.sub(r"(?s)<style\b.*?</style>", "", page.read_text(encoding="utf-8"))
    copy = folder / f"{page.stem}-no-style.html"
    copy.write_text(html, encoding="utf-8")
    return copy


@pytest.mark.parametrize("style", ["style", "no-style"])
@pytest.mark.parametrize("width", [375, 600])
@pytest.mark.parametrize("name", PAGES)
def test_nothing_scrolls_sideways_with_images_blocked(
    browser, pages: dict[str, Path], tmp_path: Path, name: str, width: int, style: str
) -> None:
    page_file = pages[name] if style == "style" else without_style(pages[name], tmp_path)
    blocked: list[str] = []

    def block(route) -> None:  # noqa: ANN001 - playwright's Route
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page = browser.new_page(viewport={"width": width, "height": 900})
    try:
        page.route("**/*", block)
        page.goto(page_file.as_uri())
        if name.startswith("issue-"):  # the example's photo was asked for, and refused
            assert any(url.endswith("autumn-gathering.jpg") for url in blocked)
            assert page.evaluate("[...document.images].every(i => i.naturalWidth === 0)")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        widest = page.evaluate(
            "Math.max(...[...document.body.querySelectorAll('*')]"
            ".map(e => e.getBoundingClientRect().right))"
        )
        assert widest <= width
        shot = shots_folder(tmp_path) / f"{name}-{width}-{style}-blocked.png"
        page.screenshot(path=str(shot), full_page=True)
    finally:
        page.close()


@pytest.fixture(scope="module")
def dark_browser(browser):  # noqa: ANN001, ANN201
    launched = browser.browser_type.launch(executable_path=str(CHROMIUM), args=FLAGS + DARK_FLAGS)
    yield launched
    launched.close()


@pytest.mark.parametrize("mode", ["forced", "prefers"])
@pytest.mark.parametrize("name", [name for name in PAGES if name.startswith(("issue", "confirm"))])
def test_buttons_stay_one_colour_and_legible_in_dark_mode(
    browser, dark_browser, pages: dict[str, Path], tmp_path: Path, name: str, mode: str
) -> None:
    """`forced`: Chromium inverts the page. `prefers`: prefers-color-scheme is dark and
    the message, which declares itself light only, stays as it is."""
    if mode == "forced":
        page = dark_browser.new_page(viewport={"width": 600, "height": 900})
    else:
        page = browser.new_page(viewport={"width": 600, "height": 900}, color_scheme="dark")
    try:
        page.goto(pages[name].as_uri())
        if mode == "prefers":
            assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
        paragraph = read_png(page.locator("div[lang] p").first.screenshot())[2]
        paper = Counter(pixel for row in paragraph for pixel in row).most_common(1)[0][0]
        darkened = sum(paper) < 3 * 80
        assert darkened == (mode == "forced"), f"the text's background is {paper} ({mode})"
        buttons = page.locator("td.button-cell")
        count = buttons.count()
        assert count >= (6 if name == "issue-both" else 3 if name.startswith("issue") else 1)
        for index in range(count):
            button = buttons.nth(index)
            png = button.screenshot()
            (shots_folder(tmp_path) / f"{name}-{mode}-dark-button-{index}.png").write_bytes(png)
            width, height, rows = read_png(png)
            box = button.bounding_box()
            text = button.evaluate(
                "cell => { const range = document.createRange();"
                " range.selectNodeContents(cell.querySelector('a'));"
                " const r = range.getBoundingClientRect(), c = cell.getBoundingClientRect();"
                " return [r.left - c.left, r.top - c.top, r.right - c.left, r.bottom - c.top]; }"
            )
            assert box is not None
            assert abs(width - box["width"]) <= 1 and abs(height - box["height"]) <= 1
            inside, outside = split_by_box(rows, [round(v) for v in text])
            background = Counter(outside).most_common(1)[0][0]
            behind_text = Counter(inside).most_common(1)[0][0]
            assert close(background, behind_text), (
                f"button {index} is two colours: {background} around the text, {behind_text} behind it"
            )
            uniform = sum(close(pixel, background) for pixel in outside) / len(outside)
            assert uniform >= 0.95, f"button {index}: its frame is not one colour ({uniform:.0%})"
            ink = max(inside, key=lambda pixel: contrast(pixel, background))
            assert contrast(ink, background) >= 4.5, (
                f"button {index}: text {ink} on {background} is {contrast(ink, background):.2f}:1"
            )
    finally:
        page.close()


def split_by_box(rows: list[list[RGB]], box: list[int]) -> tuple[list[RGB], list[RGB]]:
    """(pixels inside the text's box, pixels outside it less 5 px at each rounded corner)."""
    left, top, right, bottom = box
    height, width = len(rows), len(rows[0])
    inside, outside = [], []
    for y, row in enumerate(rows):
        for x, pixel in enumerate(row):
            if left <= x < right and top <= y < bottom:
                inside.append(pixel)
            elif not ((x < 5 or x >= width - 5) and (y < 5 or y >= height - 5)):
                outside.append(pixel)
    return inside, outside


def close(one: RGB, other: RGB, tolerance: int = 6) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(one, other, strict=True))
