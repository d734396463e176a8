"""The subscriber record, and the one rule for merging new details into it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

STATUSES = ("active", "unsubscribed", "bounced")


@dataclass(frozen=True)
class Subscriber:
    id: int
    email: str
    name: str = ""
    organisation: str = ""
    language: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    status: str = "active"
    token: str = ""
    source: str = ""
    subscribed_at: str | None = None
    unsubscribed_at: str | None = None
    left_via: str | None = None
    bounce_count: int = 0


def merged(
    current: Subscriber,
    profile: dict[str, str],
    attributes: dict[str, Any],
    *,
    status: str | None = None,
    now: str | None = None,
    cleared: tuple[str, ...] = (),
) -> Subscriber:
    """`current` with new details laid over: an empty value never erases one, except
    in a field named in `cleared` (a language of `Both` said out loud: no single one).

    status="active" brings someone who left back (the caller decides whether
    that is allowed); "unsubscribed" or "bounced" records that they left at `now`.
    """
    changes: dict[str, Any] = {key: value for key, value in profile.items() if value}
    changes.update({key: "" for key in cleared if getattr(current, key)})
    combined = {**current.attributes, **attributes}
    if combined != current.attributes:
        changes["attributes"] = combined
    if status == "active":
        changes.update(status="active", unsubscribed_at=None, left_via=None, bounce_count=0)
    elif status is not None:
        changes.update(status=status, unsubscribed_at=now, left_via="import")
    return replace(current, **changes) if changes else current
