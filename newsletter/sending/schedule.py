"""`send --at TIME`: when to send, and the wait until then.

The time is read once, before anything else happens, so a typo or a time that
has passed is an error at once, not at nine the next morning.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from newsletter.errors import InputError

_FORMS = (
    '"2026-12-08 09:00" (local time) or an ISO 8601 time with an offset (2026-12-08T09:00+01:00)'
)


def parse_send_time(text: str, now: datetime | None = None) -> datetime:
    """The moment `--at` names, time-zone aware; a naive time is the machine's local time."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"--at {text!r} is not a time", hint=f"write it as {_FORMS}") from None
    if when.tzinfo is None:
        when = when.astimezone()  # the machine's local time, as the coordinator wrote it
    if when <= (now or datetime.now(UTC)):
        raise InputError(f"--at {text}: that time has passed", hint="leave --at out to send now")
    return when


def wait_until(
    when: datetime,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], object] = time.sleep,
    on_tick: Callable[[float], None] | None = None,
) -> None:
    """Wait until `when`, a second at a time (a countdown shows each; a clock set
    forward or back, or a machine that slept, is followed)."""
    target = when.timestamp()
    while (left := target - clock()) > 0:
        if on_tick is not None:
            on_tick(left)
        sleep(min(left, 1.0))
