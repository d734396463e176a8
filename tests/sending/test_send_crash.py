"""A real `newsletter send` process killed, interrupted, or run twice at once.

The SMTP server runs in this test process; the sender is a subprocess with a
rate limit so that it can be stopped reliably in the middle of the list.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from newsletter.project import open_project
from newsletter.sending.ledger import Ledger

from support.pipelined import ledger_rows
from support.process import interruptible
from support.sending import assert_counts_match_rows
from support.smtp import add_subscribers, configure_smtp
from support.waiting import wait_for
from support.wiretap import most_commands_ahead

SLUG = "2026-12"


def start_send(project: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "newsletter",
            "send",
            SLUG,
            "--yes",
            "--project",
            str(project),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )


def run_send(project: Path, *extra: str) -> subprocess.CompletedProcess:
    """`newsletter send SLUG --yes` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "newsletter", "send", SLUG, "--yes", "--project", str(project), *extra],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def uncertain(project: Path) -> list[str]:
    with open_project(project) as (_config, store):
        return Ledger(store).uncertain(SLUG, limit=1000)


def test_kill_9_then_rerun_mails_everyone_once_except_the_uncertain(
    project, store, issue, smtp_server
):
    emails = add_subscribers(store, 60)
    smtp_server.handler.delay = 0.05  # most of the time a message is in flight
    configure_smtp(project, smtp_server, connections=2, rate=0)
    process = start_send(project)
    wait_for(lambda: len(smtp_server.handler.messages) >= 15)
    process.kill()
    process.wait(timeout=10)
    in_doubt = uncertain(project)
    smtp_server.handler.delay = 0
    assert len(in_doubt) <= 2  # at most the messages in flight on two connections
    assert_counts_match_rows(store)  # the killed process's last moves were counted too
    rerun = run_send(project, "--rate", "0")
    assert rerun.returncode == 0, rerun.stderr
    received = Counter(smtp_server.handler.recipients())
    for address in emails:
        if address in in_doubt:
            assert received[address] <= 1
        else:
            assert received[address] == 1, address
    assert uncertain(project) == in_doubt


def ledger_after(project: Path) -> dict[str, str]:
    with open_project(project) as (_config, store):
        return ledger_rows(Ledger(store))


@pytest.mark.skipif(os.name != "posix", reason="kill -9 (SIGKILL) is POSIX")
def test_kill_9_mid_pipelined_group_leaves_only_the_unanswered_dots_uncertain(
    project, store, issue, tapped_stalling_server
):
    """The relay wedges after 20 messages: on each of the two connections the next
    message's content and dot went out (with the following message's MAIL, RCPT and
    DATA behind them) and no answer comes. kill -9 then. The ledger must show what
    actually happened, and two more sends finish the list without a second copy."""
    server, tap = tapped_stalling_server
    relay = server.handler
    emails = add_subscribers(store, 60)
    relay.stall_after = 20
    configure_smtp(project, server, connections=2, rate=0)
    process = start_send(project)
    try:
        wait_for(lambda: len(relay.stalled) == 2, timeout=60)
    finally:
        process.kill()
        process.wait(timeout=30)
    assert max(most_commands_ahead(log) for log in tap.connections) >= 3  # it did pipeline
    rows = ledger_after(project)
    accepted, stalled = set(relay.recipients()), set(relay.stalled)
    assert set(rows.values()) <= {"queued", "sending", "sent"}
    assert {email for email, status in rows.items() if status == "sent"} == accepted
    in_doubt = {email for email, status in rows.items() if status == "sending"}
    assert in_doubt == stalled  # claimed, content out, no answer: the in-flight group only
    assert not {email for email, status in rows.items() if status == "queued"} & set(relay.complete)

    relay.release()
    rerun = run_send(project, "--rate", "0")
    assert rerun.returncode == 0, rerun.stderr
    received = Counter(relay.recipients())
    assert received == Counter(email for email in emails if email not in in_doubt)
    assert set(uncertain(project)) == in_doubt  # not resent without being asked
    resent = run_send(project, "--rate", "0", "--resend-uncertain")
    assert resent.returncode == 0, resent.stderr
    assert Counter(relay.recipients()) == Counter(emails)
    assert set(ledger_after(project).values()) == {"sent"}


