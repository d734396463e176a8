"""Buttondown's subscriber export, with the fields of its subscriber object.

`id`, `email` (`email_address` since its 2024 API), `creation_date`, `notes`,
`metadata` (JSON), `tags`, `referrer_url`, `secondary_id`, `source`,
`subscriber_type` (`type`), `utm_campaign`, `utm_medium`, `utm_source`, and
where present `ip_address`, `unsubscription_date`, `undeliverability_date`.
The types are Buttondown's `SubscriberType` (regular, premium, unactivated,
unsubscribed, spammy, removed, ...); times are ISO 8601.
"""

from __future__ import annotations

from newsletter.subscribers.formats.export_format import ALWAYS_DROPPED, ExportFormat

COLUMNS = {
    "subscribertype": "status",
    "type": "status",
    "emailaddress": "email",
    "creationdate": "subscribed_at",
    "metadata": "json_attributes",
    "ipaddress": "consent_ip",
    "unsubscriptiondate": "left_at",
    "undeliverabilitydate": "left_at",
}
DROPPED = ALWAYS_DROPPED | {
    "id", "secondaryid", "source", "utmcampaign", "utmmedium", "utmsource",
}  # fmt: skip


def recognise(keys: frozenset[str]) -> ExportFormat | None:
    if not {"creationdate", "metadata"}.issubset(keys) or not keys & {"subscribertype", "type"}:
        return None
    return ExportFormat("a Buttondown export", "Buttondown", COLUMNS, DROPPED)
