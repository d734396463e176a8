"""Refusals done right: a real send against relays that refuse the way real ones do.

Each test asserts the ledger and the subscribers afterwards: a refusal about
the sender, the relay or the message marks nobody failed or bounced, and the
breaker stops the send quickly with one line naming the cause.
"""

from __future__ import annotations

from collections import Counter

import pytest

from newsletter.errors import SendDeferred
from newsletter.project import open_project
from newsletter.sending.ledger import Ledger
from newsletter.sending.return_path import return_path_for

from support.faults import (
    EXIM_RELAY_DENIED,
    FULL_SYSTEM,
    GMAIL_SECURITY,
    MAILBOX_FULL,
    NO_SUCH_USER,
    O365_QUOTA,
    POLICY,
    SES_NOT_VERIFIED,
    TOO_BIG,
)
from support.render import fill_in
from support.sending import SLUG, send
from support.smtp import add_subscribers, configure_smtp


def events(store, kind: str) -> list[dict]:  # noqa: ANN001
    return list(store.query("SELECT * FROM events WHERE kind = ? ORDER BY id", [kind]))


def assert_nobody_failed_or_bounced(store, status, total: int) -> None:  # noqa: ANN001
    assert status.counts["queued"] == total
    assert status.counts["failed"] == status.counts["sent"] == status.counts["sending"] == 0
    assert {s.status for s in store.list_subscribers()} == {"active"}
    assert events(store, "bounced") == [] and events(store, "soft_bounce") == []


@pytest.mark.parametrize(
    ("where", "reply"),
    [
        ("data", O365_QUOTA),
        ("data", SES_NOT_VERIFIED),
        ("rcpt", EXIM_RELAY_DENIED),
        ("data", TOO_BIG),
        ("data", GMAIL_SECURITY),
        ("rcpt", POLICY),
    ],
    ids=["o365-quota", "ses-not-verified", "exim-relay-denied", "552-5.2.3", "552-5.7.0", "5.7.1"],
)
def test_a_refusal_about_the_sender_stops_the_send_and_fails_nobody(
    project, store, scripted_server, where, reply
):
    add_subscribers(store, 50)
    setattr(scripted_server.handler, f"{where}_all", reply)
    configure_smtp(project, scripted_server, connections=2, rate=0)
    report, status = send(project)
    assert report.stopped is not None
    assert "3 recipients in a row refused" in report.stopped.message
    assert reply[:20] in report.stopped.message
    assert_nobody_failed_or_bounced(store, status, 50)
    assert len(scripted_server.handler.refusals) <= 4  # three, and one in flight on the other lane


def test_a_stop_read_with_the_answer_to_the_previous_message_claims_nothing_more(
    project, store, either_scripted_server
):
    """The third refusal arrives while the lane submits its next message (built
    meanwhile, its MAIL already out on a pipelined session): that message is not
    claimed, so the relay sees exactly three refusals and every row stays queued."""
    add_subscribers(store, 20)
    either_scripted_server.handler.data_all = POLICY
    configure_smtp(project, either_scripted_server, connections=1, rate=0)
    report, status = send(project)
    assert report.stopped is not None and "3 recipients in a row refused" in report.stopped.message
    assert len(either_scripted_server.handler.refusals) == 3
    assert_nobody_failed_or_bounced(store, status, 20)


def test_the_other_lanes_in_flight_refusal_is_not_collateral(project, store, scripted_server):
    """Both lanes have a message at DATA when the third refusal trips the breaker:
    the one still in flight is refused after the stop and goes back to the queue too."""
    add_subscribers(store, 10)
    scripted_server.handler.data_all = POLICY
    scripted_server.handler.delay = 0.2
    configure_smtp(project, scripted_server, connections=2, rate=0)
    report, status = send(project)
    assert report.stopped is not None
    assert len(scripted_server.handler.refusals) == 4
    assert_nobody_failed_or_bounced(store, status, 10)


def test_a_few_sender_refusals_between_deliveries_fail_only_those(project, store, scripted_server):
    emails = add_subscribers(store, 9)
    for address in emails[2], emails[5]:
        scripted_server.handler.data[address] = SES_NOT_VERIFIED
    configure_smtp(project, scripted_server, connections=1, rate=0)
    report, status = send(project)
    assert report.stopped is None and (report.sent, report.failed) == (7, 2)
    assert {s.status for s in store.list_subscribers()} == {"active"}
    assert events(store, "bounced") == []
    assert status.failures[0][0].startswith("554 Message rejected")


