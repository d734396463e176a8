"""A send that rides out its relay (issue 22): "not now" slows the send down, and
stops it only after `sending.give_up_after`; quotas hold across runs.

Real sends through the CLI against aiosmtpd relays with weather of their own
(support/faults.py).
"""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest

from newsletter.project import open_project
from newsletter.sending.ledger import Ledger

from support.faults import BurstLimitedSink, ScriptedSink, WeatherSink
from support.smtp import Sink, add_subscribers, configure_smtp, start_server

SLUG = "2026-12"


@pytest.fixture
def relay(request):  # noqa: ANN001, ANN201
    """A relay answering with the handler the test parametrizes `relay` with."""
    controller, server = start_server(request.param)
    yield server
    controller.stop()


def uncertain_addresses(project) -> set[str]:  # noqa: ANN001
    with open_project(project) as (_config, store):
        return set(Ledger(store).uncertain(SLUG, limit=10_000))


def counts(project) -> dict[str, int]:  # noqa: ANN001
    with open_project(project) as (_config, store):
        return Ledger(store).status(SLUG).counts


@pytest.mark.parametrize(
    "relay",
    [WeatherSink(), WeatherSink(pipelining=True, seed=7)],
    ids=["plain", "pipelining"],
    indirect=True,
)
def test_an_ordinary_day_at_a_shared_relay_is_ridden_out_in_one_run(
    cli, project, store, issue, relay
):
    """15% answered 451 at random, a few connections dropped before the final dot and
    a few after it: one run delivers everyone once; uncertain are exactly the messages
    whose answer was lost after the dot (and the relay has them)."""
    emails = add_subscribers(store, 600)
    configure_smtp(project, relay, connections=3, rate=0)
    result = cli("send", issue, "--yes")
    assert result.exit_code == 0, result.output
    handler = relay.handler
    assert handler.deferrals > 60 and handler.drops_before > 3 and handler.dropped_after_dot
    received = Counter(handler.recipients())
    assert set(received) == set(emails) and set(received.values()) == {1}
    assert uncertain_addresses(project) == set(handler.dropped_after_dot)
    found = counts(project)
    assert found["sent"] == 600 - len(handler.dropped_after_dot)
    assert found["queued"] == found["failed"] == 0
    with open_project(project) as (_config, other):
        assert {s.status for s in other.list_subscribers()} == {"active"}


@pytest.mark.parametrize("relay", [BurstLimitedSink(burst=25, blocked_for=4)], indirect=True)
def test_a_relay_that_blocks_for_seconds_after_every_burst_gets_everyone_once_in_one_run(
    cli, project, store, issue, relay
):
    emails = add_subscribers(store, 150)
    configure_smtp(project, relay, connections=2, rate=0)
    result = cli("send", issue, "--yes")
    assert result.exit_code == 0, result.output
    assert relay.handler.refusals > 0  # it did block
    assert Counter(relay.handler.recipients()) == Counter(emails)
    assert counts(project)["sent"] == 150


@pytest.mark.parametrize(
    "relay", [ScriptedSink(data_all="451 4.3.0 Try again later")], indirect=True
)
def test_a_relay_that_defers_everything_stops_after_give_up_after_and_fails_nobody(
    cli, project, store, issue, relay
):
    add_subscribers(store, 30)
    configure_smtp(project, relay, connections=2, rate=0, sending_give_up_after="20s")
    started = time.monotonic()
    result = cli("send", issue, "--yes")
    waited = time.monotonic() - started
    assert result.exit_code == 75, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "accepted nothing for 20 s" in errors[0]
    assert "451 4.3.0" in errors[0]
    assert waited >= 20  # it did not stop before give_up_after
    assert counts(project)["queued"] == 30 and not relay.handler.messages
    with open_project(project) as (_config, other):
        assert {s.status for s in other.list_subscribers()} == {"active"}
        assert not list(other.query("SELECT * FROM events WHERE kind LIKE '%bounce%'"))


@pytest.mark.parametrize("relay", [Sink()], indirect=True)
def test_a_quota_is_never_exceeded_in_any_window_across_runs(cli, project, store, issue, relay):
    """10 messages in any 15 s: a wait longer than give_up_after (5 s) stops the run
    with exit 75 and the time to run again; the next runs count what the earlier sent."""
    emails = add_subscribers(store, 25)
    configure_smtp(project, relay, connections=2, rate=0, quota=["10/15s"], sending_give_up_after=5)
    runs: list[int] = []
    for _run in range(60):  # bounded: ~25 s of windows, a run every second at most
        result = cli("send", issue, "--yes")
        runs.append(result.exit_code)
        if result.exit_code == 0:
            break
        assert result.exit_code == 75, result.output
        assert re.search(r"quota 10/15s reached: run the same send again at \S+ \S+", result.output)
        time.sleep(1)
    assert runs[-1] == 0 and runs.count(75) >= 2  # several runs
    assert Counter(relay.handler.recipients()) == Counter(emails)
    times = sorted(message.at for message in relay.handler.messages)
    for index, first in enumerate(times):
        assert sum(1 for later in times[index:] if later - first < 15) <= 10
    in_last_window = sum(1 for at in times if at > time.monotonic() - 15)
    status = cli("status", issue)
    used = re.search(r"relay quota: 10/15s: (\d+) used, (\d+) left", status.output)
    assert used is not None, status.output
    assert int(used[1]) >= in_last_window and int(used[2]) == max(0, 10 - int(used[1]))
