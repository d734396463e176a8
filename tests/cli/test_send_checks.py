"""`send` runs the issue checks first: errors refuse, warnings are shown before asking."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest

from support.render import write_issue, write_template
from support.smtp import add_subscribers

SLUG = "2026-12"


@pytest.fixture
def broken_issue(project: Path, store) -> str:
    """An issue whose templates lost the unsubscribe link: `issue check` finds errors."""
    add_subscribers(store, 3)
    write_issue(project, SLUG)
    # the footers are where the default templates show the link
    write_template(project, "footer.html", "<p>{{ newsletter.postal_address }}</p>\n")
    write_template(project, "footer.txt", "{{ newsletter.postal_address }}\n")
    return SLUG


def _outbox(project: Path) -> list[bytes]:
    folder = project / "outbox"
    if not folder.exists():
        return []
    return [message.as_bytes() for message in mailbox.Maildir(folder, create=False)]


def test_send_refuses_an_issue_the_checks_find_errors_in(cli, project, broken_issue):
    assert cli("issue", "check", broken_issue).exit_code == 1
    result = cli("send", broken_issue, "--yes")
    assert result.exit_code == 1
    assert "error: the text part has no unsubscribe link" in result.output
    assert "error: not sent: the checks found" in result.output
    assert _outbox(project) == []
    assert "has not been sent" in cli("status", broken_issue).output


def test_test_message_is_refused_too_when_the_checks_find_errors(cli, project, broken_issue):
    result = cli("send", broken_issue, "--test-to", "me@example.net")
    assert result.exit_code == 1
    assert "not sent: the checks found" in result.output
    assert _outbox(project) == []


def test_dry_run_is_refused_too_when_the_checks_find_errors(cli, project, broken_issue):
    result = cli("send", broken_issue, "--dry-run")
    assert result.exit_code == 1
    assert "not sent: the checks found" in result.output


def test_send_shows_the_warnings_before_asking(cli, project, store):
    add_subscribers(store, 2)
    write_issue(project, SLUG, body="Read [the report](http://example.org/report).\n")
    result = cli("send", SLUG, input="n\n")
    assert result.exit_code == 0, result.output
    warning = result.output.index("warning: http: link (use https): http://example.org/report")
    assert warning < result.output.index("Send 2 messages now?")
    assert _outbox(project) == []


def test_send_with_only_warnings_still_sends(cli, project, store):
    add_subscribers(store, 2)
    write_issue(project, SLUG, body="Read [the report](http://example.org/report).\n")
    result = cli("send", SLUG, "--yes")
    assert result.exit_code == 0, result.output
    assert "checks: 0 error(s), 1 warning(s)" in result.output
    assert len(_outbox(project)) == 2
