"""What each worker of the send loop (loop.py) holds: its share of the queue, its
transport and the tries it owes, and the claim a transport runs before a message's
content goes out."""

from __future__ import annotations

import threading
from collections import deque

from newsletter.sending.deliveries import Delivery
from newsletter.sending.ledger import Ledger
from newsletter.sending.transport import Transport


class Feed:
    """Hands queued deliveries to the workers, one page of the ledger at a time."""

    def __init__(self, ledger: Ledger, slug: str, batch_size: int) -> None:
        self.ledger, self.slug, self.batch_size = ledger, slug, batch_size
        self._buffer: deque[Delivery] = deque()
        self._after = 0
        self._exhausted = False
        self._lock = threading.Lock()

    def next(self) -> Delivery | None:
        with self._lock:
            if not self._buffer and not self._exhausted:
                batch = self.ledger.queued_after(self.slug, self._after, self.batch_size)
                if batch:
                    self._after = batch[-1].id
                    self._buffer.extend(batch)
                else:
                    self._exhausted = True
            return self._buffer.popleft() if self._buffer else None


class Lane:
    """One worker's transport, the delivery whose 250 is not yet committed, and
    the tries to make again before taking a new row (at once after the relay's
    "not now", after a backoff after a recipient's own).

    `sent` is committed in the same transaction as the claim of the lane's next
    message, which follows the 250 with only local work in between (one commit
    per message instead of two). Before anything that waits (the gate,
    a reconnect, the end of the list, a stop) it is committed on its own.
    """

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.unrecorded: int | None = None
        # (delivery, its attempt, seconds to wait first): tries to make again
        self.retries: deque[tuple[Delivery, int, float]] = deque()


class LedgerClaim:
    """The ledger commit a transport runs just before the message body goes out.

    It carries the lane's unrecorded `sent` (as it is at that moment: the
    previous message's 250 is read just before) into the same transaction.
    It says no without touching the row when the send is stopping: the answer
    to the previous message, read in the same `submit`, may have stopped it.
    """

    def __init__(
        self, ledger: Ledger, delivery_id: int, message_id: str, lane: Lane, stop: threading.Event
    ) -> None:
        self.ledger, self.delivery_id, self.message_id = ledger, delivery_id, message_id
        self.lane, self.stop = lane, stop
        self.claimed = self.stopped = False

    def __call__(self) -> bool:
        if self.stop.is_set():
            self.stopped = True  # the row stays queued; the lane's `sent` is recorded at its end
            return False
        sent, self.lane.unrecorded = self.lane.unrecorded, None
        self.claimed = self.ledger.claim(self.delivery_id, self.message_id, sent=sent)
        return self.claimed