def test_a_hard_bounce_fails_that_delivery_and_marks_the_address(project, store, scripted_server):
    emails = add_subscribers(store, 5)
    scripted_server.handler.rcpt[emails[1]] = NO_SUCH_USER
    configure_smtp(project, scripted_server, connections=1, rate=0)
    report, status = send(project)
    assert (report.sent, report.failed, report.suppressed) == (4, 1, 1)
    assert store.get_subscriber(emails[1]).status == "bounced"
    (event,) = events(store, "bounced")
    assert event["issue_slug"] == SLUG and event["detail"].startswith("550 5.1.1")


def test_a_full_mailbox_is_retried_then_counts_a_soft_bounce_per_issue(
    project, store, scripted_server
):
    emails = add_subscribers(store, 6)
    full = emails[3]
    scripted_server.handler.rcpt[full] = MAILBOX_FULL
    configure_smtp(project, scripted_server, connections=1, rate=0, sending_max_attempts=3)
    with (project / "newsletter.toml").open("a") as file:
        file.write("\n[bounces]\nsoft_limit = 2\n")
    report, status = send(project)
    assert (report.sent, report.deferred, report.failed) == (5, 1, 0)
    assert Counter(scripted_server.handler.refusals)[MAILBOX_FULL.format(address=full)] == 3
    assert status.counts["queued"] == 1 and store.get_subscriber(full).status == "active"
    (soft,) = events(store, "soft_bounce")
    assert soft["issue_slug"] == SLUG and soft["detail"].startswith("552 5.2.2")
    send(project)  # resumed: the same issue does not count twice
    assert len(events(store, "soft_bounce")) == 1 and store.get_subscriber(full).status == "active"
    report, _ = send(project, slug="2027-01")  # the next issue, full again: two in a row
    assert report.suppressed == 1 and store.get_subscriber(full).status == "bounced"
    assert "2 issues in a row" in events(store, "soft_bounce")[-1]["detail"]


def test_a_soft_bounce_streak_is_broken_by_a_delivered_issue(project, store, scripted_server):
    (reader,) = add_subscribers(store, 1)
    configure_smtp(project, scripted_server, connections=1, rate=0, sending_max_attempts=1)
    with (project / "newsletter.toml").open("a") as file:
        file.write("\n[bounces]\nsoft_limit = 2\n")
    scripted_server.handler.rcpt[reader] = MAILBOX_FULL
    send(project, slug="a-1")
    scripted_server.handler.rcpt.clear()
    send(project, slug="a-2")
    scripted_server.handler.rcpt[reader] = MAILBOX_FULL
    send(project, slug="a-3")
    assert store.get_subscriber(reader).status == "active"  # a-2 arrived: no streak of two


def test_a_relay_answering_452_to_everyone_gives_up_after_give_up_after_and_fails_nobody(
    project, store, scripted_server
):
    add_subscribers(store, 40)
    scripted_server.handler.rcpt_all = FULL_SYSTEM
    configure_smtp(project, scripted_server, connections=2, rate=0, sending_give_up_after=2)
    report, status = send(project)
    assert isinstance(report.stopped, SendDeferred) and report.stopped.exit_code == 75
    assert "accepted nothing for 2 s" in report.stopped.message
    assert "4.3.1" in report.stopped.message
    assert_nobody_failed_or_bounced(store, status, 40)


def test_a_relay_refusing_at_the_greeting_is_tried_again_until_give_up_after(
    project, store, greeting_refuser
):
    add_subscribers(store, 20)
    configure_smtp(project, greeting_refuser, connections=2, rate=0, sending_give_up_after=2)
    with open_project(project) as (_config, other):
        Ledger(other).begin(SLUG, "Subject", "h1")  # resuming: no connection check first
    report, status = send(project)
    assert isinstance(report.stopped, SendDeferred) and "421 4.3.2" in report.stopped.message
    assert greeting_refuser.connections > 2  # weather, not a verdict: it was tried again
    assert_nobody_failed_or_bounced(store, status, 20)


