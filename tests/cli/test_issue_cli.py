"""`newsletter issue new|preview|check` through the real CLI."""

from __future__ import annotations

import shutil
import webbrowser
from pathlib import Path

import pytest

from newsletter.issue.active_content import with_preview_policy
from newsletter.project import open_project

from support.render import EXAMPLES, SIMPLE_BODY, bodies, parse, write_issue, write_template
from support.smtp import add_subscribers


def test_new_scaffolds_an_issue_that_check_refuses_until_written_over(cli, project: Path) -> None:
    result = cli("issue", "new", "2026-12", "--subject", "Newyddion: December")
    assert result.exit_code == 0, result.output
    assert "created issues/2026-12.md" in result.output
    path = project / "issues" / "2026-12.md"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\nsubject: 'Newyddion: December'\n")
    assert "date: '2026-12-01'" in text
    check = cli("issue", "check", "2026-12")
    assert check.exit_code == 1
    assert "issues/2026-12.md:3: the sample text of `issue new` is still there" in check.output
    assert "issues/2026-12.md:11: https://example.org is the sample's placeholder link" in (
        check.output
    )
    front = text[: text.index("---", 3) + 3].replace(
        "One sentence shown after the subject in the inbox.", "Our winter gathering"
    )
    path.write_text(front + "\n\n" + SIMPLE_BODY, encoding="utf-8")
    check = cli("issue", "check", "2026-12")
    assert check.exit_code == 0, check.output
    assert "no problems found" in check.output


def test_send_refuses_the_unedited_scaffold_before_any_message(cli, project: Path, store) -> None:
    add_subscribers(store, 3)
    assert cli("issue", "new", "2026-12").exit_code == 0
    result = cli("send", "2026-12", "--yes")
    assert result.exit_code == 1
    assert "the sample text of `issue new` is still there" in result.output
    assert "not sent: the checks found 2 error(s)" in result.output
    assert not (project / "outbox").exists() or not any((project / "outbox").rglob("*.eml"))


def test_new_refuses_to_overwrite_and_leaves_the_file_alone(cli, project: Path) -> None:
    path = write_issue(project)
    before = path.read_bytes()
    result = cli("issue", "new", "2026-12")
    assert result.exit_code == 1
    assert "issues/2026-12.md already exists; nothing was changed" in result.stderr
    assert path.read_bytes() == before


@pytest.mark.parametrize("slug", ["../escape", "a/b", ".hidden", "x y"])
def test_new_refuses_unsafe_names(cli, project: Path, slug: str) -> None:
    result = cli("issue", "new", slug)
    assert result.exit_code == 1
    assert "invalid issue name" in result.stderr
    assert sorted(p.name for p in (project / "issues").iterdir()) == []
    assert not (project / "escape.md").exists()


@pytest.mark.parametrize(
    ("slug", "reason"),
    [
        ("index", "the archive's index page has that name"),
        ("FEED", "the archive's feed page has that name"),
        ("2026-12.cy", "it ends like a language code (.cy), as one language's page does"),
    ],
)
def test_names_that_would_overwrite_an_archive_page_are_refused(cli, project, slug, reason):
    """The archive names pages index.html, feed.atom and SLUG.cy.html: an issue named
    like one of them would replace it online (on macOS and Windows whatever the case)."""
    result = cli("issue", "new", slug)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"error: an issue cannot be called {slug!r}: {reason}"
    assert list((project / "issues").iterdir()) == []
    write_issue(project, slug)  # written by hand: the check, and so the send, refuses it
    check = cli("issue", "check", slug)
    assert check.exit_code == 1
    assert f"rename the issue's file: {reason}" in check.output
    assert cli("issue", "new", "2026-12.v2").exit_code == 0  # a dot is still allowed


