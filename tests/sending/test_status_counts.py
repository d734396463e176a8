"""`status` reads counts the database keeps (migration 0006): they must equal a
COUNT(*) over the delivery rows after every way a delivery can move."""

from __future__ import annotations

import threading

import newsletter.sending.campaign as sending
from newsletter.db.connection import connect_database
from newsletter.sending.ledger import Ledger
from newsletter.subscribers.store import Store

from support.sending import SLUG, assert_counts_match_rows, send
from support.smtp import add_subscribers, configure_smtp


def test_counts_match_the_rows_through_failures_skips_a_stop_and_every_requeue(
    project, store, faulty_server, monkeypatch
):
    good = add_subscribers(store, 30)
    add_subscribers(store, 3, domain="nowhere.example", start=100)  # 550 5.1.1: failed
    for email, language in ((good[1], "cy"), (good[2], "en"), (good[3], "cy")):
        store.set_language(store.get_subscriber(email).id, language, "web")
    leaver = store.get_subscriber(good[20])
    faulty_server.handler.temp_fail_every = 5  # deferred, then retried
    faulty_server.handler.lose_reply_for = {good[5]}  # left `sending`: uncertain
    configure_smtp(project, faulty_server, connections=2, rate=0)
    other = Store(connect_database(project / "newsletter.db"))  # the web app's connection
    senders: list = []
    left = threading.Event()

    class Remembered(sending.Sender):
        def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003
            super().__init__(*args, **kwargs)
            senders.append(self)

    def leave_then_stop(report):  # noqa: ANN001, ANN202
        if report.sent >= 3 and not left.is_set():
            left.set()
            other.unsubscribe(leaver.id, "one-click")  # skipped when its turn comes
        if report.sent >= 12:
            senders[-1].stop()  # what Ctrl-C does

    monkeypatch.setattr(sending, "Sender", Remembered)
    first, status = send(project, on_progress=leave_then_stop)
    other.close()
    assert first.sent < 30 and status.counts["queued"] > 0  # stopped halfway
    assert_counts_match_rows(store)

    monkeypatch.undo()
    _second, status = send(project)
    assert status.counts["skipped"] == 1 and status.counts["failed"] == 3
    assert status.uncertain == 1
    assert_counts_match_rows(store)

    ledger = Ledger(store)
    assert ledger.requeue_uncertain(SLUG) == 1
    store.set_language(store.get_subscriber(good[4]).id, "cy", "web")  # frozen: no change
    store.forget("person00100@nowhere.example")  # its rows lose their subscriber
    ledger.close()
    assert_counts_match_rows(store)
    faulty_server.handler.lose_reply_for = set()
    _third, status = send(project)
    assert status.counts["sent"] == 29 and status.uncertain == 0
    assert_counts_match_rows(store)
