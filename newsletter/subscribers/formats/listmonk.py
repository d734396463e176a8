"""listmonk's subscriber export (Subscribers -> Export; cmd/subscribers.go).

`uuid,email,name,attributes,status,created_at,updated_at`; `status` is
`enabled`, `disabled` or `blocklisted`, `attributes` a JSON object, and the
times Go's `2024-02-01 09:05:00.123456 +0000 UTC`.
"""

from __future__ import annotations

from newsletter.subscribers.formats.export_format import ALWAYS_DROPPED, ExportFormat

SIGNATURE = frozenset({"uuid", "email", "attributes", "status", "createdat", "updatedat"})
COLUMNS = {
    "attributes": "json_attributes",
    "createdat": "subscribed_at",
    "updatedat": "changed_at",
}


def recognise(keys: frozenset[str]) -> ExportFormat | None:
    if not SIGNATURE.issubset(keys):
        return None
    return ExportFormat("a listmonk export", "listmonk", COLUMNS, ALWAYS_DROPPED | {"uuid"})
