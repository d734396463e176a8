"""check_issue: the errors that stop an issue and the warnings that help it."""

from __future__ import annotations

import shutil
from pathlib import Path

from newsletter.config import load_config
from newsletter.issue.checks import Finding, check_issue, has_errors
from newsletter.issue.rendering import prepare_issue

from support.render import EXAMPLES, set_config, write_issue, write_template


def findings_for(project: Path, slug: str = "2026-12") -> list[Finding]:
    config = load_config(project)
    return check_issue(config, prepare_issue(config, slug))


def messages(findings: list[Finding], level: str) -> list[str]:
    return [finding.message for finding in findings if finding.level == level]


def test_a_plain_issue_on_the_default_templates_has_no_findings(project: Path) -> None:
    write_issue(project)
    assert findings_for(project) == []


def test_the_example_issue_passes_with_no_errors(tmp_path: Path) -> None:
    folder = tmp_path / "example"
    shutil.copytree(EXAMPLES / "issues", folder / "issues")
    shutil.copy(EXAMPLES / "newsletter.toml", folder / "newsletter.toml")
    findings = findings_for(folder)
    assert messages(findings, "error") == []
    assert findings == []


def test_a_150_kb_issue_warns_that_gmail_clips_it(project: Path) -> None:
    paragraph = "A paragraph of news about the network and its members. " * 20
    write_issue(project, body="\n\n".join([paragraph] * 140))
    findings = findings_for(project)
    assert not has_errors(findings)
    assert any("Gmail clips messages over 102 KB" in m for m in messages(findings, "warning"))


def test_missing_unsubscribe_link_in_either_part_is_an_error(project: Path) -> None:
    write_template(project, "issue.txt", "{{ content }}\n{{ newsletter.postal_address }}\n")
    footer = (project / "templates" / "footer.html").read_text(encoding="utf-8")
    write_template(project, "footer.html", footer.replace('href="{{ url }}"', 'href="#"'))
    write_issue(project)
    errors = messages(findings_for(project), "error")
    assert "the HTML part has no unsubscribe link ({{ unsubscribe_url }})" in errors
    assert "the text part has no unsubscribe link ({{ unsubscribe_url }})" in errors


def test_unsubscribe_url_printed_but_not_linked_is_an_error(project: Path) -> None:
    footer = (project / "templates" / "footer.html").read_text(encoding="utf-8")
    write_template(
        project,
        "footer.html",
        footer.replace('<a class="unsubscribe" href="{{ url }}">', "{{ url }} <a>"),
    )
    write_issue(project)
    errors = messages(findings_for(project), "error")
    assert errors == ['the HTML part shows unsubscribe_url but not as href="{{ unsubscribe_url }}"']


def test_missing_postal_address_is_an_error(project: Path) -> None:
    set_config(project, postal_address="")
    write_issue(project)
    errors = messages(findings_for(project), "error")
    assert errors == ["no postal address: set newsletter.postal_address in newsletter.toml"]


def test_templates_that_drop_the_postal_address_are_an_error(project: Path) -> None:
    write_template(project, "issue.txt", "{{ content }}\n{{ unsubscribe_url }}\n")
    write_issue(project)
    assert messages(findings_for(project), "error") == [
        "the text part does not show the postal address"
    ]


def test_images_without_alt_relative_and_http_links_are_warnings(project: Path) -> None:
    write_issue(
        project,
        body=(
            "![](https://example.org/a.png) ![A choir](https://example.org/choir.jpg)\n\n"
            "See [our page](/about) and [the old site](http://old.example.org/).\n\n"
            "[mail us](mailto:hello@example.org) or [jump](#top)\n"
        ),
    )
    findings = findings_for(project)
    warnings = messages(findings, "warning")
    assert not has_errors(findings)
    assert "image without alt text: https://example.org/a.png" in warnings
    assert "relative URL (mail readers need a full https:// URL): /about" in warnings
    assert "http: link (use https): http://old.example.org/" in warnings
    assert len(warnings) == 3  # mailto:, #anchors and https images are fine


def test_a_text_part_much_shorter_than_the_html_is_a_warning(project: Path) -> None:
    write_template(
        project,
        "issue.txt",
        "See the HTML version.\n{{ unsubscribe_url }}\n{{ newsletter.postal_address }}\n",
    )
    write_issue(project, body="Long news. " * 200)
    warnings = messages(findings_for(project), "warning")
    assert len(warnings) == 1 and warnings[0].startswith("the text part (")


def test_errors_come_before_warnings(project: Path) -> None:
    set_config(project, postal_address="")
    write_issue(project, body="[old](http://old.example.org/)\n")
    levels = [finding.level for finding in findings_for(project)]
    assert levels == sorted(levels, key=lambda level: level != "error") and levels[0] == "error"


def test_a_postal_address_with_an_apostrophe_is_found_in_the_html(project: Path) -> None:
    set_config(project, postal_address="St David's Hall, Cardiff & Vale")
    write_issue(project)
    assert findings_for(project) == []
