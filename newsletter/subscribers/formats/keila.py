"""Keila's contacts export (Contacts -> Export; lib/keila_web/helpers/contacts_csv_export.ex).

`Email,First name,Last name,Data,Status,External ID`; `Status` is `active`,
`unsubscribed` or `unreachable` (bounced), `Data` a JSON object.
"""

from __future__ import annotations

from newsletter.subscribers.formats.export_format import ALWAYS_DROPPED, ExportFormat

SIGNATURE = frozenset({"email", "firstname", "lastname", "data", "status", "externalid"})


def recognise(keys: frozenset[str]) -> ExportFormat | None:
    if not SIGNATURE.issubset(keys):
        return None
    return ExportFormat(
        "a Keila export", "Keila", {"data": "json_attributes"}, ALWAYS_DROPPED | {"externalid"}
    )
