"""Sendy's list export (includes/subscribers/export-csv.php).

`Name,Email,Joined,Last activity,Added via,Opt-in method,IP address,Country,
Country code,Signed up from,Status,GDPR`, then the list's custom fields.
`Status` is `Active`, `Unconfirmed`, `Unsubscribed`, `Bounced` or
`Marked as spam`; times are `2024/02/01, 09:05AM` (the brand's time zone,
read as UTC).
"""

from __future__ import annotations

from newsletter.subscribers.formats.export_format import ALWAYS_DROPPED, ExportFormat

SIGNATURE = frozenset({"name", "email", "joined", "lastactivity", "optinmethod", "status"})
COLUMNS = {
    "joined": "consent_at",
    "ipaddress": "consent_ip",
    "lastactivity": "changed_at",
}
DROPPED = ALWAYS_DROPPED | {"addedvia", "country", "countrycode"}


def recognise(keys: frozenset[str]) -> ExportFormat | None:
    if not SIGNATURE.issubset(keys):
        return None
    return ExportFormat("a Sendy export", "Sendy", COLUMNS, DROPPED)
