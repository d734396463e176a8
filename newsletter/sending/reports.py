"""What `status` shows: counts, reasons, what came back, by issue and by language.

Read-only queries over the ledger's tables. `status` makes an `IssueReports`
of its own (without the send's modules); `Ledger` inherits them, so a send's
reports share its connection and lock.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsletter.sending.deliveries import DELIVERY_STATUSES, IssueRecord

if TYPE_CHECKING:
    from newsletter.db.session import DatabaseSession

_CAME_BACK = {
    ("bounced", "smtp"): "hard bounces at sending",
    ("bounced", "dsn"): "hard bounces mailed back (DSN)",
    ("bounced", "probe"): "hard bounces confirmed by a probe",
    ("soft_bounce", "smtp"): "soft bounces at sending (every try deferred)",
    ("soft_bounce", "dsn"): "soft bounces mailed back (DSN)",
    ("refused", "dsn"): "refused later for a reason not the address's (no bounce)",
    ("unsubscribed", "complaint"): "complaints (unsubscribed)",
    ("unsubscribed", "mailto"): "unsubscribed by mail (List-Unsubscribe mailto)",
}
_ADDRESS = re.compile(r"<?[^\s<>@]+@[^\s<>]+>?")


@dataclass(frozen=True)
class IssueStatus:
    issue: IssueRecord
    counts: dict[str, int]
    failures: list[tuple[str, int]] = field(default_factory=list)  # failed, by reason
    deferred: list[tuple[str, int]] = field(default_factory=list)  # queued with a last error
    came_back: list[tuple[str, int]] = field(default_factory=list)  # bounces, complaints, ...
    returned: list[tuple[str, int]] = field(default_factory=list)  # returned mail, by reply
    by_language: dict[str, dict[str, int]] = field(default_factory=dict)  # language -> status -> n

    @property
    def uncertain(self) -> int:
        return self.counts["sending"]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def by_edition(self, languages: tuple[str, ...]) -> dict[str, dict[str, int]]:
        """Counts by the message each reader gets: a language of the project, or ''
        (no choice, or a language the project does not write in: the bilingual message)."""
        editions: dict[str, dict[str, int]] = {}
        for language, counts in self.by_language.items():
            key = language if language in languages else ""
            merged = editions.setdefault(key, dict.fromkeys(DELIVERY_STATUSES, 0))
            for status, count in counts.items():
                merged[status] += count
        order = {language: index for index, language in enumerate(languages)}
        return dict(sorted(editions.items(), key=lambda item: order.get(item[0], len(order))))

    def as_dict(self, *, running: bool = False) -> dict[str, Any]:
        """For `status --json`. `uncertain` counts the rows left `sending`: while
        `send_running` is true they are in flight rather than lost track of."""
        issue, counts = self.issue, self.counts
        return {
            "slug": issue.slug,
            "subject": issue.subject,
            "started_at": issue.started_at,
            "finished_at": issue.finished_at,
            "send_running": running,
            "counts": {
                "queued": counts["queued"],
                "uncertain": counts["sending"],
                "sent": counts["sent"],
                "failed": counts["failed"],
                "skipped": counts["skipped"],
                "total": self.total,
            },
            "by_language": self.by_language,
            "failure_reasons": [{"reason": r, "count": n} for r, n in self.failures],
            "deferred_reasons": [{"reason": r, "count": n} for r, n in self.deferred],
            "came_back": [{"what": r, "count": n} for r, n in self.came_back],
            "returned_replies": [{"reply": r, "count": n} for r, n in self.returned],
        }


class IssueReports:
    """The read-only queries; `status` uses them alone, a send through `Ledger`."""

    def __init__(self, store: DatabaseSession) -> None:
        self.store = store

    def issue(self, slug: str) -> IssueRecord | None:
        row = self.store.one("SELECT * FROM issues WHERE slug = ?", [slug])
        return IssueRecord(**row) if row else None

    def status(self, slug: str) -> IssueStatus | None:
        record = self.issue(slug)
        if record is None:
            return None
        by_language = self._by_language(slug)
        counts = dict.fromkeys(DELIVERY_STATUSES, 0)
        for language_counts in by_language.values():
            for status, count in language_counts.items():
                counts[status] += count
        return IssueStatus(
            record,
            counts,
            self._reasons(slug, "failed"),
            self._reasons(slug, "queued"),
            self._came_back(slug),
            self._returned(slug),
            by_language=by_language,
        )

    def _by_language(self, slug: str) -> dict[str, dict[str, int]]:
        """Deliveries counted by the language frozen with them ('' = no choice made).

        Read from `delivery_counts` (kept by triggers: see migration 0006), so it
        costs the same at any size. Rows with no frozen language take their
        subscriber's, looked up for those rows alone (a partial index holds them).
        """
        found: dict[str, dict[str, int]] = {}
        unfrozen = 0
        for row in self.store.query(
            "SELECT language, status, n, unfrozen FROM delivery_counts"
            " WHERE issue_slug = ? AND n > 0",
            [slug],
        ):
            if row["unfrozen"]:
                unfrozen += row["n"]
            else:
                _add(found, row)
        if unfrozen:
            for row in self.store.query(
                "SELECT coalesce(s.language, '') AS language, d.status, count(*) AS n"
                " FROM deliveries d LEFT JOIN subscribers s ON s.id = d.subscriber_id"
                " WHERE d.issue_slug = ? AND d.language IS NULL GROUP BY 1, 2",
                [slug],
            ):
                _add(found, row)
        return found

    def uncertain(self, slug: str, limit: int = 20) -> list[str]:
        """Addresses of rows left `sending`: the coordinator decides whether to resend."""
        rows = self.store.query(
            "SELECT coalesce(s.email, '(forgotten)') AS email FROM deliveries d"
            " LEFT JOIN subscribers s ON s.id = d.subscriber_id"
            " WHERE d.issue_slug = ? AND d.status = 'sending' ORDER BY d.id LIMIT ?",
            [slug, limit],
        )
        return [row["email"] for row in rows]

    def failed(self, slug: str) -> Iterator[tuple[str, str]]:
        """(address, the server's reply) of every failed delivery, streamed in send order."""
        rows = self.store.query(
            "SELECT coalesce(s.email, '(forgotten)') AS email, coalesce(d.last_error, '') AS error"
            " FROM deliveries d LEFT JOIN subscribers s ON s.id = d.subscriber_id"
            " WHERE d.issue_slug = ? AND d.status = 'failed' ORDER BY d.id",
            [slug],
        )
        for row in rows:
            yield row["email"], row["error"]

    def relay_stamps_since(self, since: str) -> list[str]:
        """When each delivery the relay took, or may have taken (`sending`), since `since`
        was stamped, across every issue: the quotas' windows (sending/quotas.py)."""
        rows = self.store.query(
            "SELECT coalesce(sent_at, updated_at) AS at FROM deliveries"
            " WHERE status IN ('sent', 'sending') AND coalesce(sent_at, updated_at) >= ?",
            [since],
        )
        return [row["at"] for row in rows]

    def people_who_came_back(self, slug: str, limit: int) -> tuple[list[tuple[str, str]], int]:
        """(address, what happened) of the first `limit` people this issue's bounces,
        complaints and mailto unsubscribes changed, and how many there are in all.
        The coordinator owns this data and needs the names to act on them."""
        kinds = "e.issue_slug = ? AND e.kind IN ('bounced', 'unsubscribed')"
        rows = self.store.query(
            "SELECT coalesce(s.email, '(forgotten)') AS email, e.kind, e.source"
            f" FROM events e LEFT JOIN subscribers s ON s.id = e.subscriber_id WHERE {kinds}"
            " AND e.source IN ('smtp', 'dsn', 'probe', 'complaint', 'mailto') ORDER BY e.id LIMIT ?",
            [slug, limit],
        )
        people = [(row["email"], _CAME_BACK[(row["kind"], row["source"])]) for row in rows]
        total = self.store.one(
            f"SELECT count(*) AS n FROM events e WHERE {kinds}"
            " AND e.source IN ('smtp', 'dsn', 'probe', 'complaint', 'mailto')",
            [slug],
        )
        return people, total["n"] if total else 0

    def statuses(self) -> list[IssueStatus]:
        slugs = [row["slug"] for row in self.store.query("SELECT slug FROM issues ORDER BY slug")]
        return [status for slug in slugs if (status := self.status(slug))]

    def _came_back(self, slug: str) -> list[tuple[str, int]]:
        """The issue's bounces, refusals, complaints and mailto unsubscribes, by kind."""
        rows = self.store.query(
            "SELECT kind, source, count(*) AS n FROM events WHERE issue_slug = ?"
            " AND kind IN ('bounced', 'soft_bounce', 'refused', 'unsubscribed')"
            " GROUP BY kind, source",
            [slug],
        )
        found = [(_CAME_BACK.get((row["kind"], row["source"])), row["n"]) for row in rows]
        return sorted(((label, n) for label, n in found if label), key=lambda item: -item[1])

    def _returned(self, slug: str) -> list[tuple[str, int]]:
        """What returned DSNs said about this issue's deliveries, grouped."""
        return _grouped(
            self.store.query(
                "SELECT detail AS reply, count(*) AS n FROM events WHERE issue_slug = ?"
                " AND source = 'dsn' GROUP BY detail",
                [slug],
            )
        )

    def _reasons(self, slug: str, status: str) -> list[tuple[str, int]]:
        return _grouped(
            self.store.query(
                "SELECT last_error AS reply, count(*) AS n FROM deliveries WHERE issue_slug = ?"
                " AND status = ? AND last_error IS NOT NULL GROUP BY last_error",
                [slug, status],
            )
        )


def send_in_flight(project_dir: Path, statuses: list[IssueStatus]) -> bool:
    """Whether a send holds the project's lock, for these issues. Only an unfinished
    issue can have rows in flight (a send's `begin` un-finishes the issue it sends),
    so with none the lock, and filelock with it, is not looked at."""
    if all(status.issue.finished_at for status in statuses):
        return False
    from newsletter.sending.lock import send_running

    return send_running(project_dir)


def _add(found: dict[str, dict[str, int]], row: dict[str, Any]) -> None:
    counts = found.setdefault(row["language"], dict.fromkeys(DELIVERY_STATUSES, 0))
    counts[row["status"]] += row["n"]


def _grouped(rows: Iterable[dict[str, Any]]) -> list[tuple[str, int]]:
    """Replies grouped, with the addresses servers quote in them taken out."""
    groups: Counter[str] = Counter()
    for row in rows:
        groups[_ADDRESS.sub("<address>", row["reply"])] += row["n"]
    return sorted(groups.items(), key=lambda item: (-item[1], item[0]))
