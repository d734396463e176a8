"""The send loop: workers, the ledger, retries, pacing and quotas, progress callbacks.

`connections` worker threads each own one transport (an SMTP session) and pull
queued deliveries from a shared feed that pages through the ledger by id, so
memory stays flat for any list size. Per message a worker builds it, waits for
the gate (the pacer and the quotas: gate.py), and submits it to the transport
with a claim and a `done` callback: the transport runs the claim (the row
becomes `sending`, committed, only if the person is still active and the send
is not stopping) just before
the content goes out, and reports the result through `done`: at once (the
outbox), or while it submits the next message, so the next message is built
while the server digests this one (smtp.py; pipelining.py). After the 250 the row is
marked `sent`, committed together with the lane's next claim, or alone before
anything that waits (pacing, quota, backoff, reconnect, end), which the lane
settles first (`flush`). The uncertain window is therefore the messages in
flight. A try that failed for now is retried by the same lane before it takes
a new row: at once when the relay said "not now" (the pacer slows everyone
down, pauses, and gives up only after `give_up_after`: pacing.py), after a
backoff when the recipient's own server did (a full mailbox). Never prints.

What a failure does follows `replies.classify` (who the reply is about) and
the breaker (breaker.py), which stops the send when refusals are not the
recipients' own; rows it touched go back to the queue.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable

from newsletter.db.faults import database_fault
from newsletter.errors import InputError, NewsletterError, SendError
from newsletter.mail.outgoing import OutgoingMessage
from newsletter.sending.breaker import Breaker
from newsletter.sending.deliveries import Delivery
from newsletter.sending.gate import Gate
from newsletter.sending.lanes import Feed, Lane, LedgerClaim
from newsletter.sending.ledger import Ledger
from newsletter.sending.pacing import Pacer
from newsletter.sending.pipelining import Unsent
from newsletter.sending.quotas import QuotaWindows
from newsletter.sending.replies import Kind, Verdict, classify, session_survives
from newsletter.sending.run import SendReport, SendSettings
from newsletter.sending.transport import Transport, TransportFactory
from newsletter.subscribers.model import Subscriber

Builder = Callable[[Subscriber], OutgoingMessage]
EnvelopeSender = Callable[[int], str]  # delivery id -> MAIL FROM (VERP)
Sleep = Callable[[float], object]
RELAY_TRIES = 4  # a message the relay defers is tried this many times max_attempts at most


class _Stopped(Exception):
    """Raised inside a worker when the send is stopping: leave the row as it is."""


class Sender:
    """Works through an issue's queued deliveries; see the module docstring."""

    def __init__(
        self,
        ledger: Ledger,
        slug: str,
        build: Builder,
        transports: TransportFactory,
        settings: SendSettings,
        *,
        total: int = 0,
        on_progress: Callable[[SendReport], None] | None = None,
        envelope_sender: EnvelopeSender | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep | None = None,
        quotas: QuotaWindows | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        """`quotas`: the relay's windows, with what earlier runs sent (see
        `quota_windows`); `wall`: the clock a "run again at" is told by."""
        self.ledger, self.slug, self.build = ledger, slug, build
        self.envelope_sender = envelope_sender
        self.transports, self.settings = transports, settings
        self.on_progress = on_progress
        self.clock = clock
        self._stop = threading.Event()
        self.sleep: Sleep = sleep or self._stop.wait
        pacer = Pacer(
            settings.rate,
            now=clock(),
            give_up_after=settings.give_up_after,
            stall_after=2 * settings.connections + 2,  # every connection failing, twice
            pause_base=settings.backoff_base,
            pause_max=settings.backoff_max,
        )
        self.gate = Gate(pacer, quotas, wall=wall)
        self.report = SendReport(total=total)
        self._feed = Feed(ledger, slug, settings.batch_size)
        self._lock = threading.Lock()
        self._breaker = Breaker(settings.stop_after)
        self._crash: BaseException | None = None

    def stop(self) -> None:
        """Ask the workers to stop after the message each has in hand."""
        self._stop.set()

    def run(self) -> SendReport:
        started = self.clock()
        threads = [
            threading.Thread(target=self._work, name=f"send-{n}", daemon=True)
            for n in range(self.settings.connections)
        ]
        for thread in threads:
            thread.start()
        try:
            _wait(threads)
        except KeyboardInterrupt:
            self.report.interrupted = True
            self.stop()
            try:  # a second signal may come while the first is still being reported
                if self.on_progress is not None:  # says "finishing the messages in hand"
                    self.on_progress(self.report.snapshot())
                _wait(threads)
            except KeyboardInterrupt:  # a second signal: stop waiting; in flight stays uncertain
                self.report.abandoned = True
        if self._crash is not None:
            raise self._crash
        self.report.elapsed = self.clock() - started
        return self.report

    # --- one worker ------------------------------------------------------------------

    def _work(self) -> None:
        lane = Lane(self.transports())
        try:
            self._run_lane(lane)
        except _Stopped:
            pass
        except BaseException as error:
            self._worker_failed(error)
        finally:
            self._close_lane(lane)

    def _close_lane(self, lane: Lane) -> None:
        try:
            lane.transport.close()  # settles the message in flight first
        except BaseException as error:
            self._worker_failed(error)
        try:
            self._record_sent(lane)
        except (sqlite3.Error, NewsletterError) as error:  # the journal holds that 250
            self._halt_for_fault(error)

    def _halt_for_fault(self, error: Exception) -> None:
        fault = database_fault(error)
        self._halt(SendError(f"send stopped: {fault.message}", fault.hint))

    def _run_lane(self, lane: Lane) -> None:
        delivery: Delivery | None
        while not self._stop.is_set():
            wait = 0.0
            if lane.retries:
                delivery, attempt, wait = lane.retries.popleft()
                self._retrying(-1)
            else:
                delivery, attempt = self._feed.next(), 1
                if delivery is None:
                    self._settle(lane)  # the last answer may still ask for a retry
                    if not lane.retries:
                        return
                    continue
            self._deliver(lane, delivery, attempt, wait)

    def _worker_failed(self, error: BaseException) -> None:
        if isinstance(error, SendError):
            self._halt(error)
        elif isinstance(error, NewsletterError):
            self._halt(SendError(f"send stopped: {error.message}", error.hint))
        elif isinstance(error, sqlite3.Error):  # full disk, read-only file, I/O error, busy
            self._halt_for_fault(error)
        else:  # a bug: stop everyone, re-raised by run()
            self._crash = self._crash or error
            self._stop.set()

    def _deliver(self, lane: Lane, delivery: Delivery, attempt: int, wait: float) -> None:
        if delivery.subscriber is None:
            self._record_sent(lane)
            self.ledger.skip(delivery.id)
            self._count("skipped")
            return
        if wait > 0:
            self._settle(lane)
            self.sleep(wait)
        if self._stop.is_set():
            raise _Stopped
        verdict = self._attempt(lane, delivery, attempt)
        if verdict is not None:
            self._try_again(lane, delivery, attempt, verdict)

    def _try_again(self, lane: Lane, delivery: Delivery, attempt: int, verdict: Verdict) -> None:
        """A try failed for now. The relay's "not now": again, as soon as the pacer lets
        it, up to RELAY_TRIES times max_attempts (one message the relay always defers
        while it takes others must not hold the send until give_up_after). The
        recipient's own: again after a backoff, up to max_attempts. Then left queued
        for a later send."""
        tries = self.settings.max_attempts
        if verdict.kind is not Kind.SOFT_BOUNCE and attempt < RELAY_TRIES * tries:
            lane.retries.append((delivery, attempt + 1, 0.0))
            self._retrying(+1)
            return
        if verdict.kind is Kind.SOFT_BOUNCE and attempt < tries:
            lane.retries.append((delivery, attempt + 1, self._backoff(attempt)))
            self._retrying(+1)
            return
        suppressed = False
        # about the recipient, every try: a soft bounce (_deliver skips the forgotten)
        if verdict.kind is Kind.SOFT_BOUNCE and delivery.subscriber is not None:
            suppressed = self.ledger.record_soft_bounce(
                delivery.subscriber.id,
                self.slug,
                verdict.detail,
                self.settings.soft_bounce_limit,
            )
        self._count("deferred", suppressed=suppressed)

    def _attempt(self, lane: Lane, delivery: Delivery, attempt: int) -> Verdict | None:
        """One try; returns the verdict of a failure known at once (connecting), else
        None: the result comes to `_done` (now, or while the next message goes out)."""
        transport = lane.transport
        if not transport.is_open:
            self._settle(lane)  # connecting takes network time: record first
            self._pace(lane, slot=False)
            try:
                transport.open()
            except Exception as error:
                verdict = self._verdict(error, transport)
                transport.close()
                self._watch(delivery.id, verdict)
                return verdict
        subscriber = delivery.subscriber
        assert subscriber is not None
        try:
            message = self.build(subscriber)
            if self.envelope_sender is not None:
                message = message.sent_by(self.envelope_sender(delivery.id))
        except InputError as error:  # this address cannot be written (e.g. non-ASCII local part)
            self._record_sent(lane)
            self.ledger.mark_failed(delivery.id, f"cannot address the message: {error.message}")
            self._count("failed")
            return None
        self._pace(lane)
        claim = LedgerClaim(self.ledger, delivery.id, message.message_id, lane, self._stop)

        def done(taken: bool, error: Exception | None) -> None:
            self._answered(taken)
            self._done(lane, delivery, attempt, claim, taken, error)

        transport.submit(message, claim, done)
        return None

    def _done(
        self,
        lane: Lane,
        delivery: Delivery,
        attempt: int,
        claim: LedgerClaim,
        taken: bool,
        error: Exception | None,
    ) -> None:
        """What the server said about one submitted message."""
        if isinstance(error, Unsent):  # lost with the message before it: same try again
            lane.retries.appendleft((delivery, attempt, 0.0))
            self._retrying(+1)
        elif error is not None:
            verdict = self._settle_failure(lane.transport, delivery, error, claimed=claim.claimed)
            if verdict is not None:
                self._try_again(lane, delivery, attempt, verdict)
        elif claim.stopped:
            pass  # never claimed: it stays queued for the next run
        elif not taken:
            self.ledger.skip(delivery.id)
            self._count("skipped")
        else:
            self._record_sent(lane)  # only when a claim did not already take it
            lane.unrecorded = delivery.id  # committed with the next claim, or on its own
            self._count("sent")

    def _settle(self, lane: Lane) -> None:
        """Before anything that waits: the answer in flight read, its row committed."""
        lane.transport.flush()
        self._record_sent(lane)

    def _record_sent(self, lane: Lane) -> None:
        """Commit the lane's last 250 now (before anything that waits on the network)."""
        if lane.unrecorded is not None:
            sent, lane.unrecorded = lane.unrecorded, None
            self.ledger.mark_sent(sent)

    def _settle_failure(
        self, transport: Transport, delivery: Delivery, error: Exception, *, claimed: bool
    ) -> Verdict | None:
        try:
            verdict = self._verdict(error, transport)
        except SendError:
            if claimed:
                self.ledger.release(delivery.id, "not sent: the send stopped")
            raise
        if verdict.kind in (Kind.TEMPORARY, Kind.SOFT_BOUNCE):
            if claimed:
                self.ledger.release(delivery.id, verdict.reason)
            if verdict.kind is Kind.TEMPORARY and not session_survives(error):
                transport.close()
            self._watch(delivery.id, verdict)
            return verdict
        if verdict.kind is Kind.UNCERTAIN:
            self._count("uncertain")  # the row stays `sending`: reported, resent on request
            self._watch(delivery.id, verdict)
            return None
        if verdict.kind is Kind.REFUSED:
            self._refused(delivery.id, verdict)
            return None
        self.ledger.mark_failed(delivery.id, verdict.reason)
        suppressed = False
        if delivery.subscriber is not None:
            suppressed = self.ledger.record_bounce(
                delivery.subscriber.id, self.slug, verdict.detail, self.settings.hard_bounce_limit
            )
        self._count("failed", suppressed=suppressed)
        return None

    def _verdict(self, error: Exception, transport: Transport) -> Verdict:
        """Classify, turning a failure that concerns every message into a SendError."""
        verdict = classify(error)
        if verdict is None:
            raise error
        if verdict.kind is Kind.FATAL:
            raise SendError(
                f"send stopped: {transport.description}: {verdict.reason}", verdict.hint
            )
        return verdict

    def _backoff(self, retry: int) -> float:
        return min(self.settings.backoff_max, self.settings.backoff_base * 2.0 ** (retry - 1))

    # --- pacing and quotas -------------------------------------------------------------

    def _pace(self, lane: Lane, *, slot: bool = True) -> None:
        """Wait until the gate lets one more message (or a connection) go; stop the send
        when it says so."""
        while True:
            if self._stop.is_set():
                raise _Stopped
            with self._lock:
                answer = self.gate.ask(self.clock(), slot=slot)
                self.report.quota_wait = self.gate.quota_wait
                if isinstance(answer, SendError):
                    self._halt_locked(answer)
                    raise _Stopped
            if not answer:
                return
            self._settle(lane)
            self._progress()
            self.sleep(min(answer, 1.0))  # the progress display counts down

    def _answered(self, taken: bool) -> None:
        with self._lock:
            self.gate.answered(self.clock(), taken=taken)

    def _retrying(self, change: int) -> None:
        with self._lock:
            self.report.retrying += change

    # --- shared bookkeeping ------------------------------------------------------------

    def _count(self, outcome: str, *, suppressed: bool = False) -> None:
        with self._lock:
            setattr(self.report, outcome, getattr(self.report, outcome) + 1)
            self.report.suppressed += suppressed
            if outcome == "sent":
                self._breaker.accepted()
            snapshot = self._snapshot()
        self._tell(snapshot)

    def _snapshot(self) -> SendReport | None:
        """The report for the progress display (the caller holds the lock)."""
        if self.on_progress is None:
            return None
        self.report.pace = self.gate.view(self.clock())
        return self.report.snapshot()

    def _progress(self) -> None:
        with self._lock:
            snapshot = self._snapshot()
        self._tell(snapshot)

    def _tell(self, snapshot: SendReport | None) -> None:
        """Hand a snapshot to the progress display (outside the lock)."""
        if snapshot is not None and self.on_progress is not None:
            self.on_progress(snapshot)

    def _watch(self, delivery_id: int, verdict: Verdict) -> None:
        """A try that failed for now. The relay's "not now" slows the pacer down; a
        recipient's own is the breaker's to watch (the same from everyone: the relay)."""
        with self._lock:
            if verdict.kind is Kind.SOFT_BOUNCE:
                error = self._breaker.failure(delivery_id, verdict)
                if error is not None:
                    self._halt_locked(error)
            else:
                self.gate.deferred(self.clock(), verdict)
            snapshot = self._snapshot()
        self._tell(snapshot)

    def _refused(self, delivery_id: int, verdict: Verdict) -> None:
        """Refused for the sender, relay or message: failed, unless it is one too many
        (then it and the ones before it go back to the queue) or the send is stopping
        anyway (then it goes back too: never collateral of a stop)."""
        with self._lock:
            if self._stop.is_set():
                self.ledger.release(delivery_id, f"not sent: the send stopped; {verdict.reason}")
                self.report.deferred += 1
                return
            self.ledger.mark_failed(delivery_id, verdict.reason)
            self.report.failed += 1
            error = self._breaker.refusal(delivery_id, verdict)
            if error is not None:
                streak, self._breaker.refused = self._breaker.refused, []
                for refused_id in streak:
                    self.ledger.release(refused_id, f"not sent: the send stopped; {verdict.reason}")
                self.report.failed -= len(streak)
                self.report.deferred += len(streak)
                self._halt_locked(error)
            snapshot = self._snapshot()
        self._tell(snapshot)

    def _halt(self, error: SendError) -> None:
        with self._lock:
            self._halt_locked(error)

    def _halt_locked(self, error: SendError) -> None:
        if self.report.stopped is None:
            self.report.stopped = error
        self._stop.set()


def _wait(threads: list[threading.Thread]) -> None:
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)
