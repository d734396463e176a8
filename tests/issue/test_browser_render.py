"""A real browser (Debian's chromium, headless) renders the previewed issue.

The screenshot is decoded and measured: the page is not blank, it has the
expected width, the 600-pixel column sits centred on a desktop window and fills
a phone-sized one (the media query survived CSS inlining), and the brand
colours of the header and the button were painted. Skipped only when
/usr/bin/chromium is not installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support.browser import CHROMIUM, SCREENSHOTS_ENV, needs_chromium
from support.browser import FLAGS as CHROMIUM_FLAGS
from support.png import read_png
from support.render import EXAMPLES

FLAGS = [*CHROMIUM_FLAGS, "--hide-scrollbars", "--force-device-scale-factor=1"]
BRAND_GREEN = (0x1E, 0x4D, 0x3A)
BUTTON_RED = (0xC8, 0x10, 0x2E)

pytestmark = needs_chromium


def screenshot(html: Path, out: Path, width: int, height: int, profile: Path) -> Path:
    subprocess.run(
        [
            str(CHROMIUM),
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={out}",
            f"--window-size={width},{height}",
            html.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=90,
    )
    return out


def widest_run(row: list[tuple[int, int, int]], colour: tuple[int, int, int]) -> tuple[int, int]:
    """(start, length) of the longest run of exactly this colour in a row."""
    best, start = (0, 0), None
    for x, pixel in enumerate([*row, (-1, -1, -1)]):
        if pixel == colour and start is None:
            start = x
        elif pixel != colour and start is not None:
            best = max(best, (start, x - start), key=lambda run: run[1])
            start = None
    return best


def preview_example(folder: Path) -> Path:
    """The example issue previewed through the real CLI, as a coordinator would;
    returns the build folder (index.html, and index.cy.html and index.en.html)."""
    from typer.testing import CliRunner

    from newsletter.cli import app

    shutil.copytree(EXAMPLES / "issues", folder / "issues")
    shutil.copy(EXAMPLES / "newsletter.toml", folder / "newsletter.toml")
    result = CliRunner().invoke(app, ["issue", "preview", "2026-12", "--project", str(folder)])
    assert result.exit_code == 0, result.output
    return folder / "build" / "2026-12"


@pytest.fixture(scope="module")
def previews(tmp_path_factory) -> Path:
    return preview_example(tmp_path_factory.mktemp("browser") / "example")


@pytest.fixture(scope="module")
def preview(previews: Path) -> Path:
    return previews / "index.html"


@pytest.mark.parametrize(("width", "column"), [(800, 600), (390, 390)], ids=["desktop", "phone"])
def test_chromium_renders_the_issue_as_a_centred_column(
    preview: Path, tmp_path: Path, width: int, column: int
) -> None:
    shots = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
    shot = screenshot(preview, shots / f"issue-{width}.png", width, 1600, tmp_path / "profile")
    png_width, png_height, rows = read_png(shot)
    assert (png_width, png_height) == (width, 1600)

    colours = {pixel for row in rows[::8] for pixel in row[::4]}
    assert len(colours) > 20, "the page rendered blank or nearly so"

    header_rows = [
        y for y, row in enumerate(rows[:300]) if widest_run(row, BRAND_GREEN)[1] >= column - 2
    ]
    assert header_rows, "no header band in the brand colour"
    start, length = widest_run(rows[header_rows[len(header_rows) // 2]], BRAND_GREEN)
    assert abs(length - column) <= 2  # 600 px column on desktop, full width on a phone
    assert abs(start - (width - length) // 2) <= 2  # centred

    red = sum(widest_run(row, BUTTON_RED)[1] >= 80 for row in rows)
    assert red >= 20, "no button painted in the button colour"


@pytest.mark.parametrize("width", [600, 375])
@pytest.mark.parametrize(("edition", "height"), [("cy", 2600), ("en", 2600), ("both", 4800)])
def test_chromium_renders_each_language_and_the_bilingual_message(
    previews: Path, tmp_path: Path, edition: str, height: int, width: int
) -> None:
    name = "index.html" if edition == "both" else f"index.{edition}.html"
    shots = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
    shot = screenshot(
        previews / name,
        shots / f"issue-{edition}-{width}.png",
        width,
        height,
        tmp_path / "p",
    )
    png_width, _height, rows = read_png(shot)
    assert png_width == width
    header = [y for y, row in enumerate(rows[:400]) if widest_run(row, BRAND_GREEN)[1] >= width - 2]
    assert header, "the header band fills the width (phone layout below 620 px)"
    buttons = sum(widest_run(row, BUTTON_RED)[1] >= 80 for row in rows)
    wide = [y for y, row in enumerate(rows) if widest_run(row, BUTTON_RED)[1] >= width - 45]
    bands: list[list[int]] = []
    for y in wide:
        if bands and y == bands[-1][-1] + 1:
            bands[-1].append(y)
        else:
            bands.append([y])

    def is_line(band: list[int]) -> bool:  # thin, with no red just above or below (not a button)
        start, length = widest_run(rows[band[0]], BUTTON_RED)
        around = [rows[y][start : start + length] for y in (band[0] - 1, band[-1] + 1)]
        return len(band) <= 6 and all(row.count(BUTTON_RED) < length // 5 for row in around)

    # the accent under the header; in the bilingual message also the break between versions
    assert len([band for band in bands if is_line(band)]) == (2 if edition == "both" else 1)
    assert buttons >= (40 if edition == "both" else 20)


PHOTO = (  # a 1200 x 800 picture, far wider than the column
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='1200' height='800'%3E"
    "%3Crect width='1200' height='800' fill='%232050c0'/%3E%3C/svg%3E"
)


def test_without_its_style_block_the_issue_fits_a_phone(
    browser, example_preview: Path, tmp_path: Path
) -> None:
    """Some clients drop <style>: the inlined styles alone keep the column within 375 px."""
    html = re.sub(r"(?s)<style\b.*?</style>", "", example_preview.read_text(encoding="utf-8"))
    assert "<style" not in html and 'width="520"' in html
    page_file = tmp_path / "no-style.html"
    page_file.write_text(html.replace("https://copro.example.org/img/autumn-gathering.jpg", PHOTO))
    page = browser.new_page(viewport={"width": 375, "height": 900})
    try:
        page.goto(page_file.as_uri())
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        widest = page.evaluate(
            "Math.max(...[...document.body.querySelectorAll('*')]"
            ".map(e => e.getBoundingClientRect().right))"
        )
        assert widest <= 375
        photo = page.locator("img").first.bounding_box()
        assert photo is not None and 200 <= photo["width"] <= 375 - 2 * 12
        assert abs(photo["height"] - photo["width"] * 2 / 3) <= 2  # not stretched
        shots = os.environ.get(SCREENSHOTS_ENV)
        page.screenshot(
            path=str(Path(shots or tmp_path) / "issue-375-no-style.png"), full_page=True
        )
    finally:
        page.close()
