"""Fixtures for the issue tests: the example issue previewed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsletter.cli import app

from support.render import EXAMPLES


@pytest.fixture(scope="module")
def example_preview(tmp_path_factory) -> Path:
    """The example issue, with a photo added, previewed through the real CLI."""
    folder = tmp_path_factory.mktemp("preview") / "example"
    shutil.copytree(EXAMPLES / "issues", folder / "issues")
    shutil.copy(EXAMPLES / "newsletter.toml", folder / "newsletter.toml")
    photos = {  # the same photo in both versions of the bilingual example
        "en": ("## Small grants", "Members around a table at the autumn gathering in Bangor"),
        "cy": ("## Grantiau bach", "Aelodau o amgylch bwrdd yng nghynulliad yr hydref ym Mangor"),
    }
    for lang, (heading, alt) in photos.items():
        issue = folder / "issues" / f"2026-12.{lang}.md"
        issue.write_text(
            issue.read_text(encoding="utf-8").replace(
                heading,
                f"![{alt}](https://copro.example.org/img/autumn-gathering.jpg)\n\n{heading}",
            ),
            encoding="utf-8",
        )
    result = CliRunner().invoke(app, ["issue", "preview", "2026-12", "--project", str(folder)])
    assert result.exit_code == 0, result.output
    return folder / "build" / "2026-12" / "index.html"
