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

from collections.abc import Callable

from newsletter.subscribers.formats import buttondown, keila, listmonk, mailchimp, sendy
from newsletter.subscribers.formats.export_format import ALWAYS_DROPPED, ExportFormat

__all__ = ["ALWAYS_DROPPED", "PLAIN", "ExportFormat", "recognise"]

PLAIN = ExportFormat("a spreadsheet")
RECOGNISERS: tuple[Callable[[frozenset[str]], ExportFormat | None], ...] = (
    mailchimp.recognise,
    listmonk.recognise,
    keila.recognise,
    buttondown.recognise,
    sendy.recognise,
)


def recognise(keys: frozenset[str]) -> ExportFormat:
    """The first tool whose export has these header keys, else a plain sheet."""
    for recogniser in RECOGNISERS:
        found = recogniser(keys)
        if found is not None:
            return found
    return PLAIN
