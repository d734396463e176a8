"""The send loop against real aiosmtpd servers and a real SQLite ledger."""

from __future__ import annotations

import sqlite3
import ssl
import threading
from collections import Counter
from pathlib import Path

import pytest
from filelock import FileLock

import newsletter.sending.campaign as sending
from newsletter.db.connection import connect_database
from newsletter.errors import SendError
from newsletter.project import open_project
from newsletter.sending.campaign import dry_run, send_lock, send_test
from newsletter.sending.ledger import Ledger
from newsletter.sending.lock import LOCK_NAME, send_running
from newsletter.sending.transport import plan_transport
from newsletter.subscribers.store import Store

from support.sending import SLUG, send
from support.smtp import PASSWORD, USER, add_subscribers, configure_smtp, simple_builder

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def test_every_active_subscriber_gets_exactly_one_copy_over_two_connections(
    project, store, smtp_server
):
    emails = add_subscribers(store, 40)
    store.unsubscribe(store.get_subscriber(emails[0]).id, "cli")
    configure_smtp(project, smtp_server, connections=2, rate=0)
    smtp_server.handler.delay = 0.02  # each lane is busy long enough for both to take part
    report, status = send(project)
    received = Counter(smtp_server.handler.recipients())
    assert set(received) == set(emails[1:]) and set(received.values()) == {1}
    assert (report.sent, report.failed, report.total) == (39, 0, 39)
    assert status.counts["sent"] == 39 and status.issue.finished_at is not None
    assert len({message.session for message in smtp_server.handler.messages}) == 2


def test_a_second_run_sends_nothing_and_a_stopped_run_resumes(
    project, store, smtp_server, monkeypatch
):
    emails = add_subscribers(store, 30)
    configure_smtp(project, smtp_server, connections=2, rate=0)
    senders: list = []

    class Remembered(sending.Sender):
        def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003
            super().__init__(*args, **kwargs)
            senders.append(self)

    def stop_after_ten(report):  # noqa: ANN001, ANN202
        if report.sent >= 10:
            senders[-1].stop()  # what Ctrl-C does, without the signal

    monkeypatch.setattr(sending, "Sender", Remembered)
    first, status = send(project, on_progress=stop_after_ten)
    assert 10 <= first.sent < 30 and status.counts["queued"] == 30 - first.sent
    assert status.issue.finished_at is None
    second, status = send(project)
    assert second.sent == 30 - first.sent
    third, _ = send(project)
    assert third is None  # nothing left: no confirmation asked, nothing sent
    assert Counter(smtp_server.handler.recipients()) == Counter(emails)


def test_someone_who_unsubscribes_mid_send_is_not_mailed(project, store, smtp_server):
    emails = add_subscribers(store, 20)
    leaver = store.get_subscriber(emails[15])
    configure_smtp(project, smtp_server, connections=1, rate=0)
    other = Store(
        connect_database(project / "newsletter.db")
    )  # another connection, like the web app
    done = threading.Event()

    def unsubscribe_early(report):  # noqa: ANN001, ANN202
        if report.sent == 3 and not done.is_set():
            done.set()
            other.unsubscribe(leaver.id, "one-click")

    report, status = send(project, on_progress=unsubscribe_early)
    other.close()
    assert leaver.email not in smtp_server.handler.recipients()
    assert (report.sent, report.skipped) == (19, 1)
    assert status.counts["skipped"] == 1


def test_after_a_clean_send_the_database_has_the_whole_journal_and_who_left_meanwhile(
    project, store, smtp_server
):
    """The send's own delivery lines are skipped when it catches up with the journal
    (the database has them); an unsubscribe journalled while it ran is applied."""
    emails = add_subscribers(store, 20)
    leaver = store.get_subscriber(emails[15])
    configure_smtp(project, smtp_server, connections=1, rate=0)
    done = threading.Event()

    def leave_in_the_journal_only(report):  # noqa: ANN001, ANN202
        if report.sent == 3 and not done.is_set():
            done.set()
            store.note_leaving(leaver.id, "one-click")  # as the web app does when held

    report, _status = send(project, on_progress=leave_in_the_journal_only)
    assert (report.sent, report.skipped) == (19, 1)
    assert leaver.email not in smtp_server.handler.recipients()
    plain = sqlite3.connect(project / "newsletter.db")  # no replay on opening, unlike a Store
    offset = plain.execute("SELECT value FROM meta WHERE key = 'journal_offset'").fetchone()[0]
    status = plain.execute("SELECT status FROM subscribers WHERE id = ?", [leaver.id]).fetchone()
    sent = plain.execute("SELECT count(*) FROM deliveries WHERE status = 'sent'").fetchone()
    plain.close()
    assert int(offset) == (project / "newsletter.journal").stat().st_size
    assert status == ("unsubscribed",) and sent == (19,)


