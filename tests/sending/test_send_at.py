"""`send SLUG --at TIME`: ask now, send at that time; a signal before then sends nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from newsletter.errors import InputError
from newsletter.project import open_project
from newsletter.sending.ledger import Ledger
from newsletter.sending.schedule import parse_send_time, wait_until

from support.process import interruptible
from support.smtp import add_subscribers, configure_smtp

SLUG = "2026-12"


def local_text(moment: datetime) -> str:
    """As a coordinator writes it: local time, no offset."""
    return moment.astimezone().replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")


def test_a_send_at_a_time_a_few_seconds_ahead_sends_nothing_before_it(
    cli, project, store, issue, smtp_server
):
    emails = add_subscribers(store, 5)
    configure_smtp(project, smtp_server, connections=1, rate=0)
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=8)  # past a slow start
    result = cli("send", issue, "--yes", "--at", local_text(at))
    assert result.exit_code == 0, result.output
    assert "scheduled: at " in result.output and "waiting: sending in" in result.output
    assert sorted(smtp_server.handler.recipients()) == emails
    # Received.at is the monotonic clock: the earliest message, told in wall time
    earliest = min(m.at for m in smtp_server.handler.messages) - time.monotonic() + time.time()
    assert earliest >= at.timestamp()


@pytest.mark.parametrize(("sig", "name"), [(signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM")])
def test_a_signal_before_the_time_sends_nothing_and_freezes_nothing(
    project, store, issue, smtp_server, sig, name
):
    add_subscribers(store, 5)
    configure_smtp(project, smtp_server, connections=1, rate=0)
    at = local_text(datetime.now(UTC) + timedelta(minutes=10))
    process = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "send", SLUG, "--yes", "--at", at,
         "--project", str(project)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible,
    )  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:  # bounded: the child waits ten minutes at most
        if line.startswith("waiting: sending in"):
            break
    process.send_signal(sig)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 128 + sig, err
    assert f"stopped by {name} before the time: nothing was sent" in out
    assert "Traceback" not in err
    assert smtp_server.handler.messages == []
    with open_project(project) as (_config, other):
        assert Ledger(other).status(SLUG) is None  # nobody frozen: joiners still get it


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--at", "next tuesday"), "--at 'next tuesday' is not a time"),
        (("--at", "2020-01-01 09:00"), "that time has passed"),
        (("--at", "2099-01-01 09:00", "--dry-run"), "--at is for the send itself"),
    ],
)
def test_a_time_that_cannot_be_used_is_one_line_and_nothing_happens(
    cli, project, store, issue, args, says
):
    add_subscribers(store, 2)
    result = cli("send", issue, "--yes", *args)
    assert result.exit_code == 1
    assert says in result.output and "Traceback" not in result.output
    assert not (project / "outbox").exists()


def test_an_offset_is_honoured_and_a_local_time_is_the_machines():
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert parse_send_time("2026-12-08T09:00+01:00", now) == datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
    local = parse_send_time("2026-12-08 09:00", now)
    assert local.utcoffset() is not None
    assert local.replace(tzinfo=None) == datetime(2026, 12, 8, 9, 0)
    with pytest.raises(InputError):
        parse_send_time("2026-12-06T11:59+00:00", now)


def test_the_wait_counts_down_a_second_at_a_time_until_the_time():
    now = [1000.0]
    ticks: list[float] = []

    def sleep(seconds: float) -> None:
        now[0] += seconds

    when = datetime.fromtimestamp(1003.5, UTC)
    wait_until(when, clock=lambda: now[0], sleep=sleep, on_tick=ticks.append)
    assert ticks == [3.5, 2.5, 1.5, 0.5] and now[0] == 1003.5


@pytest.fixture
def london(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """The machine's zone is Europe/London (POSIX only: Windows has no tzset)."""
    if not hasattr(time, "tzset"):
        pytest.skip("needs time.tzset")
    monkeypatch.setenv("TZ", "Europe/London")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_time_in_the_hour_the_clocks_go_back_is_the_one_still_to_come(london) -> None:
    """01:10 on 25 October 2026 happens twice in London; at 01:05 the second time round,
    a coordinator asking for 01:10 means the one five minutes away (a moved clock found
    that the first one was taken, and refused as past)."""
    second_pass = datetime(2026, 10, 25, 1, 5, tzinfo=UTC)  # 01:05 GMT
    first_pass = datetime(2026, 10, 25, 0, 5, tzinfo=UTC)  # 01:05 BST
    assert parse_send_time("2026-10-25 01:10", second_pass) == datetime(
        2026, 10, 25, 1, 10, tzinfo=UTC
    )
    assert parse_send_time("2026-10-25 01:10", first_pass) == datetime(
        2026, 10, 25, 0, 10, tzinfo=UTC
    )


def test_a_time_the_clocks_skip_is_one_line(london) -> None:
    with pytest.raises(InputError, match="the clocks go forward then, so that time never comes"):
        parse_send_time("2027-03-28 01:30", datetime(2027, 3, 27, tzinfo=UTC))
