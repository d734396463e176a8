"""The breaker: failures that are not the recipients' own stop the whole send.

Counted across all connections since the relay last accepted a message:
- refusals about the sender, the relay or the message (quota, "not
  verified", relay denied, 5.7.x, size): `stop_after` of them, each for a
  different recipient, stop the send, and those rows go back to the queue;
- tries that failed for now on the relay's side (4xx, a timeout, a dropped
  connection, 421 at the greeting, a reply lost after the dot):
  `stop_after` in a row stop the send (a relay gone silent stops within
  `stop_after` timeouts, not after hours of retries);
- different recipients answered "not now" one after the other: `stop_after`
  of them (a relay that answers 4xx to everyone).
A hard bounce neither counts nor resets: it says nothing about the relay.
The caller holds its own lock around every call.
"""

from __future__ import annotations

from newsletter.errors import SendError
from newsletter.sending.replies import Kind, Verdict

_HINT = "nobody was marked failed or bounced; fix the cause, then run the same send again"


class Breaker:
    def __init__(self, stop_after: int) -> None:
        self.stop_after = max(1, stop_after)
        self.refused: list[int] = []  # delivery ids, failed for now: released if it trips
        self._relay_failures = 0
        self._deferred: set[int] = set()

    def accepted(self) -> None:
        """The relay took a message: it works, and nothing so far was everyone's problem."""
        self.refused.clear()
        self._relay_failures = 0
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
        """A try that failed for now; the error to stop with when the relay seems gone."""
        if verdict.kind is Kind.SOFT_BOUNCE:
            self._deferred.add(delivery_id)
            if len(self._deferred) >= self.stop_after:
                return SendError(
                    f"send stopped: {len(self._deferred)} recipients in a row deferred by the"
                    f" relay: {verdict.reason}",
                    hint=_HINT,
                )
            return None
        self._relay_failures += 1
        if self._relay_failures < self.stop_after:
            return None
        what = "stopped answering" if "timed out" in verdict.reason else "failed every try"
        return SendError(
            f"send stopped: the relay {what} ({self._relay_failures} tries in a row): {verdict.reason}",
            hint=_HINT,
        )