@pytest.mark.parametrize(("sig", "name"), [(signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM")])
def test_ctrl_c_or_sigterm_finishes_in_flight_prints_a_summary_and_exits_128_plus_signal(
    project, store, issue, smtp_server, sig, name
):
    """systemd, cron and shutdowns send SIGTERM: it must be as graceful as Ctrl-C."""
    emails = add_subscribers(store, 60)
    configure_smtp(project, smtp_server, connections=2, rate=30)
    process = start_send(project)
    wait_for(lambda: len(smtp_server.handler.messages) >= 10)
    process.send_signal(sig)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 128 + sig, err
    assert f"stopped by {name}" in out and "this run" in out
    assert "stopping: finishing the messages in hand" in out
    assert "Traceback" not in err
    assert uncertain(project) == []  # in-flight messages finished and were recorded
    sent_before = len(smtp_server.handler.messages)
    assert sent_before < 60
    rerun = run_send(project, "--rate", "0")
    assert rerun.returncode == 0, rerun.stderr
    assert Counter(smtp_server.handler.recipients()) == Counter(emails)


def test_a_second_send_refuses_while_the_first_runs(project, store, issue, smtp_server):
    add_subscribers(store, 40)
    configure_smtp(project, smtp_server, connections=1, rate=4)
    first = start_send(project)
    try:
        wait_for(lambda: len(smtp_server.handler.messages) >= 2)
        second = run_send(project)
        assert second.returncode == 1
        assert "another send is already running" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=30)
    assert Counter(smtp_server.handler.recipients()).most_common(1)[0][1] == 1


@pytest.mark.skipif(os.name != "posix", reason="kill -9 (SIGKILL) is POSIX")
def test_twenty_kill_9s_during_a_pipelined_send_lose_nobody_and_name_every_doubt(
    project, store, issue, tapped_pipelining_server, cli
):
    """2,000 recipients, a relay offering PIPELINING, and kill -9 twenty times at
    moments drawn at random (seeded): after each kill `status` names the messages
    that were in flight as uncertain (at most two per connection); finishing the
    list mails everyone else exactly once, and a resend of the uncertain ones
    leaves nobody without the issue and no one with two but those named."""
    import random

    server, tap = tapped_pipelining_server
    relay = server.handler
    connections, draw = 2, random.Random(2026)
    emails = add_subscribers(store, 2000)
    relay.delay = 0.001  # a message is in flight most of the time
    configure_smtp(project, server, connections=connections, rate=0)
    named: set[str] = set()
    for _kill in range(20):
        target = len(relay.messages) + draw.randint(20, 150)
        process = start_send(project)
        try:
            wait_for(
                lambda t=target, p=process: len(relay.messages) >= t or p.poll() is not None, 120
            )
        finally:
            process.kill()
            process.wait(timeout=30)
        in_doubt = set(uncertain(project))
        assert len(in_doubt - named) <= 2 * connections
        named |= in_doubt
    assert max(most_commands_ahead(log) for log in tap.connections) >= 3  # it did pipeline
    status = cli("status", SLUG, "--json")
    assert status.exit_code == 0, status.output
    assert f'"uncertain": {len(named)}' in status.output
    finished = run_send(project, "--rate", "0")
    assert finished.returncode == 0, finished.stderr
    received = Counter(relay.recipients())
    assert all(received[email] == 1 for email in emails if email not in named)
    resent = run_send(project, "--rate", "0", "--resend-uncertain")
    assert resent.returncode == 0, resent.stderr
    received = Counter(relay.recipients())
    assert all(received[email] >= 1 for email in emails)  # nobody lost
    twice = {email for email, copies in received.items() if copies > 1}
    assert twice <= named and max(received.values()) <= 2
