"""The default templates' output passes html-validate, set up for what email needs.

Email HTML needs inline styles, the old table attributes (width, align,
cellpadding, bgcolor) and Outlook's conditional comments, so those rules are off;
everything else of html-validate's recommended set stays on, invalid attribute
values included. npm installs html-validate once into pytest's cache.
"""

from __future__ import annotations

import re
from pathlib import Path

from support.html import validate


def test_the_previewed_issue_passes_html_validate(
    html_validate: Path, example_preview: Path
) -> None:
    code, rules, report = validate(html_validate, example_preview)
    assert (code, rules) == (0, set()), report


def test_the_configuration_still_rejects_invalid_values(
    html_validate: Path, example_preview: Path, tmp_path: Path
) -> None:
    """What premailer used to write (height="auto") and a header cell without a scope."""
    html = example_preview.read_text(encoding="utf-8")
    html = html.replace('width="520"', 'height="auto"', 1).replace(' scope="col"', "", 1)
    page = tmp_path / "broken.html"
    page.write_text(html, encoding="utf-8")
    code, rules, report = validate(html_validate, page)
    assert code != 0
    assert {"attribute-allowed-values", "wcag/h63"} <= rules, report


def test_images_have_a_width_for_outlook_and_a_max_width(example_preview: Path) -> None:
    images = re.findall(r"<img\b[^>]*>", example_preview.read_text(encoding="utf-8"))
    assert images
    for image in images:
        assert 'width="520"' in image and "max-width:100%" in image, image
        assert "height=" not in image.replace("line-height", ""), image


def test_table_headers_have_a_scope(example_preview: Path) -> None:
    headers = re.findall(r"<th\b[^>]*>", example_preview.read_text(encoding="utf-8"))
    assert headers and all('scope="col"' in header for header in headers)
