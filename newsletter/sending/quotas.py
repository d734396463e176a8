"""The relay's quotas (`[smtp] quota = ["30/minute", "10000/day"]`) as rolling windows.

A quota holds across runs, crashes and restarts because its windows are counted
from what the ledger already records: every delivery the relay took (`sent`, at
its `sent_at`) or may have taken (`sending`, at its claim) in the longest window,
each placed at the end of the second it was stamped with (the stamp is cut to
the second, so the real moment was earlier: counting it later is the safe side).
Within a run, a message counts from the moment it is handed over until its
answer (in flight), then at the moment the answer was read (after the relay
counted it, again the safe side).

`QuotaWindows` is pure, like the pacer: the caller passes `now` (its own clock)
and holds its own lock.
"""

from __future__ import annotations

import time
from bisect import bisect_right, insort
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from newsletter.config.model import Quota
from newsletter.sending.reports import IssueReports

IN_FLIGHT_POLL = 0.1  # seconds between looks while messages in flight fill a window


@dataclass(frozen=True)
class QuotaUse:
    quota: Quota
    used: int

    @property
    def left(self) -> int:
        return max(0, self.quota.limit - self.used)


def stamp_times(stamps: Iterable[str]) -> list[float]:
    """Ledger stamps ("2026-12-06T11:10:00+00:00") as POSIX times, each at the end of
    its second, in order."""
    return sorted(datetime.fromisoformat(stamp).timestamp() + 1.0 for stamp in stamps)


def relay_times(reports: IssueReports, longest: float, now: float) -> list[float]:
    """The POSIX times (see `stamp_times`) of what the relay took in the last `longest`
    seconds before `now`, by the ledger."""
    since = datetime.fromtimestamp(int(now - longest) - 1, UTC).isoformat()
    return stamp_times(reports.relay_stamps_since(since))


def quota_use(reports: IssueReports, quotas: tuple[Quota, ...], now: float) -> list[QuotaUse]:
    """How much of each quota's window is used at `now` (POSIX time), by the ledger."""
    if not quotas:
        return []
    times = relay_times(reports, max(quota.seconds for quota in quotas), now)
    return [
        QuotaUse(quota, len(times) - bisect_right(times, now - quota.seconds)) for quota in quotas
    ]


def quota_windows(
    reports: IssueReports,
    quotas: tuple[Quota, ...],
    *,
    clock: Callable[[], float] = time.monotonic,
    wall: Callable[[], float] = time.time,
) -> QuotaWindows:
    """The windows a run starts with: what earlier runs sent, on the run's `clock`."""
    if not quotas:
        return QuotaWindows((), [])
    now, monotonic = wall(), clock()
    longest = max(quota.seconds for quota in quotas)
    earlier = [at - now + monotonic for at in relay_times(reports, longest, now)]
    return QuotaWindows(quotas, earlier)


class QuotaWindows:
    def __init__(self, quotas: tuple[Quota, ...], earlier: list[float]) -> None:
        """`earlier`: when the messages already sent within the longest window were
        taken, on the caller's clock, in order."""
        self.quotas = quotas
        self.longest = max((quota.seconds for quota in quotas), default=0.0)
        self._times = list(earlier)
        self.in_flight = 0

    def wait(self, now: float) -> tuple[float, Quota] | None:
        """None: one more message may go now; else how long to wait, and for which quota."""
        self._forget_before(now - self.longest)
        longest: tuple[float, Quota] | None = None
        for quota in self.quotas:
            start = bisect_right(self._times, now - quota.seconds)
            in_window = len(self._times) - start
            over = in_window + self.in_flight - quota.limit
            if over < 0:
                continue
            if self.in_flight:  # their answers decide (a refused one does not count)
                wait = IN_FLIGHT_POLL
            else:  # until enough of the oldest leave the window
                wait = self._times[start + over] + quota.seconds - now
            if longest is None or wait > longest[0]:
                longest = (max(wait, 1e-3), quota)
        return longest

    def handed_over(self) -> None:
        self.in_flight += 1

    def answered(self, now: float, *, taken: bool) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        if taken:
            insort(self._times, now)

    def _forget_before(self, moment: float) -> None:
        cut = bisect_right(self._times, moment)
        if cut > 64 and cut * 2 > len(self._times):
            del self._times[:cut]
