"""`newsletter archive add SLUG`: publish a sent issue that has no public copy.

`send` keeps the copy when an issue starts sending; an issue sent by an older
version of newsletter has none (nor one whose database was restored from a
backup taken before its send). This renders it from its source now, and only
if that source still gives what was sent (the same content hash), unless the
coordinator allows the difference.
"""

from __future__ import annotations

from newsletter.config import Config
from newsletter.errors import InputError
from newsletter.issue.rendering import prepare_issue
from newsletter.sending.archived import keep_online_copy
from newsletter.sending.reports import IssueReports
from newsletter.subscribers.store import Store


def add_sent_issue(config: Config, store: Store, slug: str, *, allow_changes: bool = False) -> bool:
    """Keep the issue's public copy from its source as it is now; True if that
    differs from what was sent (allowed by `allow_changes`)."""
    status = IssueReports(store).status(slug)
    if status is None or status.counts["sent"] == 0:
        raise InputError(
            f"issue {slug} has not been sent: the archive shows sent issues only",
            hint=f"send it with `newsletter send {slug}`",
        )
    prepared = prepare_issue(config, slug)
    changed = prepared.content_hash != status.issue.content_hash
    if changed and not allow_changes:
        raise InputError(
            f"issue {slug} is not as it was sent: its file or the templates changed since",
            hint="restore the text as sent, or pass --allow-changes to publish it as it is now",
        )
    with store.write():
        keep_online_copy(store, slug, prepared.content_hash, prepared.online.values())
    return changed
