"""The rate limit that holds across all of a send's connections."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Sleep = Callable[[float], object]


class RateLimiter:
    """Messages per second across all connections: evenly spaced slots, no burst.

    Each caller reserves the next free slot under a lock and sleeps outside it,
    so the limit holds across threads. rate <= 0 means no limit.
    """

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.clock = clock
        self.sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take the next slot; returns how long to wait for it (0 = go now)."""
        if not self.interval:
            return 0.0
        with self._lock:
            now = self.clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        return slot - now

    def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            self.sleep(wait)
