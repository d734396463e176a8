"""Bounce scores: what a refusal does to a subscriber, from the send loop or a returned DSN.

- a hard bounce counts; at `limit` of them the address is marked bounced
  (`Store.record_bounce`);
- a soft bounce counts once per issue; soft bounces on `limit` issues in a
  row (the person's most recent issues, nothing delivered in between) mark
  the address bounced;
- a refusal about the sender, the relay or the message is only recorded.
Every call is one transaction and writes an event carrying the issue, the
status code and the server's words (`detail`).
"""

from __future__ import annotations

from newsletter.subscribers.store import Store


def record_soft_bounce(
    store: Store, subscriber_id: int, *, issue: str | None, detail: str, source: str, limit: int
) -> bool:
    """Count a soft bounce for this issue (once); True when it marked the person bounced."""
    with store.write():
        if issue is not None and store.one(
            "SELECT 1 AS x FROM events WHERE subscriber_id = ? AND issue_slug = ?"
            " AND kind = 'soft_bounce'",
            [subscriber_id, issue],
        ):
            return False
        streak = soft_streak(store, subscriber_id, issue) + 1
        marked = streak >= limit and store.mark_bounced(subscriber_id)
        if marked:
            detail = f"{detail} (soft bounces on {streak} issues in a row: marked bounced)"
        store.record_event("soft_bounce", subscriber_id, source, detail, issue)
        return marked


def record_refusal(
    store: Store, subscriber_id: int, *, issue: str | None, detail: str, source: str
) -> None:
    """A refusal that is not the address's fault: kept for `status`, changes nothing."""
    with store.write():
        store.record_event("refused", subscriber_id, source, detail, issue)


def soft_streak(store: Store, subscriber_id: int, skip_issue: str | None = None) -> int:
    """How many of the person's latest issues (before `skip_issue`) soft-bounced, in a row."""
    rows = store.query(
        "SELECT d.issue_slug AS issue, EXISTS (SELECT 1 FROM events e"
        "  WHERE e.subscriber_id = d.subscriber_id AND e.issue_slug = d.issue_slug"
        "  AND e.kind = 'soft_bounce') AS soft"
        " FROM deliveries d JOIN issues i ON i.slug = d.issue_slug"
        " WHERE d.subscriber_id = ? AND d.status != 'skipped'"
        " ORDER BY coalesce(i.started_at, i.created_at) DESC, d.id DESC",
        [subscriber_id],
    )
    streak = 0
    for row in rows:
        if row["issue"] == skip_issue:
            continue
        if not row["soft"]:
            break
        streak += 1
    return streak


def latest_issue(store: Store, subscriber_id: int) -> str | None:
    """The most recent issue sent to the person: where an unattributed report belongs."""
    row = store.one(
        "SELECT d.issue_slug FROM deliveries d JOIN issues i ON i.slug = d.issue_slug"
        " WHERE d.subscriber_id = ? AND d.status IN ('sent', 'sending', 'failed')"
        " ORDER BY coalesce(i.started_at, i.created_at) DESC, d.id DESC LIMIT 1",
        [subscriber_id],
    )
    return row["issue_slug"] if row else None


def bounce_reason(store: Store, subscriber_id: int) -> str:
    """What the mail server said when the address was marked bounced (the latest word)."""
    row = store.one(
        "SELECT detail FROM events WHERE subscriber_id = ? AND kind IN ('bounced', 'soft_bounce')"
        " AND detail != '' ORDER BY id DESC LIMIT 1",
        [subscriber_id],
    )
    return row["detail"] if row else ""
