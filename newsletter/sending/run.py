"""What one send run is given (`SendSettings`) and what it did (`SendReport`).

The loop (loop.py) fills the report; the campaign and the command line read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from newsletter.config import Config
from newsletter.config.model import Quota
from newsletter.errors import SendError
from newsletter.sending.pacing import Pace


@dataclass(frozen=True)
class SendSettings:
    connections: int = 1
    rate: float = 0.0
    max_attempts: int = 5  # tries of a recipient whose own server says "not now"
    hard_bounce_limit: int = 1
    soft_bounce_limit: int = 3  # soft bounces on this many issues in a row -> bounced
    stop_after: int = 3  # refusals in a row that are not the recipients' own stop the send
    backoff_base: float = 2.0  # seconds before the first retry or pause; doubles each time
    backoff_max: float = 60.0
    give_up_after: float = 600.0  # the relay accepting nothing this long stops the send
    quotas: tuple[Quota, ...] = ()
    batch_size: int = 200

    @classmethod
    def from_config(cls, config: Config, connections: int, rate: float) -> SendSettings:
        sending = config.sending
        return cls(
            connections=max(1, connections),
            rate=max(0.0, rate),
            max_attempts=sending.max_attempts,
            hard_bounce_limit=sending.hard_bounce_limit,
            soft_bounce_limit=config.bounces.soft_limit,
            stop_after=sending.stop_after,
            give_up_after=sending.give_up_after,
            quotas=config.smtp.quota if config.smtp else (),
        )


@dataclass
class SendReport:
    """What one run did; also the snapshot handed to progress callbacks."""

    total: int = 0  # queued when the run started
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    deferred: int = 0  # left queued after temporary failures: a later send retries
    uncertain: int = 0  # reply lost after the message went out: left `sending`
    suppressed: int = 0  # addresses marked bounced by this run
    elapsed: float = 0.0
    interrupted: bool = False
    abandoned: bool = False  # a second Ctrl-C or SIGTERM: messages in flight left uncertain
    stopped: SendError | None = None
    retrying: int = 0  # tries the relay said "not now" to, waiting for their turn again
    pace: Pace | None = None  # how the pacer is going (pacing.py)
    quota_wait: tuple[str, float] | None = None  # waiting for this quota, until (clock)

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.skipped + self.deferred + self.uncertain

    def snapshot(self) -> SendReport:
        """A copy for a progress callback, taken per message: a plain copy of the
        fields (dataclasses.replace costs more than the rest of the bookkeeping)."""
        copy = object.__new__(SendReport)
        copy.__dict__.update(self.__dict__)
        return copy