def test_the_250_carried_by_a_claim_stands_when_the_next_person_left_in_the_journal(store):
    """A claim carries the lane's last 250 into its commit; when the next person turns
    out to have left (journalled, not yet in the database), that 250 is still recorded."""
    emails = add_subscribers(store, 2)
    ledger = Ledger(store)
    ledger.begin(SLUG, "December", "hash")
    first, second = ledger.queued_after(SLUG, 0, 10)
    assert ledger.claim(first.id, "<first@example.org>")
    store.note_leaving(store.get_subscriber(emails[1]).id, "one-click")
    assert not ledger.claim(second.id, "<second@example.org>", sent=first.id)
    assert ledger.status(SLUG).counts["sent"] == 1


def test_faulty_server_retries_temporary_failures_and_fails_the_bad_domain(
    project, store, faulty_server
):
    good = add_subscribers(store, 24)
    bad = add_subscribers(store, 2, domain="nowhere.example", start=100)
    faulty_server.handler.temp_fail_every = 5
    faulty_server.handler.drop_every = 7
    configure_smtp(project, faulty_server, connections=2, rate=0)
    report, status = send(project)
    assert Counter(faulty_server.handler.recipients()) == Counter(good)
    assert (report.sent, report.failed, report.deferred) == (24, 2, 0)
    assert status.counts["failed"] == 2
    assert status.failures == [("550 5.1.1 <address>: no such user", 2)]  # grouped

    assert {store.get_subscriber(email).status for email in bad} == {"bounced"}
    assert report.suppressed == 2
    handler = faulty_server.handler
    assert handler.mails > 26 + 3 and handler.datas > 24 + 4  # drops and 451s did happen


def test_a_relay_failing_every_try_gives_up_after_give_up_after_and_a_later_send_delivers_all(
    project, store, faulty_server
):
    emails = add_subscribers(store, 3)
    faulty_server.handler.temp_fail_every = 1
    configure_smtp(
        project, faulty_server, connections=1, rate=0, sending_give_up_after=1,
        sending_max_attempts=100,
    )  # fmt: skip
    report, status = send(project)
    assert report.stopped is not None and "451 4.3.0" in report.stopped.message
    assert (report.sent, status.counts["queued"], status.counts["failed"]) == (0, 3, 0)
    assert status.deferred[0][0].startswith("451 4.3.0")
    faulty_server.handler.temp_fail_every = 0
    report, status = send(project)
    assert report.sent == 3 and status.issue.finished_at is not None
    assert sorted(faulty_server.handler.recipients()) == emails


def freeze(project: Path) -> None:
    """Start the issue as an earlier run would have, so the next send resumes."""
    with open_project(project) as (_config, store):
        Ledger(store).begin(SLUG, "Subject", "h1")


def test_refused_login_on_a_first_run_freezes_nothing(project, store, auth_server, monkeypatch):
    add_subscribers(store, 5)
    monkeypatch.setenv("SMTP_PW", "wrong")
    configure_smtp(project, auth_server, username=USER, password_env="SMTP_PW")
    with pytest.raises(SendError, match="login refused: 535"):
        send(project)
    assert Ledger(store).status(SLUG) is None
    add_subscribers(store, 1, start=10)  # joins before the login is fixed: still gets it
    monkeypatch.setenv("SMTP_PW", PASSWORD)
    report, _status = send(project)
    assert report.sent == 6 and len(auth_server.handler.messages) == 6


def test_refused_login_stops_a_resumed_send_and_fails_nobody(
    project, store, auth_server, monkeypatch
):
    add_subscribers(store, 5)
    freeze(project)
    monkeypatch.setenv("SMTP_PW", "wrong")
    configure_smtp(project, auth_server, username=USER, password_env="SMTP_PW")
    report, status = send(project)
    assert isinstance(report.stopped, SendError)
    assert "login refused: 535" in report.stopped.message
    assert status.counts["queued"] == 5 and status.counts["failed"] == 0
    monkeypatch.setenv("SMTP_PW", PASSWORD)
    report, status = send(project)
    assert report.sent == 5 and len(auth_server.handler.messages) == 5


def test_policy_refusals_in_a_row_stop_the_send_and_stay_queued(project, store, faulty_server):
    add_subscribers(store, 4, domain="strict.example")
    add_subscribers(store, 4, start=50)
    faulty_server.handler.policy_domain = "strict.example"
    configure_smtp(project, faulty_server, connections=1, rate=0, sending_policy_stop_after=3)
    report, status = send(project)
    assert report.stopped is not None and "policy" in report.stopped.message
    assert status.counts["failed"] == 0 and status.counts["sent"] == 0
    assert status.counts["queued"] == 8
    assert all(s.status == "active" for s in store.list_subscribers())


