"""`newsletter bounces`: read the return mailbox once, act on what came back.

Each message is sorted (see sorting.py), tied to a delivery (by the VERP
address it was sent to, else the Message-ID it quotes, else the failed
recipient's address) and acted on in one transaction that also records the
message's key, so a second run changes nothing. Only then is the message
moved out of the way. Messages for a person (anything not understood, or a
report that names no delivery of ours) are left where they are and counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy

from newsletter.config import Config
from newsletter.returns.box import ReturnBox, ReturnedMail
from newsletter.returns.reports import RecipientReport
from newsletter.returns.sorting import Category, Sorted, sort_message
from newsletter.sending.replies import Kind, returned_verdict
from newsletter.sending.return_path import ReturnPath, return_path_for
from newsletter.subscribers.bounces import latest_issue, record_refusal, record_soft_bounce
from newsletter.subscribers.store import Store

LEFT_NOT_OURS = "not ours, left for a person"
LEFT_OTHER = "other, left for a person"
# The rows of the summary, in the order it shows them.
OUTCOMES = (
    "marked bounced",
    "hard bounce counted",
    "soft bounce counted",
    "refused, not the address's fault",
    "delayed, no action",
    "unsubscribed by complaint",
    "unsubscribed by mailto",
    "already left",
    "auto-reply, ignored",
    LEFT_NOT_OURS,
    LEFT_OTHER,
    "seen before",
)


@dataclass
class ReturnsSummary:
    messages: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    dry_run: bool = False


@dataclass(frozen=True)
class _Target:
    subscriber_id: int
    issue: str | None


class ReturnsProcessor:
    def __init__(self, config: Config, store: Store, *, dry_run: bool = False) -> None:
        self.config, self.store, self.dry_run = config, store, dry_run
        self.return_path: ReturnPath = return_path_for(config, store)
        self.hard_limit = config.sending.hard_bounce_limit
        self.soft_limit = config.bounces.soft_limit

    def process(
        self, box: ReturnBox, on_message: Callable[[ReturnsSummary], None] | None = None
    ) -> ReturnsSummary:
        summary = ReturnsSummary(dry_run=self.dry_run)
        box.open()
        try:
            for mail in box.messages():
                summary.messages += 1
                outcomes, handled = self._one(mail)
                summary.outcomes.update(outcomes)
                if handled and not self.dry_run:
                    box.done(mail)
                if on_message is not None:
                    on_message(summary)
        finally:
            box.close()
        return summary

    def _one(self, mail: ReturnedMail) -> tuple[list[str], bool]:
        """The outcomes of one message, and whether it is done with (moved away)."""
        if self._seen(mail.key):
            return ["seen before"], True  # processed, but not moved yet: move it now
        sorted_ = sort_message(message_from_bytes(mail.raw, policy=policy.compat32))
        if sorted_.category is Category.OTHER:
            return [LEFT_OTHER], False
        if self.dry_run:
            outcomes = _rolled_back(self.store, lambda: self._act(sorted_))
            return outcomes, _acted_on(outcomes)
        with self.store.write():
            if self._seen(mail.key):  # another `bounces` run took it meanwhile
                return ["seen before"], True
            outcomes = self._act(sorted_)
            if _acted_on(outcomes):  # even partly: never act on the same message twice
                self._remember(mail.key, sorted_.category)
        return outcomes, _acted_on(outcomes)

    def _act(self, sorted_: Sorted) -> list[str]:
        if sorted_.category is Category.AUTO_REPLY:
            return ["auto-reply, ignored"]
        if sorted_.category is Category.UNSUBSCRIBE:
            subscriber = self.store.get_by_token(sorted_.token or "")
            if subscriber is None:
                return [LEFT_NOT_OURS]
            known = _Target(subscriber.id, latest_issue(self.store, subscriber.id))
            return [self._unsubscribe(known, "mailto", "mailto request")]
        target = self._delivery(sorted_)
        if sorted_.category is Category.COMPLAINT:
            if target is None:
                return [LEFT_NOT_OURS]
            return [self._unsubscribe(target, "complaint", f"feedback report: {sorted_.detail}")]
        outcomes = [self._bounce(report, target) for report in sorted_.reports]
        return outcomes or [LEFT_NOT_OURS]

    # --- attribution ---------------------------------------------------------------

    def _delivery(self, sorted_: Sorted) -> _Target | None:
        """The delivery this report is about: VERP address, then our Message-ID, then token."""
        for address in (*sorted_.addressed_to, *sorted_.original.envelope_senders):
            delivery_id = self.return_path.delivery_of(address)
            if delivery_id is not None and (target := self._by_delivery_id(delivery_id)):
                return target
        for message_id in sorted_.original.message_ids:
            row = self.store.one(
                "SELECT subscriber_id, issue_slug FROM deliveries WHERE message_id = ?"
                " AND subscriber_id IS NOT NULL",
                [message_id],
            )
            if row:
                return _Target(row["subscriber_id"], row["issue_slug"])
        for token in sorted_.original.tokens:
            subscriber = self.store.get_by_token(token)
            if subscriber is not None:
                return _Target(subscriber.id, latest_issue(self.store, subscriber.id))
        return None

    def _by_delivery_id(self, delivery_id: int) -> _Target | None:
        row = self.store.one(
            "SELECT subscriber_id, issue_slug FROM deliveries WHERE id = ?"
            " AND subscriber_id IS NOT NULL",
            [delivery_id],
        )
        return _Target(row["subscriber_id"], row["issue_slug"]) if row else None

    def _by_address(self, address: str) -> _Target | None:
        try:
            subscriber = self.store.get_subscriber(address)
        except Exception:  # an address we could never have sent to
            return None
        if subscriber is None:
            return None
        return _Target(subscriber.id, latest_issue(self.store, subscriber.id))

    # --- actions -------------------------------------------------------------------

    def _bounce(self, report: RecipientReport, target: _Target | None) -> str:
        if report.action != "failed":
            return "delayed, no action" if report.action == "delayed" else "auto-reply, ignored"
        target = target or self._by_address(report.recipient)
        if target is None:
            return LEFT_NOT_OURS
        verdict = returned_verdict(report.status, report.diagnostic)
        detail = verdict.detail
        if not self.store.is_active(target.subscriber_id) and verdict.kind is not Kind.REFUSED:
            return "already left"
        if verdict.kind is Kind.HARD_BOUNCE:
            marked = self.store.record_bounce(
                target.subscriber_id, detail, self.hard_limit, issue=target.issue, source="dsn"
            )
            return "marked bounced" if marked else "hard bounce counted"
        if verdict.kind is Kind.SOFT_BOUNCE:
            marked = record_soft_bounce(
                self.store,
                target.subscriber_id,
                issue=target.issue,
                detail=detail,
                source="dsn",
                limit=self.soft_limit,
            )
            return "marked bounced" if marked else "soft bounce counted"
        record_refusal(
            self.store, target.subscriber_id, issue=target.issue, detail=detail, source="dsn"
        )
        return "refused, not the address's fault"

    def _unsubscribe(self, target: _Target, via: str, detail: str) -> str:
        changed = self.store.unsubscribe(
            target.subscriber_id, via, detail=detail, issue=target.issue
        )
        return f"unsubscribed by {via}" if changed else "already left"

    # --- idempotence ---------------------------------------------------------------

    def _seen(self, key: str) -> bool:
        return bool(self.store.one("SELECT 1 AS x FROM returned_messages WHERE key = ?", [key]))

    def _remember(self, key: str, category: Category) -> None:
        self.store.conn.execute(
            "INSERT OR IGNORE INTO returned_messages (key, category, processed_at) VALUES (?, ?, ?)",
            [key, str(category), self.store.clock()],
        )


def _acted_on(outcomes: list[str]) -> bool:
    return any(outcome != LEFT_NOT_OURS for outcome in outcomes)


class _Rollback(Exception):
    pass


def _rolled_back(store: Store, action: Callable[[], list[str]]) -> list[str]:
    """Run `action` in a transaction that is always rolled back: a dry run's numbers
    come from the very code that would change the data."""
    result: list[str] = []
    try:
        with store.write():
            result = action()
            raise _Rollback
    except _Rollback:
        pass
    return result
