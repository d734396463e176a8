"""Pacing: how fast to send and when to wait, learnt from what the relay answers.

A relay's "not now" (a 4xx, a rate-limit answer, a dropped connection, a
timeout) is weather, not a verdict. The pacer rides it out the way Postfix
treats a destination:
- each "not now" lowers the pace by 8%, each message accepted raises it by 2%
  (the way Postfix feeds a destination's concurrency back): the pace falls
  while more than one try in five is refused, and rises otherwise, so a relay
  that refuses 15% at random is ridden at full speed, and one that limits its
  rate is followed to about its limit (a fifth of the tries above it refused);
  with no pace yet (no `rate`), the first "not now" starts from what the relay
  accepted over the last few seconds;
- `stall_after` of them with nothing accepted in between (every connection
  failing) pause the whole send: 1 s, then twice as long each time, up to
  `pause_max`; after a pause one message goes alone, as a probe, and the others
  wait for its answer;
- the pace never exceeds the configured `rate`; with none, a pace far above what
  the relay takes anyway is dropped (no limit again);
- the relay accepting nothing for `give_up_after` (while it says "not now") is the
  only reason to stop.
A recipient's own "not now" (a full mailbox) is not the relay's: the loop does not
report it here. Pure: no clock, no sleep, no threads; the caller passes `now` and
holds its own lock around every call.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from newsletter.errors import SendDeferred
from newsletter.sending.replies import Verdict

WINDOW = 2.0  # seconds of acceptances the relay's pace is measured over
SLOWER = 0.95  # the pace after a "not now", as a share of the pace before
FASTER = 1.03  # the pace after a message accepted, as a share of the pace before
LOWEST = 0.2  # messages/s: the pace never goes below this
PROBE_POLL = 0.2  # seconds between looks while a probe is out


@dataclass(frozen=True)
class Pace:
    """What the pacer is doing, for the coordinator's progress display."""

    state: str  # "steady" | "slowed" | "paused" | "probing"
    rate: float  # messages per second now; 0: no limit
    until: float | None = None  # paused until (the caller's clock)
    last_reply: str = ""


class Pacer:
    def __init__(
        self,
        rate: float,
        *,
        now: float,
        give_up_after: float = 600.0,
        stall_after: int = 8,
        pause_base: float = 1.0,
        pause_max: float = 60.0,
    ) -> None:
        self.ceiling = max(0.0, rate)  # the configured rate; 0: none
        self.rate = self.ceiling
        self.give_up_after, self.stall_after = give_up_after, max(1, stall_after)
        self.pause_base, self.pause_max = pause_base, pause_max
        self.last_reply = ""
        self._next = now  # no message goes before this
        self._accepted: deque[float] = deque()  # acceptance times, the last WINDOW seconds
        self._progress = now  # last acceptance, or the end of a wait that was not the relay's
        self._failures = 0  # the relay's "not now"s since it last accepted a message
        self._pauses = 0
        self._probing = False
        self._paused_until = now

    # --- asking to send ----------------------------------------------------------------

    def wait(self, now: float) -> float:
        """0: a message may go now (its slot is taken); else seconds to wait before asking
        again (never past the moment `give_up` would stop the send)."""
        if self._probing or now < self._next:
            wait = PROBE_POLL if self._probing else self._next - now
            if self._failures:
                wait = min(wait, max(0.0, self._progress + self.give_up_after - now))
            return max(wait, 1e-3)
        if self._failures >= self.stall_after:
            self._probing = True  # after a pause: this message goes alone
        interval = 1.0 / self.rate if self.rate else 0.0
        self._next = max(self._next, now - interval) + interval
        return 0.0

    def hold(self, now: float) -> float:
        """Seconds until a pause ends (0: none): a new connection waits for it too, but
        takes no slot."""
        if now >= self._paused_until:
            return 0.0
        return min(self._paused_until, self._progress + self.give_up_after) - now + 1e-3

    def give_up(self, now: float) -> SendDeferred | None:
        """The error to stop with when the relay has accepted nothing for too long."""
        if not self._failures or now - self._progress < self.give_up_after:
            return None
        return SendDeferred(
            f"send stopped: the relay accepted nothing for {_duration(now - self._progress)};"
            f" its last reply: {self.last_reply}",
            hint="nobody was marked failed or bounced, and every message not sent is still"
            " queued: run the same send again later (sending.give_up_after sets how long"
            " a send waits)",
        )

    # --- what the relay said -----------------------------------------------------------

    def accepted(self, now: float) -> None:
        self._failures = self._pauses = 0
        self._probing = False
        self._progress = max(self._progress, now)
        self._accepted.append(now)
        self._forget_before(now - WINDOW)
        if self.rate and (not self.ceiling or self.rate < self.ceiling):
            self.rate *= FASTER
            if self.ceiling:
                self.rate = min(self.rate, self.ceiling)
            elif self.rate > 2 * self._measured(now):
                self.rate = 0.0  # far above what the relay takes anyway: no limit again
            if self.rate and now < self._next:
                self._next = min(self._next, now + 1.0 / self.rate)

    def not_taken(self) -> None:
        """A message was answered without being taken: whatever the reason (a refusal,
        the connection lost under the message before it), a probe is no longer out; a
        "not now" among those reasons comes next, to `deferred`."""
        self._probing = False

    def deferred(self, now: float, verdict: Verdict) -> None:
        """The relay said "not now" (or dropped the connection, or stopped answering)."""
        self.last_reply = verdict.reason
        self._failures += 1
        if self.rate:
            self.rate = max(LOWEST, self.rate * SLOWER)
        elif measured := self._measured(now):  # no pace yet: what the relay took
            self.rate = max(LOWEST, measured)
        if self._probing or (self._failures >= self.stall_after and now >= self._paused_until):
            self._probing = False
            pause = min(self.pause_max, self.pause_base * 2 ** min(self._pauses, 30))
            self._pauses += 1
            self._paused_until = now + pause
            self._next = max(self._next, self._paused_until)

    def waited(self, now: float) -> None:
        """A wait that was not the relay's doing (a quota) ended: it does not count
        towards `give_up_after`."""
        self._progress = max(self._progress, now)

    # --- for the display -----------------------------------------------------------------

    def view(self, now: float) -> Pace:
        if self._probing:
            state = "probing"
        elif now < self._paused_until:
            state = "paused"
        elif self.rate != self.ceiling:
            state = "slowed"
        else:
            state = "steady"
        until = self._paused_until if state == "paused" else None
        return Pace(state, self.rate, until, self.last_reply)

    def _measured(self, now: float) -> float:
        """Messages a second the relay accepted over the last WINDOW seconds (0: too few
        to tell)."""
        self._forget_before(now - WINDOW)
        if len(self._accepted) < 2 or now <= self._accepted[0]:
            return 0.0
        return (len(self._accepted) - 1) / (now - self._accepted[0])

    def _forget_before(self, moment: float) -> None:
        while self._accepted and self._accepted[0] < moment:
            self._accepted.popleft()


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} minutes"