def test_a_lost_reply_is_reported_uncertain_and_resent_only_on_request(
    project, store, faulty_server
):
    emails = add_subscribers(store, 5)
    faulty_server.handler.lose_reply_for = {emails[2]}
    configure_smtp(project, faulty_server, connections=1, rate=0)
    report, status = send(project)
    assert (report.sent, report.uncertain) == (4, 1)
    assert status.uncertain == 1 and status.issue.finished_at is None
    again, _ = send(project)
    assert again is None  # the default leaves it for the coordinator
    again, status = send(project, resend_uncertain=True)
    assert again.sent == 1 and status.uncertain == 0
    assert Counter(faulty_server.handler.recipients())[emails[2]] == 2  # as documented


def test_the_list_is_frozen_and_changed_content_is_refused(project, store, smtp_server):
    add_subscribers(store, 3)
    configure_smtp(project, smtp_server, connections=1, rate=0)
    send(project)
    late = add_subscribers(store, 1, start=900)
    with pytest.raises(SendError, match="changed since it started"):
        send(project, hash_="h2")
    report, status = send(project, hash_="h2", allow_changes=True)
    assert report is None and status.total == 3  # the late subscriber was not added
    assert late[0] not in smtp_server.handler.recipients()


def test_rate_limit_holds_across_connections(project, store, smtp_server):
    add_subscribers(store, 12)
    configure_smtp(project, smtp_server, connections=3, rate=20)
    send(project)
    times = sorted(message.at for message in smtp_server.handler.messages)
    assert len(times) == 12
    assert times[-1] - times[0] >= 11 / 20 * 0.9
    # Never a burst: without the limit, 12 messages on loopback take a few ms. A
    # stalled server (a loaded CI machine) may bunch up to one message per
    # connection, so any 7 in a row still span at least 4 slots of 0.05 s, less jitter.
    for first, later in zip(times, times[6:], strict=False):
        assert later - first >= 4 / 20 * 0.6


def test_outbox_gets_the_same_bookkeeping(project, store):
    emails = add_subscribers(store, 6)
    report, status = send(project)
    assert report.sent == 6 and status.counts["sent"] == 6
    assert len(list((project / "outbox" / "new").iterdir())) == 6
    assert send(project)[0] is None
    assert len(list((project / "outbox" / "new").iterdir())) == len(emails)


def test_a_second_send_refuses_while_one_holds_the_lock(project):
    with send_lock(project), pytest.raises(SendError, match="already running"), send_lock(project):
        pass
    with send_lock(project):  # released when the first one ended
        pass


def test_a_send_waits_out_a_status_probe_instead_of_refusing(project):
    assert not send_running(project)
    with send_lock(project):
        assert send_running(project)  # what `status` asks
    probe = FileLock(project / LOCK_NAME, thread_local=False)
    probe.acquire()  # `status` holds the lock for an instant...
    threading.Timer(0.3, probe.release).start()
    with send_lock(project):  # ...and the send starts once it let go
        pass


def test_dry_run_and_test_message_record_nothing(project, store, smtp_server):
    add_subscribers(store, 4)
    configure_smtp(project, smtp_server, connections=1, rate=0)
    build = simple_builder()
    with open_project(project) as (config, store2):
        transport = plan_transport(config)
        report = dry_run(store2, SLUG, build, transport)
        assert (report.messages, report.skipped) == (4, 0) and report.connection.endswith(": ok")
        message = send_test(store2, build, transport, "Me@Example.ORG")
        assert message.recipient == "Me@example.org"
        assert Ledger(store2).status(SLUG) is None
    assert smtp_server.handler.recipients() == ["Me@example.org"]
    assert b"Hello Sample Reader" in smtp_server.handler.messages[0].data  # not a real reader


def test_starttls_with_auth_over_two_connections(project, store, tls_server, monkeypatch):
    emails = add_subscribers(store, 10)
    monkeypatch.setenv("SMTP_PW", PASSWORD)
    configure_smtp(
        project, tls_server, security="starttls", username=USER, password_env="SMTP_PW",
        connections=2, rate=0,
    )  # fmt: skip
    trusted = ssl.create_default_context(cafile=str(tls_server.ca_file))
    report, status = send(project, ssl_context=trusted)
    assert report.sent == 10 and status.counts["sent"] == 10
    assert sorted(tls_server.handler.recipients()) == emails


def test_an_untrusted_certificate_stops_the_send_and_fails_nobody(project, store, tls_server):
    add_subscribers(store, 4)
    freeze(project)
    configure_smtp(project, tls_server, security="starttls", connections=2, rate=0)
    report, status = send(project)  # the system's CAs do not know the test certificate
    assert report.stopped is not None and "certificate" in report.stopped.message
    assert status.counts["queued"] == 4 and status.counts["failed"] == 0
    assert tls_server.handler.messages == []