def test_preview_writes_html_text_and_eml_and_prints_paths_and_sizes(cli, project: Path) -> None:
    write_issue(project)
    result = cli("issue", "preview", "2026-12")
    assert result.exit_code == 0, result.output
    folder = project / "build" / "2026-12"
    for name in ("index.html", "text.txt", "message.eml"):
        assert f"build/2026-12/{name}" in result.output
    assert "reader@example.org (sample)" in result.output
    assert "KB" in result.output and "no problems found" in result.output
    message = parse((folder / "message.eml").read_bytes())
    text, html = bodies(message)
    preview = (folder / "index.html").read_text(encoding="utf-8").replace("\n", "\r\n")
    assert preview == with_preview_policy(html)  # the message's HTML, that never runs script
    assert text == (folder / "text.txt").read_text(encoding="utf-8").replace("\n", "\r\n")
    assert str(message["To"]) == "Sample Reader <reader@example.org>"


def test_preview_to_a_subscriber_uses_their_fields_and_token(cli, project: Path) -> None:
    with open_project(project) as (_config, store):
        person = store.add_subscriber("llyr@example.org", name="Llŷr <Jones>").subscriber
    write_issue(project)
    result = cli("issue", "preview", "2026-12", "--to", "LLYR@example.org")
    assert result.exit_code == 0, result.output
    assert "preview for llyr@example.org:" in result.output
    html = (project / "build" / "2026-12" / "index.html").read_text(encoding="utf-8")
    assert f'href="https://news.example.org/u/{person.token}"' in html
    message = parse((project / "build" / "2026-12" / "message.eml").read_bytes())
    assert message["To"].addresses[0].display_name == "Llŷr <Jones>"


def test_preview_open_hands_the_html_file_to_the_browser(cli, project: Path, monkeypatch) -> None:
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or True)
    write_issue(project)
    result = cli("issue", "preview", "2026-12", "--open")
    assert result.exit_code == 0, result.output
    assert opened == [(project / "build" / "2026-12" / "index.html").resolve().as_uri()]


def test_preview_open_says_so_when_no_browser_can_be_found(cli, project: Path, monkeypatch):
    monkeypatch.setattr(webbrowser, "open", lambda url: False)  # what it answers with none
    write_issue(project)
    result = cli("issue", "preview", "2026-12", "--open")
    assert result.exit_code == 0, result.output
    assert "no web browser found to open it: open " in result.output
    assert "build/2026-12/index.html yourself" in result.output


def test_a_misspelt_attribute_is_an_error_naming_the_close_one(cli, project: Path) -> None:
    with open_project(project) as (_config, store):
        store.add_subscriber("llyr@example.org", name="Llŷr")
        store.conn.execute('UPDATE subscribers SET attributes = \'{"membership_type": "full"}\'')
    html = (project / "templates" / "version.html").read_text(encoding="utf-8")
    line = "{{ content }}"
    write_template(
        project,
        "version.html",
        html.replace(line, line + "{{ subscriber.attributes.membership_typ }}"),
    )
    write_issue(project)
    result = cli("issue", "check", "2026-12")
    assert result.exit_code == 1
    assert (
        "error: subscriber.attributes.membership_typ: no subscriber has this attribute,"
        " so it would print blank (did you mean membership_type?)" in result.output
    )
    write_template(
        project,
        "version.html",
        html.replace(line, line + "{{ subscriber.attributes.membership_type }}"),
    )
    assert cli("issue", "check", "2026-12").exit_code == 0


@pytest.mark.parametrize("command", ["check", "preview"])
def test_undefined_variable_fails_with_file_and_line_and_no_traceback(
    cli, project: Path, command: str
) -> None:
    write_template(
        project, "issue.txt", "{{ content }}\n{{ unsubscribe_url }}\n{{ newsletter.twitter }}\n"
    )
    write_issue(project)
    result = cli("issue", command, "2026-12")
    assert result.exit_code == 1
    assert (
        result.stderr.strip() == "error: templates/issue.txt:3: undefined name 'newsletter.twitter'"
    )
    assert "Traceback" not in result.output + result.stderr
    assert not (project / "build" / "2026-12").exists()


def test_check_exits_non_zero_on_errors_and_lists_them(cli, project: Path) -> None:
    write_template(project, "issue.txt", "{{ content }}\n")
    write_issue(project, body="[old site](http://old.example.org/)\n")
    result = cli("issue", "check", "2026-12")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "error: the text part has no unsubscribe link ({{ unsubscribe_url }})" in lines
    assert "warning: http: link (use https): http://old.example.org/" in lines
    errors = sum(line.startswith("error: ") for line in lines)
    warnings = sum(line.startswith("warning: ") for line in lines)
    assert errors == 2  # no unsubscribe link, no postal address in the text part
    assert lines[-1] == f"checks: {errors} error(s), {warnings} warning(s)"


