"""The default templates' output passes html-validate, set up for what email needs.

Email HTML needs inline styles, the old table attributes (width, align,
cellpadding, bgcolor) and Outlook's conditional comments, so those rules are off;
everything else of html-validate's recommended set stays on, invalid attribute
values included. npm installs html-validate once into pytest's cache.
"""

from __future__ import annotations

import re
from pathlib import Path

from support.clients import every_page
from support.html import nu_errors, validate


def test_the_previewed_issue_passes_html_validate(
    html_validate: Path, example_preview: Path
) -> None:
    code, rules, report = validate(html_validate, example_preview)
    assert (code, rules) == (0, set()), report


def test_every_edition_and_notice_passes_the_nu_html_checker(
    nu_jar: Path, example_preview: Path
) -> None:
    """cy, en and both; the confirmation and welcome in each: no error but the table
    attributes Outlook needs (premailer once put bgcolor on every button, width on
    <body>; a meta lacked its content; mso-hide was an unknown CSS property)."""
    pages = every_page(example_preview)
    assert len(pages) == 12
    assert nu_errors(nu_jar, list(pages.values())) == []


def test_every_notice_passes_html_validate(html_validate: Path, example_preview: Path) -> None:
    for name, page in every_page(example_preview).items():
        code, rules, report = validate(html_validate, page)
        assert (code, rules) == (0, set()), f"{name}: {report}"


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
