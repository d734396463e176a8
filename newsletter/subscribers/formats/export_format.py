"""What a format says about its columns (shared by every module of `formats/`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Never stored from any file unless kept with --keep: where a person was (or their
# IP address placed them), the other tool's ratings and ids.
ALWAYS_DROPPED = frozenset(
    {
        "latitude", "longitude", "lat", "lng", "gmtoff", "dstoff", "timezone",
        "memberrating", "ipaddress", "ip", "optinip", "confirmip", "leid", "euid",
    }
)  # fmt: skip


@dataclass(frozen=True)
class ExportFormat:
    """What one tool's export columns mean."""

    name: str  # as the summary says it: "a Mailchimp export (unsubscribed members)"
    tool: str = ""  # "Mailchimp": names the source of consent records; "" for a plain sheet
    columns: Mapping[str, str] = field(default_factory=dict)  # header key -> field
    dropped: frozenset[str] = ALWAYS_DROPPED  # header keys never stored
    status: str | None = None  # the status of every row (a file of leavers)
