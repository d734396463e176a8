"""The exports of other tools, recognised by their columns: one small module per tool.

Each module has the same interface, `recognise(keys)`, which answers an
`ExportFormat` when a header's keys (see `columns.header_key`: `Email Address`
-> `emailaddress`) are that tool's, else None; `recognise` tries them in turn,
as flufl.bounce tries its detectors, and a sheet none of them claims is read as
a plain spreadsheet. A format only says what its columns mean: which field
each feeds, which are never stored (data minimisation), and, for a file of
leavers, the status of every row. What a status word means is one table for
all (`columns.STATUS_WORDS`), so a plain sheet may use any tool's words.
"""

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


PLAIN = ExportFormat("a spreadsheet")


def recognise(keys: frozenset[str]) -> ExportFormat:
    """The first tool whose export has these header keys, else a plain sheet."""
    from newsletter.subscribers.formats import buttondown, keila, listmonk, mailchimp, sendy

    for module in (mailchimp, listmonk, keila, buttondown, sendy):
        found = module.recognise(keys)
        if found is not None:
            return found
    return PLAIN
