"""`newsletter bounces`: read the return mailbox once, act on what came back.

Each message is sorted (see sorting.py), tied to a delivery of ours and acted
on in one transaction that also records the message's key, so a second run
changes nothing. Only then is the message moved out of the way.

Only mail we sent can change a subscription. A report is tied to a delivery
by the VERP address it came back to (a tag only our mail carries, see
sending/return_path.py), else by our own Message-ID on a delivery to the very
address that failed (or the reader's token, for a complaint). A bare failed
address proves nothing: anyone can write one. So:
- VERP, one failed recipient: acted on at once, as the DSN says;
- a permanent failure tied only by Message-ID, or one of many failed
  recipients in a single message: a probe confirms it first (probes.py);
- anything else: counted and left for a person, with the address it names.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy

from newsletter.config import Config
from newsletter.returns.box import ReturnBox, ReturnedMail
from newsletter.returns.probes import Prober
from newsletter.returns.reports import RecipientReport
from newsletter.returns.sorting import Category, Sorted, sort_message
from newsletter.sending.mail_queue import send_due
from newsletter.sending.replies import Kind, returned_verdict
from newsletter.sending.return_path import ReturnPath, return_path_for
from newsletter.sending.transport import plan_transport
from newsletter.subscribers.addresses import address_key
from newsletter.subscribers.bounces import (
    latest_issue,
    record_refusal,
    record_soft_bounce,
    soft_streak,
)
from newsletter.subscribers.store import Store

LEFT_NOT_OURS = "not ours, left for a person"
LEFT_OTHER = "other, left for a person"
PROBE_SENT = "probe sent to confirm a bounce"
# The rows of the summary, in the order it shows them.
OUTCOMES = (
    "marked bounced",
    "marked bounced: its probe bounced",
    "hard bounce counted",
    "soft bounce counted",
    PROBE_SENT,
    "probe already out",
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
NEVER = 10**9  # a soft-bounce limit nothing reaches: the count alone, no marking


@dataclass
class ReturnsSummary:
    messages: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    dry_run: bool = False
    left_naming: list[str] = field(default_factory=list)  # addresses in reports not ours
    probes_out: int = 0
    changed: list[tuple[str, str]] = field(default_factory=list)  # (outcome, address)


@dataclass(frozen=True)
class _Target:
    subscriber_id: int
    issue: str | None
    confirmed: bool  # by a VERP tag: only our own mail carries it
    probe_id: int | None = None


class ReturnsProcessor:
    def __init__(self, config: Config, store: Store, *, dry_run: bool = False) -> None:
        self.config, self.store, self.dry_run = config, store, dry_run
        self.return_path: ReturnPath = return_path_for(config, store)
        self.prober = Prober(store, config, self.return_path)
        self.hard_limit = config.sending.hard_bounce_limit
        self.soft_limit = config.bounces.soft_limit
        self._left: list[str] = []
        self._changed: list[tuple[str, int]] = []  # (outcome, subscriber id) of this message

    def process(
        self, box: ReturnBox, on_message: Callable[[ReturnsSummary], None] | None = None
    ) -> ReturnsSummary:
        summary = ReturnsSummary(dry_run=self.dry_run)
        if not self.dry_run:
            self.prober.expire()
        box.open()
        try:
            for mail in box.messages():
                summary.messages += 1
                self._left, self._changed = [], []
                outcomes, handled = self._one(mail)
                summary.outcomes.update(outcomes)
                summary.left_naming.extend(self._left)
                summary.changed.extend(self._named(self._changed))
                if handled and not self.dry_run:
                    box.done(mail)
                if on_message is not None:
                    on_message(summary)
        finally:
            box.close()
        summary.probes_out = self.prober.count_out()
        return summary

    def send_probes(self) -> int:
        """Send the probes this run queued (a relay that is down: `serve` retries them)."""
        sent = 0
        while went := send_due(
            self.store, lambda: plan_transport(self.config), retry_seconds=60, kind="probe"
        ):
            sent += went
        return sent

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
                return [self._not_ours("")]
            known = _Target(subscriber.id, latest_issue(self.store, subscriber.id), True)
            return [self._unsubscribe(known, "mailto", "mailto request")]
        if sorted_.category is Category.COMPLAINT:
            target = self._by_verp(sorted_) or self._complaint_target(sorted_)
            if target is None:
                return [self._not_ours("")]
            return [self._unsubscribe(target, "complaint", f"feedback report: {sorted_.detail}")]
        return self._bounces(sorted_)

    def _bounces(self, sorted_: Sorted) -> list[str]:
        """Each failed recipient of a bounce; at most one of them can be ours."""
        failed = [report for report in sorted_.reports if report.action == "failed"]
        verp = self._by_verp(sorted_)
        if verp is not None and verp.probe_id is not None:
            return [self._probe_bounced(verp.probe_id, failed)]
        outcomes, acted = [], False
        for report in _ours_first(sorted_.reports, verp, self.store):
            if report.action != "failed":
                outcomes.append(
                    "delayed, no action" if report.action == "delayed" else "auto-reply, ignored"
                )
                continue
            target = None if acted else verp or self._by_message_id(sorted_, report.recipient)
            if target is None:
                outcomes.append(self._not_ours(report.recipient))
                continue
            if len(failed) > 1:  # one of many: only a probe can tell which, if any, is real
                target = _Target(target.subscriber_id, target.issue, False)
            outcomes.append(self._bounce(report, target))
            acted = True
        return outcomes or [self._not_ours("")]

    # --- attribution ---------------------------------------------------------------

    def _by_verp(self, sorted_: Sorted) -> _Target | None:
        """What the VERP address the report came back to (or quotes) names, if ours."""
        for address in (*sorted_.addressed_to, *sorted_.original.envelope_senders):
            named = self.return_path.named_by(address)
            if named is None:
                continue
            if named.kind == "probe":
                row = self.store.one(
                    "SELECT subscriber_id, issue_slug FROM probes WHERE id = ?", [named.id]
                )
                if row:
                    return _Target(row["subscriber_id"], row["issue_slug"], True, named.id)
            elif target := self._by_delivery_id(named.id):
                return target
        return None

    def _by_delivery_id(self, delivery_id: int) -> _Target | None:
        row = self.store.one(
            "SELECT subscriber_id, issue_slug FROM deliveries WHERE id = ?"
            " AND subscriber_id IS NOT NULL",
            [delivery_id],
        )
        return _Target(row["subscriber_id"], row["issue_slug"], True) if row else None

    def _by_message_id(self, sorted_: Sorted, recipient: str) -> _Target | None:
        """Our Message-ID on a delivery (or probe) to the very address that failed."""
        for message_id in sorted_.original.message_ids:
            probe_id = self.prober.by_message_id(message_id)
            row = self.store.one(
                "SELECT s.id, s.email_key, d.issue_slug FROM deliveries d"
                " JOIN subscribers s ON s.id = d.subscriber_id WHERE d.message_id = ?"
                " UNION ALL SELECT s.id, s.email_key, p.issue_slug FROM probes p"
                " JOIN subscribers s ON s.id = p.subscriber_id WHERE p.message_id = ?",
                [message_id, message_id],
            )
            if row and row["email_key"] == address_key(recipient):
                return _Target(row["id"], row["issue_slug"], False, probe_id)
        return None

    def _complaint_target(self, sorted_: Sorted) -> _Target | None:
        """A complaint quoting our Message-ID or the reader's own token: either is a
        secret of that reader's copy (and the token alone unsubscribes on the web)."""
        for message_id in sorted_.original.message_ids:
            row = self.store.one(
                "SELECT subscriber_id, issue_slug FROM deliveries WHERE message_id = ?"
                " AND subscriber_id IS NOT NULL",
                [message_id],
            )
            if row:
                return _Target(row["subscriber_id"], row["issue_slug"], False)
        for token in sorted_.original.tokens:
            subscriber = self.store.get_by_token(token)
            if subscriber is not None:
                return _Target(subscriber.id, latest_issue(self.store, subscriber.id), False)
        return None

    # --- actions -------------------------------------------------------------------

    def _bounce(self, report: RecipientReport, target: _Target) -> str:
        if target.probe_id is not None:  # a probe's bounce, quoted by its Message-ID
            return self._probe_bounced(target.probe_id, [report])
        verdict = returned_verdict(report.status, report.diagnostic)
        detail = verdict.detail
        if not self.store.is_active(target.subscriber_id) and verdict.kind is not Kind.REFUSED:
            return "already left"
        if verdict.kind is Kind.HARD_BOUNCE:
            if not target.confirmed:
                return self._probe(target, detail)
            marked = self.store.record_bounce(
                target.subscriber_id, detail, self.hard_limit, issue=target.issue, source="dsn"
            )
            return self._changes(target.subscriber_id, "marked bounced" if marked else None) or (
                "hard bounce counted"
            )
        if verdict.kind is Kind.SOFT_BOUNCE:
            marked = record_soft_bounce(
                self.store,
                target.subscriber_id,
                issue=target.issue,
                detail=detail,
                source="dsn",
                limit=self.soft_limit if target.confirmed else NEVER,
            )
            streak = soft_streak(self.store, target.subscriber_id)
            if not target.confirmed and streak >= self.soft_limit:
                return self._probe(target, detail)
            return self._changes(target.subscriber_id, "marked bounced" if marked else None) or (
                "soft bounce counted"
            )
        record_refusal(
            self.store, target.subscriber_id, issue=target.issue, detail=detail, source="dsn"
        )
        return "refused, not the address's fault"

    def _probe(self, target: _Target, detail: str) -> str:
        started = self.prober.start(target.subscriber_id, target.issue, detail)
        return PROBE_SENT if started else "probe already out"

    def _probe_bounced(self, probe_id: int, failed: list[RecipientReport]) -> str:
        if not failed:
            return "delayed, no action"
        report = failed[0]
        detail = returned_verdict(report.status, report.diagnostic).detail
        result = self.prober.bounced(probe_id, detail)
        if result is None:
            return self._not_ours(report.recipient)
        marked = "marked bounced: its probe bounced" if result[1] else None
        return self._changes(result[0], marked) or "already left"

    def _not_ours(self, address: str) -> str:
        self._left.append(address or "(no address)")
        return LEFT_NOT_OURS

    def _unsubscribe(self, target: _Target, via: str, detail: str) -> str:
        changed = self.store.unsubscribe(
            target.subscriber_id, via, detail=detail, issue=target.issue
        )
        return self._changes(
            target.subscriber_id, f"unsubscribed by {via}" if changed else None
        ) or ("already left")

    def _changes(self, subscriber_id: int, outcome: str | None) -> str | None:
        """`outcome` (None: nothing changed), noted to name the person in the summary."""
        if outcome is not None:
            self._changed.append((outcome, subscriber_id))
        return outcome

    def _named(self, changed: list[tuple[str, int]]) -> list[tuple[str, str]]:
        """The coordinator owns this data: the summary names whom a message changed."""
        named = []
        for outcome, subscriber_id in changed:
            row = self.store.one("SELECT email FROM subscribers WHERE id = ?", [subscriber_id])
            named.append((outcome, row["email"] if row else "(forgotten)"))
        return named

    # --- idempotence ---------------------------------------------------------------

    def _seen(self, key: str) -> bool:
        return bool(self.store.one("SELECT 1 AS x FROM returned_messages WHERE key = ?", [key]))

    def _remember(self, key: str, category: Category) -> None:
        self.store.conn.execute(
            "INSERT OR IGNORE INTO returned_messages (key, category, processed_at) VALUES (?, ?, ?)",
            [key, str(category), self.store.clock()],
        )


def _ours_first(
    reports: tuple[RecipientReport, ...], verp: _Target | None, store: Store
) -> list[RecipientReport]:
    """The VERP-named subscriber's own block first: with many blocks, it is the one to probe."""
    if verp is None:
        return list(reports)
    row = store.one("SELECT email_key FROM subscribers WHERE id = ?", [verp.subscriber_id])
    key = row["email_key"] if row else None
    return sorted(reports, key=lambda report: address_key(report.recipient) != key)


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