def test_warnings_alone_do_not_fail_check(cli, project: Path) -> None:
    write_issue(project, body="![](https://example.org/a.png)\n")
    result = cli("issue", "check", "2026-12")
    assert result.exit_code == 0
    assert "warning: image without alt text" in result.output


def test_unknown_issue_is_one_line_with_a_hint(cli, project: Path) -> None:
    result = cli("issue", "check", "2031-01")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: no issue 2031-01: issues/2031-01.md does not exist",
        "hint: create it with `newsletter issue new 2031-01`",
    ]


def test_example_project_issue_checks_and_previews_cleanly(cli, tmp_path: Path) -> None:
    folder = tmp_path / "example"
    shutil.copytree(EXAMPLES / "issues", folder / "issues")
    shutil.copy(EXAMPLES / "newsletter.toml", folder / "newsletter.toml")
    check = cli("issue", "check", "2026-12", project_dir=folder)
    assert check.exit_code == 0, check.output
    preview = cli("issue", "preview", "2026-12", project_dir=folder)
    assert preview.exit_code == 0, preview.output
    assert (folder / "build" / "2026-12" / "index.html").stat().st_size > 5000


def test_check_refuses_a_template_that_tests_a_subscriber_field(cli, project: Path) -> None:
    write_template(
        project,
        "issue.txt",
        "{{ content }}\n{% if subscriber.name %}Dear {{ subscriber.name }}{% endif %}\n{{ unsubscribe_url }}\n",
    )
    write_issue(project)
    result = cli("issue", "check", "2026-12")
    assert result.exit_code == 1
    first, hint = result.stderr.splitlines()
    assert first.startswith("error: templates/issue.txt:2: a template may print subscriber fields")
    assert hint == "hint: see 'Personal fields' in the manual, docs/issues.md"


def test_bad_front_matter_fails_preview_with_file_and_line(cli, project: Path) -> None:
    write_issue(project, front="subject: fine\npreheader: [broken\n")
    result = cli("issue", "preview", "2026-12")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: issues/2026-12.md:3: the front matter is not valid YAML"
    )
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("written", ["On", "No", "yes", "2026", "null", "~"])
def test_a_subject_is_always_the_text_as_written(cli, project: Path, written: str) -> None:
    write_issue(project, front=f"subject: {written}\n")
    assert cli("issue", "preview", "2026-12").exit_code == 0
    message = parse((project / "build" / "2026-12" / "message.eml").read_bytes())
    assert message["Subject"] == written


def test_an_unquoted_colon_in_the_subject_is_one_line_with_a_quoting_hint(cli, project) -> None:
    write_issue(project, front="subject: Co-pro Newsletter: December 2026\n")
    result = cli("issue", "check", "2026-12")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0] == (
        "error: issues/2026-12.md:2: the front matter is not valid YAML:"
        " mapping values are not allowed here"
    )
    assert lines[1].startswith('hint: put the value in double quotes, e.g. subject: "Co-pro')
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("written", "reason"),
    [("2026-13-01", "month must be in 1..12"), ("2026-02-30", "day is out of range for month")],
)
@pytest.mark.parametrize("command", ["check", "preview"])
def test_an_impossible_date_is_one_line_not_a_traceback(
    cli, project: Path, command: str, written: str, reason: str
) -> None:
    write_issue(project, front=f"subject: News\ndate: {written}\n")
    result = cli("issue", command, "2026-12")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"error: issues/2026-12.md:3: 'date' must be a real date written YYYY-MM-DD:"
        f" '{written}' ({reason})"
    )
    assert "Traceback" not in result.output + result.stderr


@pytest.mark.parametrize("given", ["2026-12.md", "issues/2026-12.md"])
def test_a_slug_with_md_says_the_md_is_not_part_of_the_name(cli, project, given) -> None:
    write_issue(project)
    result = cli("issue", "preview", given)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"error: invalid issue name '{given}': the name is the file's name without '.md'",
        "hint: use 2026-12",
    ]
