"""The gate every message (and every new connection) of a send passes: the pacer
(pacing.py) and the quotas (quotas.py) together.

Pure like them: the caller passes `now` and holds its own lock around every call.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from newsletter.errors import SendDeferred
from newsletter.sending.pacing import Pace, Pacer
from newsletter.sending.quotas import QuotaWindows
from newsletter.sending.replies import Verdict


class Gate:
    def __init__(
        self,
        pacer: Pacer,
        quotas: QuotaWindows | None = None,
        *,
        wall: Callable[[], float] = time.time,
    ) -> None:
        """`wall`: the clock a "run again at" is told by."""
        self.pacer = pacer
        self.quotas = quotas if quotas is not None and quotas.quotas else None
        self.wall = wall
        self.quota_wait: tuple[str, float] | None = None  # (quota, until) while waiting

    def ask(self, now: float, *, slot: bool = True) -> float | SendDeferred:
        """0: go (a message's slot is taken; `slot` False: a connection may be opened);
        seconds to wait before asking again; or the error to stop the send with (the
        relay has accepted nothing for too long, or a quota would keep it waiting longer
        than that)."""
        error = self.pacer.give_up(now)
        if error is not None:
            return error
        if not slot:
            return self.pacer.hold(now)
        quota = self.quotas.wait(now) if self.quotas else None
        if quota is not None:
            wait, limit = quota
            if wait > self.pacer.give_up_after:
                return self._quota_stop(limit.text, wait)
            self.quota_wait = (limit.text, now + wait)
            return wait
        wait = self.pacer.wait(now)
        if wait:
            return wait
        if self.quota_wait is not None:  # that wait was not the relay's doing
            self.pacer.waited(now)
            self.quota_wait = None
        if self.quotas:
            self.quotas.handed_over()
        return 0.0

    def answered(self, now: float, *, taken: bool) -> None:
        """The relay's answer to a message the gate let go."""
        if taken:
            self.pacer.accepted(now)
        else:
            self.pacer.not_taken()
        if self.quotas:
            self.quotas.answered(now, taken=taken)

    def deferred(self, now: float, verdict: Verdict) -> None:
        """The relay's "not now", a dropped connection, a timeout."""
        self.pacer.deferred(now, verdict)

    def view(self, now: float) -> Pace:
        return self.pacer.view(now)

    def _quota_stop(self, quota: str, wait: float) -> SendDeferred:
        again = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.wall() + wait))
        return SendDeferred(
            f"quota {quota} reached: run the same send again at {again} (local time)",
            hint="nobody was marked failed, and every message not sent is still queued",
        )
