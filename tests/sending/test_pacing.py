"""The pacer (sending/pacing.py) and the quota windows (sending/quotas.py), without a
socket: a clock that moves only when the test moves it."""

from __future__ import annotations

import random

import pytest

from newsletter.config.model import Quota
from newsletter.errors import SendDeferred
from newsletter.sending.pacing import LOWEST, PROBE_POLL, Pacer
from newsletter.sending.quotas import IN_FLIGHT_POLL, QuotaWindows
from newsletter.sending.replies import Kind, Verdict

NOT_NOW = Verdict(Kind.TEMPORARY, "451 4.7.0 Too many messages, slow down", "4.7.0")


def drive(pacer: Pacer, start: float, seconds: float, relay_allows: float) -> tuple[int, float]:
    """Send as fast as the pacer lets through a relay that takes `relay_allows` a
    second (a token bucket of one second) and says "not now" above it; returns
    (accepted, the time the last one was)."""
    now, tokens, accepted, last = start, relay_allows, 0, start
    step = 0.001
    while now < start + seconds:
        tokens = min(relay_allows, tokens + relay_allows * step)
        if pacer.wait(now) == 0:
            if tokens >= 1:
                tokens -= 1
                pacer.accepted(now)
                accepted += 1
                last = now
            else:
                pacer.deferred(now, NOT_NOW)
        now += step
    return accepted, last


def test_slots_are_evenly_spaced_at_the_configured_rate():
    pacer = Pacer(4, now=0.0)
    assert pacer.wait(0.0) == 0
    assert pacer.wait(0.0) == pytest.approx(0.25)
    assert pacer.wait(0.25) == 0
    assert pacer.wait(0.3) == pytest.approx(0.2)
    unlimited = Pacer(0, now=0.0)
    assert all(unlimited.wait(0.0) == 0 for _ in range(100))


def test_a_rate_limited_relay_is_followed_to_about_its_own_pace():
    """From no limit at all, through a relay that takes 50 a second: after a few
    seconds' learning the pacer goes at 85% or more of it, and keeps to it."""
    pacer = Pacer(0, now=0.0)
    drive(pacer, 0.0, 5.0, relay_allows=50)
    accepted, _last = drive(pacer, 5.0, 20.0, relay_allows=50)
    assert accepted >= 0.85 * 50 * 20
    assert pacer.view(25.0).state in ("slowed", "steady")


def test_refusals_at_random_do_not_slow_the_send_down():
    """15% refused at random through a relay that answers in 5 ms: over a minute,
    nearly as many accepted as the relay could answer."""
    luck = random.Random(22)
    pacer, now, accepted = Pacer(0, now=0.0), 0.0, 0
    while now < 60:
        if pacer.wait(now) == 0:
            if luck.random() < 0.15:
                pacer.deferred(now, NOT_NOW)
            else:
                pacer.accepted(now)
                accepted += 1
        now += 0.005  # a relay that answers in 5 ms: 200 a second at most
    assert accepted > 0.9 * 0.85 * 200 * 60


def test_every_not_now_with_nothing_accepted_pauses_longer_then_probes_alone():
    pacer = Pacer(0, now=0.0, stall_after=2, pause_base=1.0, pause_max=4.0)
    pacer.wait(0.0)
    pacer.deferred(0.0, NOT_NOW)
    assert pacer.wait(0.0) == 0  # one "not now" alone only slows down
    pacer.deferred(0.0, NOT_NOW)
    assert pacer.view(0.0).state == "paused" and pacer.view(0.0).until == 1.0
    assert pacer.wait(0.5) == pytest.approx(0.5)
    assert pacer.wait(1.0) == 0  # the probe
    assert pacer.wait(1.0) == PROBE_POLL  # the others wait for its answer
    assert pacer.view(1.0).state == "probing"
    pacer.deferred(1.1, NOT_NOW)  # the probe was refused: twice as long
    assert pacer.view(1.1).until == pytest.approx(3.1)
    assert pacer.wait(3.1) == 0
    pacer.deferred(3.2, NOT_NOW)
    assert pacer.view(3.2).until == pytest.approx(7.2)
    assert pacer.wait(7.2) == 0
    pacer.deferred(7.3, NOT_NOW)
    assert pacer.view(7.3).until == pytest.approx(11.3)  # no longer than pause_max
    assert pacer.wait(11.3) == 0
    pacer.accepted(11.4)  # the relay is back: no pause, no probe
    assert pacer.wait(11.4) == 0 and pacer.view(11.4).state == "steady"


def test_the_pace_never_falls_below_the_lowest_and_climbs_back_to_the_ceiling():
    pacer = Pacer(10, now=0.0, stall_after=1000)
    for second in range(100):
        pacer.deferred(float(second), NOT_NOW)
    assert pacer.rate == LOWEST
    now = 100.0
    while pacer.rate < 10 and now < 1000:
        wait = pacer.wait(now)
        if wait == 0:
            pacer.accepted(now)
        else:
            now += wait
    assert pacer.rate == 10 and pacer.view(now).state == "steady"


def test_it_gives_up_only_when_the_relay_accepted_nothing_for_give_up_after():
    pacer = Pacer(0, now=0.0, give_up_after=20, stall_after=1, pause_max=60)
    assert pacer.give_up(100.0) is None  # nothing failed: a quiet relay is not a failing one
    pacer.accepted(100.0)
    pacer.deferred(101.0, NOT_NOW)
    assert pacer.give_up(119.9) is None
    assert pacer.wait(101.0) <= 19.0 + 1e-9  # a pause never sleeps past the give-up
    error = pacer.give_up(120.0)
    assert isinstance(error, SendDeferred) and error.exit_code == 75
    assert "accepted nothing for 20 s" in error.message and "451 4.7.0" in error.message


def test_a_wait_that_was_not_the_relays_does_not_count_towards_giving_up():
    pacer = Pacer(0, now=0.0, give_up_after=20, stall_after=5)
    pacer.deferred(1.0, NOT_NOW)
    pacer.waited(15.0)  # a quota kept the send waiting
    assert pacer.give_up(30.0) is None and pacer.give_up(35.0) is not None


def test_a_quota_window_counts_earlier_runs_and_messages_in_flight():
    quota = Quota(3, 10.0, "3/10s")
    windows = QuotaWindows((quota,), earlier=[1.0, 2.0])
    assert windows.wait(5.0) is None
    windows.handed_over()
    assert windows.wait(5.0) == (IN_FLIGHT_POLL, quota)  # its answer decides
    windows.answered(5.5, taken=True)
    wait, which = windows.wait(6.0)
    assert which is quota and wait == pytest.approx(5.0)  # the message at 1.0 leaves at 11
    assert windows.wait(11.0) is None
    windows.handed_over()
    windows.answered(11.0, taken=False)  # refused: it does not count
    assert windows.wait(11.0) is None


def test_the_longest_wait_of_several_quotas_is_the_one_waited():
    minute, day = Quota(2, 60.0, "2/minute"), Quota(3, 86400.0, "3/day")
    windows = QuotaWindows((minute, day), earlier=[0.0, 100.0, 101.0])
    wait, which = windows.wait(102.0)
    assert which is day and wait == pytest.approx(86400 - 102)