def test_a_relay_that_goes_silent_stops_after_give_up_after(project, store, scripted_server):
    add_subscribers(store, 30)
    scripted_server.handler.silent_after = 5
    configure_smtp(
        project, scripted_server, connections=2, rate=0, timeout=1, sending_give_up_after=3
    )
    report, status = send(project)
    assert isinstance(report.stopped, SendDeferred)
    assert "stopped answering" in report.stopped.message
    accepted = len(scripted_server.handler.messages)  # 5, or 6 when both lanes raced past
    assert status.counts["sent"] == accepted and status.counts["queued"] == 30 - accepted
    assert status.counts["failed"] == status.counts["sending"] == 0


def test_the_final_reply_is_waited_for_as_long_as_data_timeout_says(
    project, store, scripted_server
):
    add_subscribers(store, 2)
    scripted_server.handler.delay = 2.5  # a relay scanning the message before it answers
    configure_smtp(project, scripted_server, connections=1, rate=0, timeout=1, data_timeout=8)
    report, status = send(project)
    assert (report.sent, report.uncertain) == (2, 0)


def test_a_final_reply_later_than_data_timeout_is_uncertain(project, store, scripted_server):
    add_subscribers(store, 1)
    scripted_server.handler.delay = 3
    configure_smtp(project, scripted_server, connections=1, rate=0, data_timeout=1)
    report, status = send(project)
    assert report.uncertain == 1 and status.uncertain == 1


def test_retry_failed_puts_failed_rows_back_after_the_cause_is_fixed(
    project, store, scripted_server, cli
):
    emails = add_subscribers(store, 6)
    for address in emails[1], emails[4]:
        scripted_server.handler.data[address] = POLICY
    scripted_server.handler.rcpt[emails[2]] = NO_SUCH_USER
    configure_smtp(project, scripted_server, connections=1, rate=0)
    (project / "issues").mkdir(exist_ok=True)
    cli("issue", "new", SLUG, "--subject", "December")
    fill_in(project, SLUG)
    result = cli("send", SLUG, "--yes")
    assert result.exit_code == 0, result.output
    scripted_server.handler.data.clear()
    result = cli("send", SLUG, "--retry-failed", input="n\n")
    assert "2 failed deliveries go back in the queue" in result.output
    assert "Send 2 messages now?" in result.output
    with open_project(project) as (_config, other):
        assert Ledger(other).status(SLUG).counts["failed"] == 3  # declined: nothing moved
    result = cli("send", SLUG, "--retry-failed", "--yes")
    assert result.exit_code == 0, result.output
    received = Counter(scripted_server.handler.recipients())
    assert received[emails[1]] == received[emails[4]] == 1 and emails[2] not in received
    with open_project(project) as (_config, other):
        counts = Ledger(other).status(SLUG).counts
    assert (counts["sent"], counts["failed"]) == (5, 1)  # the bounced address stays failed


def test_the_cli_stops_with_one_line_and_a_non_zero_exit(project, store, scripted_server, cli):
    add_subscribers(store, 12)
    scripted_server.handler.data_all = O365_QUOTA
    configure_smtp(project, scripted_server, connections=1, rate=0)
    cli("issue", "new", SLUG, "--subject", "December")
    fill_in(project, SLUG)
    result = cli("send", SLUG, "--yes")
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "SubmissionQuotaExceededException" in errors[0]


def test_with_verp_every_envelope_sender_names_its_delivery(project, store, scripted_server):
    add_subscribers(store, 4)
    configure_smtp(project, scripted_server, connections=2, rate=0)
    with (project / "newsletter.toml").open("a") as file:
        file.write('\n[bounces]\naddress = "bounces@example.org"\nverp = true\n')
    send(project)
    with open_project(project) as (config, other):
        return_path = return_path_for(config, other)
        rows = {
            row["id"]: row["email"]
            for row in other.query(
                "SELECT d.id, s.email FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id"
            )
        }
    received = scripted_server.handler.messages
    assert len(received) == 4
    for message in received:
        assert message.mail_from.startswith("bounces+") and message.mail_from.endswith(
            "@example.org"
        )
        assert rows[return_path.delivery_of(message.mail_from)] == message.rcpt_to
        assert return_path.delivery_of(message.mail_from.upper()) is not None  # case survives
    forged = received[0].mail_from.replace("-", "-0", 1)[:-1]
    assert return_path.delivery_of(forged) is None
