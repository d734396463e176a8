"""The serving process's background worker: sign-up requests in, confirmation mails out.

No web request waits on SMTP or on deciding what an address is: POST /subscribe
only records the request and wakes this thread. Here each request becomes a
pending sign-up and a queued mail (one transaction), the queue is sent through
the project's transport (SMTP or the outbox), and a mail the relay does not
take is retried with a growing pause until its link expires; a relay that is
down loses nothing. Expired sign-ups and mails are deleted as it goes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from newsletter.config import Config
from newsletter.db.connection import connect_database
from newsletter.sending.mail_queue import enqueue, send_due
from newsletter.sending.mail_queue import purge_expired as purge_expired_mail
from newsletter.sending.transport import TransportPlan
from newsletter.subscribers.signups import open_signup, purge_expired, take_requests
from newsletter.subscribers.store import Store
from newsletter.web.joining_mail import JoiningMail

LOG = logging.getLogger("newsletter.web.mail")
BATCH = 10  # requests or mails per transaction: short write locks for the web threads


class MailWorker:
    """One daemon thread; `wake()` after queuing work, `drain()` to wait for it, `stop()`
    at shutdown."""

    def __init__(
        self,
        config: Config,
        plan: Callable[[], TransportPlan],
        mail: JoiningMail,
        *,
        poll_seconds: float = 5.0,
        retry_seconds: float = 15.0,
    ) -> None:
        self.config = config
        self.plan = plan  # called when mail is due: a missing SMTP password stops mail, not serve
        self.mail = mail
        self.poll_seconds = poll_seconds
        self.retry_seconds = retry_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rounds = threading.Condition()
        self._started = self._finished = 0  # rounds of run_once

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="newsletter-mail", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def drain(self, timeout: float = 30.0) -> None:
        """Wait for a whole round begun after this call: everything queued before it has
        been turned into mail and sent, or deferred by the relay."""
        with self._rounds:
            target = self._started + 1
            self.wake()
            if not self._rounds.wait_for(lambda: self._finished >= target, timeout):
                raise TimeoutError(f"the mail worker did not finish a round in {timeout} s")

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        store = Store(connect_database(self.config.database_path))
        try:
            while not self._stop.is_set():
                with self._rounds:
                    self._started += 1
                try:
                    self.run_once(store)
                except Exception:  # a bug or a broken database: log, keep the server up, retry
                    LOG.exception("the mail worker failed; retrying shortly")
                with self._rounds:
                    self._finished += 1
                    self._rounds.notify_all()
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
        finally:
            store.close()

    def run_once(self, store: Store) -> None:
        """One round: requests -> sign-ups and mails, then send what is due, then tidy."""
        while self._take_requests(store):
            pass
        self._send_due(store)
        purge_expired(store)
        purge_expired_mail(store)

    def _take_requests(self, store: Store) -> int:
        settings = self.config.subscribe
        with store.write():
            requests = take_requests(store, BATCH)
            for request in requests:
                invitation = open_signup(
                    store,
                    request,
                    valid_for=timedelta(hours=settings.confirm_hours),
                    per_address=settings.per_address_per_day,
                )
                if invitation is not None:
                    message = self.mail.confirmation(invitation)
                    enqueue(
                        store, "confirmation", request.email, message, invitation.signup.expires_at
                    )
        return len(requests)

    def _send_due(self, store: Store) -> None:
        send_due(store, self.plan, retry_seconds=self.retry_seconds, limit=BATCH)
