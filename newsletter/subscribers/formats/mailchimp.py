"""Mailchimp's audience export: a ZIP of three CSVs, or any one of them alone.

Columns as Mailchimp writes them: `Email Address`, the merge fields (`First Name`,
`Last Name`, ...), then `MEMBER_RATING`, `OPTIN_TIME`, `OPTIN_IP`, `CONFIRM_TIME`,
`CONFIRM_IP`, `LATITUDE`, `LONGITUDE`, `GMTOFF`, `DSTOFF`, `TIMEZONE`, `CC`,
`REGION`, then `LAST_CHANGED` (subscribed), `UNSUB_TIME`, `UNSUB_CAMPAIGN_TITLE`,
`UNSUB_CAMPAIGN_ID`, `UNSUB_REASON`, `UNSUB_REASON_OTHER` (unsubscribed) or
`CLEAN_TIME`, `CLEAN_CAMPAIGN_TITLE`, `CLEAN_CAMPAIGN_ID` (cleaned: addresses that
bounced), and `LEID`, `EUID`, `NOTES`, `TAGS`. Times are UTC, `2024-02-01 09:05:00`.
The file is told by its columns, never by its name.
"""

from __future__ import annotations

from newsletter.subscribers.formats.export_format import ALWAYS_DROPPED, ExportFormat

SIGNATURE = frozenset({"emailaddress", "memberrating", "optintime"})
COLUMNS = {
    "optintime": "optin_at",
    "confirmtime": "consent_at",
    "optinip": "optin_ip",
    "confirmip": "consent_ip",
    "unsubtime": "left_at",
    "cleantime": "left_at",
    "lastchanged": "changed_at",
}
DROPPED = ALWAYS_DROPPED | {
    "cc", "region", "unsubcampaigntitle", "unsubcampaignid", "unsubreason",
    "unsubreasonother", "cleancampaigntitle", "cleancampaignid",
}  # fmt: skip


def recognise(keys: frozenset[str]) -> ExportFormat | None:
    if not SIGNATURE.issubset(keys):
        return None
    if "unsubtime" in keys:
        kind, status = "unsubscribed members", "unsubscribed"
    elif "cleantime" in keys:
        kind, status = "cleaned members", "bounced"
    else:
        kind, status = "subscribed members", None
    return ExportFormat(f"a Mailchimp export ({kind})", "Mailchimp", COLUMNS, DROPPED, status)
