"""The breaker: refusals that are not the recipients' own stop the whole send.

Counted across all connections since the relay last accepted a message:
- refusals about the sender, the relay or the message (quota, "not
  verified", relay denied, 5.7.x, size): `stop_after` of them, each for a
  different recipient, stop the send, and those rows go back to the queue;
- different recipients answered "not now" about themselves (a full mailbox)
  one after the other: `stop_after` of them (a relay that says it of everyone
  would otherwise soft-bounce the whole list).
The relay's own "not now" (4xx, a timeout, a dropped connection, 421 at the
greeting) is not the breaker's: the pacer rides it out (pacing.py). A hard
bounce neither counts nor resets: it says nothing about the relay. The caller
holds its own lock around every call.
"""

from __future__ import annotations

from newsletter.errors import SendError
from newsletter.sending.replies import Verdict

_HINT = "nobody was marked failed or bounced; fix the cause, then run the same send again"


class Breaker:
    def __init__(self, stop_after: int) -> None:
        self.stop_after = max(1, stop_after)
        self.refused: list[int] = []  # delivery ids, failed for now: released if it trips
        self._deferred: set[int] = set()

    def accepted(self) -> None:
        """The relay took a message: it works, and nothing so far was everyone's problem."""
        self.refused.clear()
        self._deferred.clear()

    def refusal(self, delivery_id: int, verdict: Verdict) -> SendError | None:
        """A REFUSED reply; the error to stop with when it is one too many."""
        self.refused.append(delivery_id)
        if len(self.refused) < self.stop_after:
            return None
        return SendError(
            f"send stopped: {len(self.refused)} recipients in a row refused for a reason that is"
            f" not theirs: {verdict.reason}",
            hint=f"the relay refuses the sender, the account or the message; {_HINT}",
        )

    def failure(self, delivery_id: int, verdict: Verdict) -> SendError | None:
        """A recipient's own "not now" (a soft bounce); the error to stop with when
        everyone seems to get it."""
        self._deferred.add(delivery_id)
        if len(self._deferred) < self.stop_after:
            return None
        return SendError(
            f"send stopped: {len(self._deferred)} recipients in a row deferred by the"
            f" relay: {verdict.reason}",
            hint=_HINT,
        )
