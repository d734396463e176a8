"""RFC 2920 pipelining against aiosmtpd offering PIPELINING, the ledger checked after each.

The driver (support.pipelined) records results the way the send loop does:
250 -> sent, a refusal -> classified by replies.classify, a lost final reply ->
left `sending` (uncertain), a claim that says no -> skipped.
"""

from __future__ import annotations

import smtplib
import ssl

import pytest

from newsletter.project import open_project
from newsletter.sending.campaign import send_issue
from newsletter.sending.ledger import Ledger
from newsletter.sending.pipelining import PipelinedSession, offers_pipelining
from newsletter.sending.run import SendSettings
from newsletter.sending.transport import plan_transport

from support.pipelined import SLUG, Driver, PipeliningSink, ledger_rows, message
from support.smtp import (
    PASSWORD,
    USER,
    add_subscribers,
    authenticate,
    configure_smtp,
    simple_builder,
    start_server,
)
from support.wiretap import most_commands_ahead

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture
def pipelining_server():
    controller, server = start_server(PipeliningSink())
    yield server
    controller.stop()


@pytest.fixture
def ledger(store) -> Ledger:
    """A ledger with nothing frozen yet; `freeze` queues the active subscribers."""
    return Ledger(store)


def freeze(ledger: Ledger) -> None:
    ledger.begin(SLUG, "Subject", "hash")


def received(server) -> list[str]:  # noqa: ANN001
    return server.handler.recipients()


def test_every_message_goes_once_in_order_over_one_pipelined_connection(
    store, ledger, pipelining_server
):
    emails = add_subscribers(store, 25)
    freeze(ledger)
    driver = Driver(pipelining_server, ledger)
    outcomes = driver.run()
    assert received(pipelining_server) == emails
    assert set(outcomes.values()) == {"sent"} and ledger_rows(ledger) == dict.fromkeys(
        emails, "sent"
    )
    assert driver.connections == 1 and pipelining_server.handler.sessions == 1
    assert pipelining_server.handler.messages[0].data.count(b"\r\n.a line") == 1  # dot-stuffed


def test_replies_are_matched_to_their_messages_when_rcpt_and_the_final_dot_refuse(
    store, ledger, pipelining_server
):
    good = add_subscribers(store, 6)
    bad = add_subscribers(store, 2, domain="nowhere.example", start=100)  # 550 5.1.1 at RCPT
    freeze(ledger)
    pipelining_server.handler.temp_fail_every = 3  # 451 after the 3rd and 6th dots
    outcomes = Driver(pipelining_server, ledger).run()
    rows = ledger_rows(ledger)
    assert [rows[email] for email in bad] == ["failed", "failed"]
    assert all(outcomes[email].startswith("hard bounce: 550 5.1.1") for email in bad)
    assert [rows[email] for email in good] == ["sent", "sent", "queued", "sent", "sent", "queued"]
    assert outcomes[good[2]].startswith("temporary: 451 4.3.0")
    assert received(pipelining_server) == [good[0], good[1], good[3], good[4]]


def test_a_refused_mail_from_is_classified_and_the_next_group_starts_with_rset(
    store, ledger, pipelining_server
):
    emails = add_subscribers(store, 4)
    freeze(ledger)
    driver = Driver(pipelining_server, ledger, senders={emails[1]: "refused@example.org"})
    outcomes = driver.run()
    assert outcomes[emails[1]].startswith("temporary: sender refused@example.org refused: 451")
    assert ledger_rows(ledger) == {
        emails[0]: "sent",
        emails[1]: "queued",
        emails[2]: "sent",
        emails[3]: "sent",
    }
    assert received(pipelining_server) == [emails[0], emails[2], emails[3]]
    assert driver.connections == 1  # a refusal keeps the session


@pytest.mark.parametrize("dropped_at", [1, 2, 4])
def test_a_connection_dropped_at_mail_leaves_each_row_where_it_got(
    store, ledger, pipelining_server, dropped_at
):
    """The server hangs up on the Nth MAIL: the messages before it were answered
    (sent); that one was never claimed (queued, retried later)."""
    emails = add_subscribers(store, 5)
    freeze(ledger)
    pipelining_server.handler.drop_every = 100  # counted from here: only the Nth MAIL
    pipelining_server.handler.mails = 100 - dropped_at
    outcomes = Driver(pipelining_server, ledger).run()
    lost = emails[dropped_at - 1]
    assert outcomes[lost].startswith("temporary: connection dropped")
    expected = dict.fromkeys(emails, "sent") | {lost: "queued"}
    assert ledger_rows(ledger) == expected
    assert received(pipelining_server) == [email for email in emails if email != lost]


def test_a_reply_lost_after_the_final_dot_leaves_only_that_message_uncertain(
    store, ledger, pipelining_server
):
    emails = add_subscribers(store, 5)
    freeze(ledger)
    pipelining_server.handler.lose_reply_for = {emails[2]}  # accept, then hang up silently
    driver = Driver(pipelining_server, ledger)
    outcomes = driver.run()
    assert outcomes[emails[2]] == "uncertain"
    # emails[3]'s MAIL/RCPT/DATA went out behind emails[2]'s dot; it was never claimed.
    assert outcomes[emails[3]].startswith("temporary: connection dropped")
    assert ledger_rows(ledger) == {
        emails[0]: "sent",
        emails[1]: "sent",
        emails[2]: "sending",
        emails[3]: "queued",
        emails[4]: "sent",
    }
    assert received(pipelining_server) == [emails[0], emails[1], emails[2], emails[4]]
    assert driver.connections == 2


