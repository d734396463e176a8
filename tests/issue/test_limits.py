"""Checks that say what they found (issue 26): a deep quote is a deep quote, deep
HTML is deep HTML, and a huge issue is refused with its size before it is
rendered for anyone."""

from __future__ import annotations

from pathlib import Path

from support.render import SIMPLE_BODY, write_issue


def errors(result) -> list[str]:  # noqa: ANN001
    return [line for line in result.output.splitlines() if line.startswith("error:")]


def test_twenty_nested_quotes_are_reported_as_quote_depth(cli, project: Path) -> None:
    write_issue(project, body=SIMPLE_BODY + "\n" + "> " * 20 + "Hello {{ subscriber.name }}\n")
    result = cli("issue", "check", "2026-12")
    assert result.exit_code == 1
    assert errors(result) == [
        "error: issues/2026-12.md: quotes nested 20+ deep ('>' inside '>'); at most 10"
    ]
    assert "personal field" not in result.output


def test_ten_nested_quotes_are_fine(cli, project: Path) -> None:
    write_issue(project, body=SIMPLE_BODY + "\n" + "> " * 10 + "A long thread\n")
    result = cli("issue", "check", "2026-12")
    assert result.exit_code == 0, result.output


def test_lists_nested_past_what_markdown_reads_are_reported(cli, project: Path) -> None:
    deep = "".join("  " * level + "- item\n" for level in range(12))
    write_issue(project, body=SIMPLE_BODY + "\n" + deep)
    result = cli("issue", "check", "2026-12")
    assert result.exit_code == 1
    assert "lists or quotes nested more than 18 levels deep" in errors(result)[0]


def test_255_nested_divs_are_reported_as_nesting_depth(cli, project: Path) -> None:
    write_issue(project, body=SIMPLE_BODY + "\n" + "<div>" * 255 + "x" + "</div>" * 255 + "\n")
    result = cli("issue", "check", "2026-12")
    assert result.exit_code == 1
    assert errors(result) == [
        "error: issues/2026-12.md: HTML elements nested 255 deep (<div> inside <div>...);"
        " at most 100"
    ]
    assert "used inside CSS" not in result.output


def test_an_issue_over_2_mb_of_html_is_refused_with_its_size(cli, project: Path) -> None:
    rows = "\n".join(f"| {n} | a cell of the table {n} | more |" for n in range(40_000))
    write_issue(project, body=SIMPLE_BODY + "\n| n | text | more |\n|---|---|---|\n" + rows + "\n")
    for command in (("issue", "check", "2026-12"), ("send", "2026-12", "--yes")):
        result = cli(*command)
        assert result.exit_code == 1
        (line,) = errors(result)
        assert line.startswith("error: issues/2026-12.md: its HTML is ")
        assert line.endswith(" MB, over the limit of 2 MB (Gmail clips a message at 102 KB)")
    assert not list((project / "outbox").rglob("*.eml"))
