"""When the database is held (an import, a send): retry at once, or apply later.

SQLite's busy handler waits ever longer (up to 100 ms) between tries; the web
handler waits 2 ms and retries every millisecond itself, for as long as the
project's busy timeout (see `patiently`). An unsubscribe that still cannot get
in is journalled and answered, and `DeferredUnsubscribes` writes it later.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from newsletter.errors import NewsletterError
from newsletter.subscribers.store import Store

SHORT_BUSY_TIMEOUT = 0.002
BUSY_RETRY_SECONDS = 30.0
APPLY_NOW = 0.3  # seconds an unsubscribe waits for the database before it is deferred
SQLITE_BUSY_CODES = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED (and their extended codes)
T = TypeVar("T")
ERROR_LOG = logging.getLogger("newsletter.web")


def patiently(operation: Callable[[], T], limit: float = BUSY_RETRY_SECONDS) -> T:
    """Run a database operation, retrying every millisecond while the database is busy.

    A send commits twice per message, nearly back to back when it is fast.
    SQLite's own busy handler backs off to 100 ms sleeps and can miss the gaps
    for seconds; retrying often finds one in milliseconds. Each operation is
    one transaction (rolled back on failure), so running it again is safe.
    """
    deadline = time.monotonic() + limit
    while True:
        try:
            return operation()
        except sqlite3.OperationalError as error:
            if not is_busy(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.001)


def is_busy(error: sqlite3.OperationalError) -> bool:
    return getattr(error, "sqlite_errorcode", 0) & 0xFF in SQLITE_BUSY_CODES


class DeferredUnsubscribes:
    """Journalled unsubscribes the database could not take at once (it was held by an
    import or a send): one background thread writes them as soon as it can."""

    def __init__(self, new_store: Callable[[], Store]) -> None:
        self._new_store = new_store
        self._waiting: dict[int, str] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, subscriber_id: int, via: str) -> None:
        with self._lock:
            self._waiting[subscriber_id] = via
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="unsubscribe-later", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def busy(self) -> bool:
        """Unsubscribes are still waiting for the database."""
        with self._lock:
            return bool(self._waiting)

    def pending(self, subscriber_id: int) -> bool:
        with self._lock:
            return subscriber_id in self._waiting

    def stop(self) -> None:
        """Whatever is still waiting stays in the journal: the next open replays it."""
        self._stopping.set()
        self._wake.set()

    def _run(self) -> None:
        store = None
        while not self._stopping.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            with self._lock:
                waiting = list(self._waiting.items())
            for subscriber_id, via in waiting:
                try:
                    store = store or self._new_store()
                    patiently(partial(store.unsubscribe, subscriber_id, via, journaled=True))
                except (sqlite3.Error, NewsletterError):
                    ERROR_LOG.warning("an unsubscribe waits in the journal for the database")
                    self._wake.set()
                    break
                with self._lock:
                    if self._waiting.get(subscriber_id) == via:
                        del self._waiting[subscriber_id]