def test_someone_who_unsubscribes_before_their_claim_is_not_sent_and_the_rest_go_on(
    store, ledger, pipelining_server
):
    emails = add_subscribers(store, 4)
    freeze(ledger)
    leaving = store.get_subscriber(emails[2])
    driver = Driver(pipelining_server, ledger)
    outcomes = driver.run(
        unsubscribe_before={emails[2]: lambda: store.unsubscribe(leaving.id, "web")}
    )
    assert outcomes[emails[2]] == "skipped"
    assert ledger_rows(ledger) == dict.fromkeys(emails, "sent") | {emails[2]: "skipped"}
    assert received(pipelining_server) == [emails[0], emails[1], emails[3]]
    assert driver.connections == 2  # DATA was open: hanging up was the only way not to send


def test_pipelining_runs_over_starttls_and_auth_from_smtplib(certificate):
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    controller, server = start_server(
        PipeliningSink(), tls_context=context, require_starttls=True, authenticator=authenticate
    )
    try:
        client = smtplib.SMTP(server.host, server.port, timeout=10)
        client.starttls(context=ssl.create_default_context(cafile=str(cert)))
        client.ehlo()
        client.login(USER, PASSWORD)
        assert offers_pipelining(client)
        session, results = PipelinedSession(client), []
        for n in range(3):
            session.submit(message(f"p{n}@example.org"), lambda: True, lambda *r: results.append(r))
        session.close()
    finally:
        controller.stop()
    assert results == [(True, None)] * 3
    assert server.handler.recipients() == ["p0@example.org", "p1@example.org", "p2@example.org"]


def test_a_server_that_does_not_offer_pipelining_is_told_apart(smtp_server, pipelining_server):
    plain = smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10)
    piped = smtplib.SMTP(pipelining_server.host, pipelining_server.port, timeout=10)
    try:
        plain.ehlo(), piped.ehlo()
        assert (offers_pipelining(plain), offers_pipelining(piped)) == (False, True)
    finally:
        plain.quit(), piped.quit()


# --- the send loop on a pipelined session ------------------------------------------------


def send_all(project, **smtp):  # noqa: ANN001, ANN003, ANN201
    """The real send_issue over one connection; returns (report, status)."""
    with open_project(project) as (config, store):
        transport = plan_transport(config)
        tuned = SendSettings.from_config(config, transport.connections, transport.rate)
        tuned = SendSettings(**{**tuned.__dict__, "backoff_base": 0.01, "backoff_max": 0.05})
        _plan, report = send_issue(
            config, store, SLUG, "Subject", "hash", simple_builder(), transport,
            confirm=lambda plan: True, settings=tuned,
        )  # fmt: skip
        return report, Ledger(store).status(SLUG)


def test_the_send_loop_pipelines_and_sends_each_message_once(project, store, pipelining_server):
    emails = add_subscribers(store, 30)
    configure_smtp(project, pipelining_server, connections=1, rate=0, messages_per_connection=12)
    report, status = send_all(project)
    assert received(pipelining_server) == emails
    assert (report.sent, report.failed, status.counts["sent"]) == (30, 0, 30)
    sessions = [message.session for message in pipelining_server.handler.messages]
    per_session = [sessions.count(session) for session in dict.fromkeys(sessions)]
    assert per_session == [12, 12, 6]  # renewed every 12 messages, not one more


def test_the_send_loop_retries_a_pipelined_refusal_and_leaves_a_lost_reply_uncertain(
    project, store, pipelining_server
):
    emails = add_subscribers(store, 8)
    bad = add_subscribers(store, 1, domain="nowhere.example", start=100)
    configure_smtp(project, pipelining_server, connections=1, rate=0)
    pipelining_server.handler.temp_fail_every = 4  # one 451 after a final dot, then retried
    pipelining_server.handler.lose_reply_for = {emails[5]}
    report, status = send_all(project)
    rows = ledger_rows(Ledger(store))
    assert rows[emails[5]] == "sending" and report.uncertain == 1
    assert rows[bad[0]] == "failed" and report.failed == 1
    assert {rows[email] for email in emails if email != emails[5]} == {"sent"}
    assert sorted(received(pipelining_server)) == sorted(emails)  # each exactly once
    assert [status.counts[key] for key in ("queued", "sending", "sent", "failed")] == [0, 1, 7, 1]


@pytest.mark.parametrize(
    ("setting", "ahead"), [({}, 3), ({"pipelining": True}, 3), ({"pipelining": False}, 0)]
)
def test_pipelining_false_makes_the_client_wait_for_every_reply(
    project, store, tapped_pipelining_server, setting, ahead
):
    """The wiretap reads what went over the wire: pipelined by default (the content,
    MAIL, RCPT and DATA written before their replies), one command at a time with
    `pipelining = false`, though the server offers it."""
    server, tap = tapped_pipelining_server
    emails = add_subscribers(store, 6)
    configure_smtp(project, server, connections=1, rate=0, **setting)
    report, _status = send_all(project)
    assert report.sent == 6 and received(server) == emails
    assert max(most_commands_ahead(log) for log in tap.connections) == ahead
