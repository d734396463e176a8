"""`newsletter send` and `newsletter status` through the real CLI (in-process)."""

from __future__ import annotations

import email
import json
import mailbox
import socket
from email import policy
from pathlib import Path

import pytest

from newsletter.sending.campaign import TEST_TOKEN

from support.render import fill_in
from support.smtp import USER, Server, Sink, add_subscribers, configure_smtp

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
SLUG = "2026-12"


@pytest.fixture
def issue(cli, project) -> str:
    result = cli("issue", "new", SLUG, "--subject", "December news")
    assert result.exit_code == 0, result.output
    fill_in(project, SLUG)
    return SLUG


def outbox(project: Path) -> list[email.message.EmailMessage]:
    box = mailbox.Maildir(project / "outbox", factory=None, create=False)
    return [email.message_from_bytes(m.as_bytes(), policy=policy.default) for m in box]


def test_send_to_the_outbox_then_status(cli, project, store, issue):
    emails = add_subscribers(store, 5)
    result = cli("send", issue, "--yes")
    assert result.exit_code == 0, result.output
    assert "December news" in result.output and "5 active subscribers" in result.output
    assert "outbox" in result.output and "sent" in result.output
    messages = outbox(project)
    assert sorted(m["To"].addresses[0].addr_spec for m in messages) == emails
    assert all(m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" for m in messages)
    status = cli("status", issue)
    assert status.exit_code == 0 and "finished" in status.output
    listing = json.loads(cli("status", "--json").output)
    assert [row["slug"] for row in listing] == [issue]  # one row for the issue
    again = cli("send", issue, "--yes")
    assert again.exit_code == 0 and "nothing to send" in again.output
    assert len(outbox(project)) == 5


def test_without_yes_and_without_input_nothing_is_sent(cli, project, store, issue):
    add_subscribers(store, 2)
    result = cli("send", issue)
    assert result.exit_code == 1
    assert "was not answered" in result.output and "Traceback" not in result.output
    declined = cli("send", issue, input="n\n")
    assert declined.exit_code == 0 and "not sent" in declined.output
    assert cli("status", issue).exit_code == 1  # nothing was recorded
    assert not (project / "outbox").exists()


def test_answering_yes_sends(cli, project, store, issue):
    add_subscribers(store, 2)
    result = cli("send", issue, input="y\n")
    assert result.exit_code == 0, result.output
    assert len(outbox(project)) == 2


def test_only_a_first_run_that_sends_keeps_its_backup(cli, project, store, issue):
    """The first run's backup is made while the issue is prepared: a run that is
    declined or dry keeps none (and no half-made copy), a first run that sends keeps
    one, and a resumed run takes none."""
    add_subscribers(store, 2)

    def backups() -> list[str]:
        return sorted(path.name for path in (project / "backups").glob("*"))

    assert cli("send", issue, input="n\n").exit_code == 0
    assert cli("send", issue, "--dry-run").exit_code == 0
    assert backups() == []
    assert cli("send", issue, "--yes").exit_code == 0
    (kept,) = backups()
    assert kept.startswith("newsletter-") and kept.endswith(f"-before-send-{issue}.db")
    assert cli("send", issue, "--yes").exit_code == 0  # nothing left: no new backup
    assert backups() == [kept]


def test_dry_run_builds_everything_and_records_nothing(cli, project, store, issue):
    add_subscribers(store, 3)
    result = cli("send", issue, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "3 messages built" in result.output and "nothing was recorded" in result.output
    assert not (project / "outbox").exists()
    assert "has not been sent" in cli("status", issue).output


def test_test_message_goes_to_one_address_with_a_dead_token(
    cli, project, store, issue, smtp_server
):
    add_subscribers(store, 3)
    configure_smtp(project, smtp_server)
    result = cli("send", issue, "--test-to", "me@example.net")
    assert result.exit_code == 0, result.output
    [received] = smtp_server.handler.messages
    assert received.rcpt_to == "me@example.net"
    assert f"/u/{TEST_TOKEN}".encode() in received.data
    assert b"Sample Reader" in received.data  # a made-up reader, not a real subscriber
    assert b"Person " not in received.data
    assert "has not been sent" in cli("status", issue).output


def test_test_message_shows_a_real_subscriber_only_when_named_with_as(
    cli, project, store, issue, smtp_server
):
    add_subscribers(store, 3)
    configure_smtp(project, smtp_server)
    result = cli("send", issue, "--test-to", "me@example.net", "--as", "person00001@example.org")
    assert result.exit_code == 0, result.output
    assert "person00001@example.org's details" in result.output
    [received] = smtp_server.handler.messages
    assert received.rcpt_to == "me@example.net"
    assert b"Person 1" in received.data
    assert b"person00001@example.org" not in received.data  # the To is the test address


def test_as_names_an_unknown_subscriber_in_one_line(cli, project, store, issue, smtp_server):
    configure_smtp(project, smtp_server)
    result = cli("send", issue, "--test-to", "me@example.net", "--as", "nobody@example.org")
    assert result.exit_code == 1
    assert "error: no subscriber nobody@example.org" in result.output
    assert smtp_server.handler.messages == []


def test_refused_login_is_one_line_and_marks_nobody_failed(
    cli, project, store, issue, auth_server, monkeypatch
):
    add_subscribers(store, 3)
    monkeypatch.setenv("PW", "wrong")
    configure_smtp(project, auth_server, username=USER, password_env="PW")
    result = cli("send", issue, "--yes")
    assert result.exit_code == 1
    assert "login refused: 535" in result.output and "Traceback" not in result.output
    assert "has not been sent" in cli("status", issue).output  # the list was not frozen
    assert auth_server.handler.messages == []


def test_status_groups_failure_reasons(cli, project, store, issue, faulty_server):
    add_subscribers(store, 3)
    add_subscribers(store, 2, domain="nowhere.example", start=10)
    configure_smtp(project, faulty_server, connections=1, rate=0)
    result = cli("send", issue, "--yes")
    assert result.exit_code == 0, result.output
    status = cli("status", issue).output
    assert "failed:" in status and "550 5.1.1" in status
    assert len(faulty_server.handler.messages) == 3


def test_uncertain_deliveries_are_reported_and_resent_on_request(
    cli, project, store, issue, faulty_server
):
    emails = add_subscribers(store, 3)
    faulty_server.handler.lose_reply_for = {emails[1]}
    configure_smtp(project, faulty_server, connections=1, rate=0)
    first = cli("send", issue, "--yes")
    assert first.exit_code == 0, first.output
    status = cli("status", issue).output
    assert "1 uncertain" in status and "--resend-uncertain" in status
    again = cli("send", issue, "--yes")
    assert "nothing to send" in again.output and "--resend-uncertain" in again.output
    resent = cli("send", issue, "--yes", "--resend-uncertain")
    assert resent.exit_code == 0 and "will be sent again" in resent.output
    assert faulty_server.handler.recipients().count(emails[1]) == 2


def test_an_edited_issue_is_refused_once_sending_began(cli, project, store, issue):
    add_subscribers(store, 2)
    assert cli("send", issue, "--yes").exit_code == 0
    path = project / "issues" / f"{issue}.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nA late addition.\n", encoding="utf-8")
    result = cli("send", issue, "--yes")
    assert result.exit_code == 1 and "changed since it started sending" in result.output
    assert cli("send", issue, "--yes", "--allow-changes").exit_code == 0


def test_unknown_issue_is_a_clear_error(cli):
    result = cli("send", "2031-01", "--yes")
    assert result.exit_code == 1 and "no issue 2031-01" in result.output


def test_an_address_smtp_cannot_carry_fails_alone(cli, project, store, issue, smtp_server):
    emails = add_subscribers(store, 2)
    # The import refuses such an address now; a database from before that rule may hold one.
    store.add_subscriber("jose@example.org", name="José")
    store.conn.execute("UPDATE subscribers SET email = 'josé@example.org' WHERE name = 'José'")
    configure_smtp(project, smtp_server, connections=1, rate=0)
    result = cli("send", issue, "--yes")
    assert result.exit_code == 0, result.output
    assert sorted(smtp_server.handler.recipients()) == emails
    status = cli("status", issue).output
    assert "failed:" in status and "cannot address the message" in status


def test_a_server_that_stops_answering_is_one_line_with_a_hint(cli, project, store, issue):
    add_subscribers(store, 1)
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never says a word
        configure_smtp(project, Server(Sink(), silent.getsockname()[1]), timeout=1)
        result = cli("send", issue, "--test-to", "me@example.net")
    assert result.exit_code == 1
    assert "error: test message not sent" in result.output
    assert "the server stopped answering (timed out)" in result.output
    assert "hint: check smtp.host and smtp.port" in result.output
    assert "Traceback" not in result.output


def test_connections_for_the_outbox_is_refused_not_ignored(cli, project, store, issue):
    add_subscribers(store, 2)
    result = cli("send", issue, "--yes", "--connections", "4")
    assert result.exit_code == 1
    assert "error: --connections is for SMTP sessions" in result.output
    assert not (project / "outbox").exists()
