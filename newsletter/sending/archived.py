"""The public copy of each issue as it was sent: written with the freeze, read by the archive.

An issue is published once one message of it has been sent (a delivery `sent`):
never a draft, never an issue only test-sent (a test message records no
delivery). Its pages are the `OnlineEdition`s stored by `keep_online_copy` when
the send began (again when a resumed send is allowed to carry changes), not a
new rendering of the source file, which may have been edited since.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from newsletter.issue.online import OnlineEdition

if TYPE_CHECKING:
    from newsletter.db.session import DatabaseSession


@dataclass(frozen=True)
class PublishedIssue:
    slug: str
    published_at: str  # when its send began (ISO 8601, UTC)
    editions: dict[str, OnlineEdition]  # by key: a language, or "" for every language


def keep_online_copy(
    session: DatabaseSession, slug: str, content_hash: str, editions: Iterable[OnlineEdition]
) -> None:
    """Replace the issue's public copy; call inside the write that begins its send."""
    session.conn.execute("DELETE FROM archived_editions WHERE issue_slug = ?", [slug])
    session.conn.executemany(
        "INSERT INTO archived_editions (issue_slug, edition, languages, subject, preheader,"
        " html, content, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [slug, e.key, " ".join(e.languages), e.subject, e.preheader, e.html, e.content,
             content_hash]
            for e in editions
        ],
    )  # fmt: skip


def published_issues(
    session: DatabaseSession, slug: str | None = None, *, pages: bool = False, bodies: bool = False
) -> list[PublishedIssue]:
    """Every issue with a message sent and a stored copy, newest first (or only `slug`).

    The large columns are read only when asked for: `pages` (each edition's whole
    page) and `bodies` (the content a feed carries); else they are empty.
    """
    html = "a.html" if pages else "''"
    content = "a.content" if bodies else "''"
    rows = session.query(
        "SELECT i.slug, i.started_at, a.edition, a.languages, a.subject, a.preheader,"
        f" {html} AS html, {content} AS content"
        " FROM issues i JOIN archived_editions a ON a.issue_slug = i.slug"
        " WHERE (? IS NULL OR i.slug = ?) AND EXISTS (SELECT 1 FROM delivery_counts c"
        "  WHERE c.issue_slug = i.slug AND c.status = 'sent' AND c.n > 0)"
        " ORDER BY i.started_at DESC, i.slug DESC, a.edition",
        [slug, slug],
    )
    found: dict[str, PublishedIssue] = {}
    for row in rows:
        issue = found.setdefault(
            row["slug"], PublishedIssue(row["slug"], row["started_at"] or "", {})
        )
        issue.editions[row["edition"]] = OnlineEdition(
            key=row["edition"],
            languages=tuple(row["languages"].split()),
            subject=row["subject"],
            preheader=row["preheader"],
            html=row["html"],
            content=row["content"],
        )
    return list(found.values())


def sent_without_copy(session: DatabaseSession) -> list[str]:
    """Issues with a message sent but no public copy: sent before the archive kept
    copies (or brought back by a restore); `archive add` publishes them."""
    rows = session.query(
        "SELECT DISTINCT c.issue_slug AS slug FROM delivery_counts c"
        " WHERE c.status = 'sent' AND c.n > 0 AND NOT EXISTS"
        " (SELECT 1 FROM archived_editions a WHERE a.issue_slug = c.issue_slug)"
        " ORDER BY c.issue_slug"
    )
    return [row["slug"] for row in rows]
