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
    now = now or datetime.now(UTC)
    if when.tzinfo is not None:
        moments = [when]
    else:  # the machine's local time, as the coordinator wrote it
        moments = _wall_clock(when)
        if not moments:
            raise InputError(
                f"--at {text}: the clocks go forward then, so that time never comes",
                hint="give a time after the change, or an offset (2026-03-28T02:30+01:00)",
            )
    coming = [moment for moment in moments if moment > now]
    if not coming:
        raise InputError(f"--at {text}: that time has passed", hint="leave --at out to send now")
    return coming[0]


def _wall_clock(naive: datetime) -> list[datetime]:
    """Each moment the machine's clock shows `naive`, in order: one on most days, two
    in the hour the clocks go back (the next one to come is meant), none in the hour
    they skip going forward."""
    found = []
    for fold in (0, 1):
        moment = naive.replace(fold=fold).astimezone()
        if moment.replace(tzinfo=None) == naive and moment not in found:
            found.append(moment)
    return sorted(found)


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
