"""Durations and quotas as newsletter.toml writes them: `600`, "20s", "10m", "30/minute".

Parsed once at load, so a typo is an error naming the key, never a surprise
halfway through a send.
"""

from __future__ import annotations

import re

from newsletter.config.model import CONFIG_NAME, Quota
from newsletter.errors import ConfigError

_UNITS = {
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}  # fmt: skip
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)?\s*([a-z]+)?\s*$")
_QUOTA = re.compile(r"^\s*(\d+)\s*/\s*(.+)$")


def duration_seconds(text: str | float) -> float | None:
    """Seconds for 600, "600", "20s", "10m", "1h", "1 day", "minute"; None if unreadable."""
    if isinstance(text, int | float):
        return float(text)
    match = _DURATION.match(text.lower())
    if not match or not any(match.groups()):
        return None
    number, unit = match.groups()
    if unit is not None and unit not in _UNITS:
        return None
    return float(number or 1) * _UNITS[unit or "s"]


def parse_give_up_after(value: str | float) -> float:
    seconds = duration_seconds(value)
    if seconds is None or not 1 <= seconds <= 7 * 86400:
        raise ConfigError(
            f"{CONFIG_NAME}: 'sending.give_up_after' must be a duration between 1 second and"
            f' 7 days, such as 600, "20s", "10m" or "1h"; got {value!r}'
        )
    return seconds


def parse_quotas(value: str | list[object]) -> tuple[Quota, ...]:
    """`smtp.quota`: one "N/window" or a list of them."""
    entries = [value] if isinstance(value, str) else value
    return tuple(_quota(entry) for entry in entries)


def _quota(entry: object) -> Quota:
    text = entry.strip() if isinstance(entry, str) else ""
    match = _QUOTA.match(text)
    seconds = duration_seconds(match.group(2)) if match else None
    if match is None or seconds is None or seconds <= 0 or int(match.group(1)) < 1:
        raise ConfigError(
            f"{CONFIG_NAME}: 'smtp.quota' entry {entry!r} is not N/window"
            ' (e.g. "30/minute", "10000/day", "10/15s", "500/24h")'
        )
    return Quota(int(match.group(1)), seconds, text)
