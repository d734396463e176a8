"""The CSS inlining is done once per rendered issue, not once per command."""

from __future__ import annotations

from pathlib import Path

from newsletter.config import load_config
from newsletter.issue import inlining
from newsletter.issue.inlining import inline_css, inline_css_remembered
from newsletter.issue.rendering import prepare_issue

from support.render import subscriber, write_issue

STYLED = "<html><head><style>p { color: #123456 }</style></head><body><p>{}</p></body></html>"


def remembered(project: Path) -> list[Path]:
    return sorted((project / "build" / ".inlined").glob("*.html"))


def test_a_second_command_reads_the_inlined_html_the_first_one_made(project: Path) -> None:
    write_issue(project)
    config = load_config(project)
    first = prepare_issue(config, "2026-12")
    [kept] = remembered(project)
    assert "December news" in kept.read_text() and 'style="' in kept.read_text()
    kept.write_text(kept.read_text().replace("December news", "Read back"), encoding="utf-8")
    second = prepare_issue(config, "2026-12")  # what a later command does
    html, _text = second.render(subscriber())
    assert "Read back" in html and "Read back" not in first.render(subscriber())[0]


def test_the_remembered_result_is_premailers_and_follows_the_html(tmp_path: Path) -> None:
    html = STYLED.replace("{}", "one")
    assert inline_css_remembered(html, tmp_path) == inline_css(html)
    assert inline_css_remembered(html, tmp_path) == inline_css(html)  # read back
    other = inline_css_remembered(STYLED.replace("{}", "two"), tmp_path)
    assert 'style="color:#123456"' in other and ">two<" in other
    assert len(list((tmp_path / ".inlined").glob("*.html"))) == 2


def test_only_the_last_few_are_kept(tmp_path: Path) -> None:
    for n in range(inlining.KEEP + 3):
        inline_css_remembered(STYLED.replace("{}", f"issue {n}"), tmp_path)
    kept = [path.read_text() for path in (tmp_path / ".inlined").glob("*.html")]
    assert len(kept) == inlining.KEEP
    assert any(f"issue {inlining.KEEP + 2}" in html for html in kept)
    assert not any(">issue 0<" in html for html in kept)


def test_a_build_folder_that_cannot_be_written_only_costs_the_inlining(tmp_path: Path) -> None:
    blocked = tmp_path / "build"
    blocked.write_text("a file where the folder should be")
    html = STYLED.replace("{}", "x")
    assert inline_css_remembered(html, blocked) == inline_css(html)
