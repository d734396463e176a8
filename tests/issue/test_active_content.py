"""Raw HTML in the Markdown: scripts, frames, forms, handlers and script URLs are errors,
and a preview opened in a real browser never runs script."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from newsletter.config import load_config
from newsletter.issue.checks import check_issue
from newsletter.issue.rendering import prepare_issue

from support.browser import CHROMIUM, FLAGS, needs_chromium
from support.render import subscriber, write_issue

# Each marks the page only if it runs: the marker is spelt in pieces, so the
# source itself never contains it.
HOSTILE = """\
Hello.

<script>document.body.setAttribute('data-' + 'ran', 'script')</script>

<img src="x" alt="x" onerror="document.body.setAttribute('data-' + 'ran', 'onerror')">

[Click](javascript:document.body.setAttribute('data-'+'ran','href'))
<a href="javascript:alert(1)">raw link</a>

<iframe src="https://evil.example/"></iframe>

<form action="https://evil.example/steal"><input name="password"></form>
"""


def _errors(project: Path) -> list[str]:
    config = load_config(project)
    return [
        f.message
        for f in check_issue(config, prepare_issue(config, "2026-12"))
        if f.level == "error"
    ]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("<script>alert(1)</script>\n", "a <script> element"),
        ('<img src="x.png" alt="x" onerror="alert(1)">\n', "an event handler onerror= on <img>"),
        ('<a href="javascript:alert(1)">x</a>\n', 'a script URL in <a href="javascript:alert(1)">'),
        ("<iframe src='https://example.org/'></iframe>\n", "an <iframe> element"),
        ("<form action='https://example.org/'><input name=q></form>\n", "a <form> element"),
        ('<p style="width: expression(alert(1))">x</p>\n', "script in a style attribute on <p>"),
    ],
)
def test_active_content_in_the_markdown_is_an_error(project: Path, body: str, named: str) -> None:
    write_issue(project, body=f"Hello.\n\n{body}")
    errors = _errors(project)
    assert any(message.startswith(f"the HTML has {named}:") for message in errors), errors


def test_plain_raw_html_and_images_are_not_errors(project: Path) -> None:
    write_issue(
        project,
        body='Hello.\n\n<p style="color: #c00">Red <b>words</b></p>\n\n'
        '<img src="https://example.org/a.png" alt="A">\n',
    )
    assert _errors(project) == []


def test_a_markdown_javascript_link_never_becomes_a_link(project: Path) -> None:
    write_issue(project, body="[Click](javascript:alert(1)) and [ok](https://copro.example.org)\n")
    config = load_config(project)
    html, _text = prepare_issue(config, "2026-12").render(subscriber())
    assert 'href="javascript:' not in html.replace("&#58;", ":")
    assert 'href="https://copro.example.org"' in html
    assert _errors(project) == []


@needs_chromium
def test_a_hostile_issue_is_refused_and_its_preview_runs_no_script(
    cli, project: Path, tmp_path: Path
) -> None:
    write_issue(project, body=HOSTILE)
    result = cli("issue", "preview", "2026-12")
    assert result.exit_code == 1
    for named in ("<script>", "onerror=", "script URL", "<iframe>", "<form>", "<input>"):
        assert named in result.output, named
    page = project / "build" / "2026-12" / "index.html"
    dom = subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=3000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=90, check=True,
    ).stdout  # fmt: skip
    assert "Hello." in dom  # the page did load
    assert "data-ran" not in dom  # and nothing in it ran
    assert cli("send", "2026-12", "--yes").exit_code == 1  # and it is never sent
