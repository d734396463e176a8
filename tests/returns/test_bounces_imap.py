"""`newsletter bounces` against a real Dovecot over verified TLS: read, sort, act,
and move what was handled to the done folder."""

from __future__ import annotations

import pytest

from newsletter.project import open_project

from support.returns import sample

IMAP_CONFIG = """
[bounces.imap]
host = "127.0.0.1"
port = {port}
security = "ssl"
username = "{user}"
password_env = "NEWSLETTER_IMAP_PASSWORD"
"""


@pytest.fixture
def mailbox_server(dovecot, project, sent, monkeypatch):  # noqa: ANN001, ANN201
    """The project reads its returns from Dovecot, trusting the test certificate."""
    dovecot.clear()
    with (project / "newsletter.toml").open("a") as file:
        file.write(IMAP_CONFIG.format(port=dovecot.port, user=dovecot.user))
    monkeypatch.setenv("NEWSLETTER_IMAP_PASSWORD", dovecot.password)
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.ca_file))
    return dovecot


def test_bounces_reads_sorts_and_moves_imap_messages(project, sent, mailbox_server, cli):
    people = list(sent.values())
    mailbox_server.append(
        sample("gmail-dsn.eml", people[0]),
        sample("o365-ndr.eml", people[1]),
        sample("qmail.eml", people[2]),
        sample("arf-complaint.eml", people[3]),
        sample("mailto-unsubscribe.eml", people[4]),
        sample("auto-reply.eml", people[5]),
        sample("person.eml", people[6]),
    )
    dry = cli("bounces", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert len(mailbox_server.messages("INBOX")) == 7

    result = cli("bounces")
    assert result.exit_code == 0, result.output
    print(result.output)  # the summary, shown with -s
    assert "7 messages read" in result.output
    assert "IMAP bounces@example.org@127.0.0.1" in result.output
    with open_project(project) as (_config, store):
        state = {s.email: (s.status, s.left_via) for s in store.list_subscribers()}
    assert state[people[0].recipient][0] == "bounced"  # by VERP
    assert [state[p.recipient][0] for p in people[1:3]] == ["active"] * 2  # probed first
    assert "probes out: 2" in result.output
    assert state[people[3].recipient] == ("unsubscribed", "complaint")
    assert state[people[4].recipient] == ("unsubscribed", "mailto")
    inbox = mailbox_server.messages("INBOX")
    assert len(inbox) == 1 and b"Could you add my colleague" in inbox[0]
    assert len(mailbox_server.messages("newsletter-done")) == 6

    again = cli("bounces")
    assert "1 messages read" in again.output and "other, left for a person" in again.output


def test_an_untrusted_certificate_is_one_clear_error(mailbox_server, cli, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE")
    result = cli("bounces")
    assert result.exit_code == 1
    assert "TLS certificate not trusted" in result.output and "Traceback" not in result.output


def test_a_refused_imap_login_is_one_clear_error(mailbox_server, cli, monkeypatch):
    monkeypatch.setenv("NEWSLETTER_IMAP_PASSWORD", "wrong")
    result = cli("bounces")
    assert result.exit_code == 1
    assert "error: IMAP" in result.output and "bounces.imap.password_env" in result.output


def test_starttls_on_the_plain_port_works_the_same(project, sent, mailbox_server, cli):
    config = (project / "newsletter.toml").read_text()
    config = config.replace(
        f"port = {mailbox_server.port}", f"port = {mailbox_server.starttls_port}"
    )
    (project / "newsletter.toml").write_text(
        config.replace('security = "ssl"', 'security = "starttls"')
    )
    person = next(iter(sent.values()))
    mailbox_server.append(sample("gmail-dsn.eml", person))
    result = cli("bounces")
    assert result.exit_code == 0, result.output
    assert "marked bounced" in result.output
    assert mailbox_server.messages("INBOX") == []
