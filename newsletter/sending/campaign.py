"""The steps of `newsletter send` around the loop: plan, lock, freeze, run.

Also the two runs that record nothing: a dry run (builds every message, checks
the SMTP login, delivers nothing) and a test message to one address.
`run_send` is the one entry point the CLI calls for all three.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path

from newsletter.config import Config
from newsletter.db.backup import (
    PendingBackup,
    automatic_backup,
    check_integrity,
    start_automatic_backup,
)
from newsletter.errors import DatabaseError, InputError, SendError
from newsletter.issue.checks import Finding, check_issue
from newsletter.issue.editions import sample_subscriber
from newsletter.issue.online import OnlineEdition
from newsletter.issue.rendering import prepare_issue
from newsletter.mail.builder import MessageFactory
from newsletter.mail.outgoing import OutgoingMessage
from newsletter.sending.ledger import Ledger
from newsletter.sending.lock import send_lock
from newsletter.sending.loop import Builder, Sender
from newsletter.sending.quotas import quota_windows
from newsletter.sending.replies import classify
from newsletter.sending.reports import IssueReports, IssueStatus
from newsletter.sending.return_path import return_path_for
from newsletter.sending.run import SendReport, SendSettings
from newsletter.sending.schedule import parse_send_time, wait_until
from newsletter.sending.transport import TransportPlan, plan_transport
from newsletter.subscribers.addresses import normalise_address
from newsletter.subscribers.model import Subscriber
from newsletter.subscribers.store import Store

TEST_TOKEN = "test-message-not-valid"  # not token-shaped: the web handler answers 404
BATCH = 500


@dataclass(frozen=True)
class SendPlan:
    """What `send` is about to do, shown to the coordinator before asking."""

    slug: str
    subject: str
    transport: str
    connections: int
    rate: float
    resuming: bool  # the recipient list was frozen by an earlier run
    recipients: int  # the frozen list (or the active subscribers, on a first run)
    to_send: int  # messages this run will try
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    uncertain: int = 0
    resend_uncertain: bool = False
    retry_failed: int = 0  # failed rows this run puts back in the queue (--retry-failed)
    at: datetime | None = None  # --at: sending waits until then


@dataclass(frozen=True)
class SendRequest:
    """What the coordinator asked `newsletter send` to do."""

    slug: str
    test_to: str | None = None
    dry_run: bool = False
    connections: int | None = None
    rate: float | None = None
    resend_uncertain: bool = False
    retry_failed: bool = False
    allow_changes: bool = False
    as_address: str | None = None  # the subscriber a test message shows (default: made up)
    at: str | None = None  # --at: "2026-12-08 09:00" (local time) or ISO 8601 with an offset


@dataclass(frozen=True)
class TestSent:
    recipient: str
    transport: str
    as_address: str | None  # whose details it shows; None: a made-up reader's


@dataclass(frozen=True)
class SendOutcome:
    plan: SendPlan
    report: SendReport | None  # None when there was nothing to send or the answer was no
    status: IssueStatus | None  # the issue's totals afterwards


def run_send(
    config: Config,
    store: Store,
    request: SendRequest,
    *,
    confirm: Callable[[SendPlan], bool],
    on_findings: Callable[[list[Finding]], None] | None = None,
    on_start: Callable[[SendPlan, int], None] | None = None,
    on_progress: Callable[[SendReport], None] | None = None,
    on_wait: Callable[[float], None] | None = None,
) -> TestSent | DryRunReport | SendOutcome:
    """Prepare and check the issue once, choose the transport, then test, dry-run or send.

    The checks' findings go to `on_findings` before anything else happens (so
    warnings are seen before the question); an error refuses every kind of send.
    With `request.at`, the send waits after the question until that time (`on_wait`
    hears the seconds left, each second); Ctrl-C meanwhile sends nothing.
    """
    if request.as_address and not request.test_to:
        raise InputError(
            "--as only goes with --test-to",
            hint=f"newsletter send {request.slug} --test-to ME --as EMAIL",
        )
    at = _send_time(request)
    backup = _early_backup(store, request)
    try:
        prepared = prepare_issue(config, request.slug)
        findings = check_issue(config, prepared, store.attribute_keys, store.count_by_language())
        if on_findings is not None:
            on_findings(findings)
        ensure_sendable(request.slug, findings)
        build = MessageFactory(config, prepared).build
        transport = plan_transport(config, connections=request.connections, rate=request.rate)
        if request.test_to:
            message = send_test(store, build, transport, request.test_to, request.as_address)
            return TestSent(message.recipient, transport.description, request.as_address)
        if request.dry_run:
            return dry_run(store, request.slug, build, transport)
        plan, report = send_issue(
            config, store, request.slug, prepared.subject, prepared.content_hash, build,
            transport, confirm=confirm, on_start=on_start, on_progress=on_progress,
            resend_uncertain=request.resend_uncertain, retry_failed=request.retry_failed,
            allow_changes=request.allow_changes, backup=backup,
            online=tuple(prepared.online.values()), at=at, on_wait=on_wait,
        )  # fmt: skip
    finally:
        if backup is not None:
            backup.discard()  # unless the send kept it
    return SendOutcome(plan, report, IssueReports(store).status(request.slug))


def _send_time(request: SendRequest) -> datetime | None:
    if request.at is None:
        return None
    if request.test_to or request.dry_run:
        raise InputError(
            "--at is for the send itself, not for --test-to or --dry-run",
            hint="leave --at out to test now",
        )
    return parse_send_time(request.at)


def _early_backup(store: Store, request: SendRequest) -> PendingBackup | None:
    """The first run's backup, begun before the issue is prepared (it is made
    meanwhile); a run that then sends nothing discards it. A send that waits for
    `--at` takes its backup when the time comes."""
    if request.test_to or request.dry_run or request.at:
        return None
    issue = IssueReports(store).issue(request.slug)
    if issue is not None and issue.started_at is not None:
        return None  # resuming: no backup (see send_issue)
    return start_automatic_backup(store.conn, f"before-send-{request.slug}")


def plan_send(
    ledger: Ledger,
    store: Store,
    slug: str,
    subject: str,
    transport: TransportPlan,
    *,
    resend_uncertain: bool = False,
    retry_failed: bool = False,
) -> SendPlan:
    status = ledger.status(slug)
    plan = partial(
        SendPlan,
        slug=slug,
        subject=subject,
        transport=transport.description,
        connections=transport.connections,
        rate=transport.rate,
        resend_uncertain=resend_uncertain,
    )
    if status is None or status.issue.started_at is None:
        active = store.count_by_status()["active"]
        if status is not None:  # rows replayed from the journal into a restored database
            active = ledger.active_not_reached(slug)
        return plan(resuming=False, recipients=active, to_send=active)
    counts = status.counts
    retrying = ledger.retryable_failed(slug) if retry_failed else 0
    to_send = counts["queued"] + (counts["sending"] if resend_uncertain else 0) + retrying
    return plan(
        retry_failed=retrying,
        resuming=True,
        recipients=status.total,
        to_send=to_send,
        sent=counts["sent"],
        failed=counts["failed"],
        skipped=counts["skipped"],
        uncertain=counts["sending"],
    )


def send_issue(
    config: Config,
    store: Store,
    slug: str,
    subject: str,
    content_hash: str,
    build: Builder,
    transport: TransportPlan,
    *,
    confirm: Callable[[SendPlan], bool],
    on_start: Callable[[SendPlan, int], None] | None = None,
    on_progress: Callable[[SendReport], None] | None = None,
    resend_uncertain: bool = False,
    retry_failed: bool = False,
    allow_changes: bool = False,
    settings: SendSettings | None = None,
    backup: PendingBackup | None = None,
    online: tuple[OnlineEdition, ...] = (),
    at: datetime | None = None,
    on_wait: Callable[[float], None] | None = None,
) -> tuple[SendPlan, SendReport | None]:
    """Send (or resume) an issue; returns the plan and the report (None if declined).

    Under the project's send lock: plan, ask, check the connection and freeze
    the recipients (first run only), optionally requeue uncertain or failed rows,
    run the loop, mark it finished and, when it is, have the journal compacted
    (newsletter.history). `backup`: the first run's backup, already
    begun (see run_send); kept only if this run is a first run. `online`: the
    issue's public copy, which the archive shows once a message has been sent.
    `at`: after the question (and the connection check), wait until then.
    """
    ledger = Ledger(store)
    with send_lock(config.project_dir):
        if store.journal is not None:  # a compaction may have replaced it before the lock
            store.journal.follow()
        plan = plan_send(
            ledger, store, slug, subject, transport,
            resend_uncertain=resend_uncertain, retry_failed=retry_failed,
        )  # fmt: skip
        plan = replace(plan, at=at)
        if plan.resuming:
            ledger.check_content(slug, content_hash, allow_changes)
        if plan.to_send == 0 or not confirm(plan):
            return plan, None
        if not plan.resuming:
            # A relay that refuses us now must not freeze the list: people who
            # join before the coordinator fixes the config still get this issue.
            check_connection(transport)
        if at is not None:
            wait_until(at, on_tick=on_wait)
        # Damage found now, not halfway: the first run's backup checks its copy in
        # full (the same pages); a resumed run, which takes none, checks quickly.
        taken = None if plan.resuming else _first_run_backup(store, slug, backup)
        if taken is None:
            check_integrity(store.conn, quick=True)
        ledger.begin(slug, subject, content_hash, allow_changes=allow_changes, online=online)
        if resend_uncertain:
            ledger.requeue_uncertain(slug)
        if retry_failed:
            ledger.requeue_failed(slug)
        frozen = ledger.status(slug)  # begin() recorded the issue
        total = frozen.counts["queued"] if frozen is not None else 0
        if on_start is not None:
            on_start(plan, total)
        if settings is None:
            settings = SendSettings.from_config(config, transport.connections, transport.rate)
        return_path = return_path_for(config, store)
        sender = Sender(
            ledger, slug, build, transport.factory, settings, total=total,
            on_progress=on_progress,
            envelope_sender=return_path.for_delivery if return_path.verp else None,
            quotas=quota_windows(ledger, settings.quotas),
        )  # fmt: skip
        report = sender.run()
        finished = ledger.finish(slug)
        if not report.abandoned:  # workers still out there may yet check the journal
            ledger.close()
            _catch_up_with_journal(store, slug if report.stopped is None else None)
            if finished:  # the issue before it can be folded (never fails the send)
                store.compact(slug)
        return plan, report


def _first_run_backup(store: Store, slug: str, begun: PendingBackup | None) -> Path | None:
    if begun is not None:
        return begun.keep()
    return automatic_backup(store.conn, f"before-send-{slug}")


def _catch_up_with_journal(store: Store, sent_here: str | None) -> None:
    """Mark the journal lines this run wrote as applied (they are in the database),
    so the next command does not read them again; if the database is busy, it will.

    After a run that no fault stopped, its own delivery lines are skipped unread
    (`sent_here`); what others wrote meanwhile (an unsubscribe) is applied.
    """
    with contextlib.suppress(sqlite3.Error, DatabaseError):
        store.catch_up(sent_here=sent_here)


@dataclass
class DryRunReport:
    messages: int = 0
    bytes: int = 0
    skipped: int = 0
    connection: str = "not checked"


def dry_run(
    store: Store,
    slug: str,
    build: Builder,
    transport: TransportPlan,
    on_progress: Callable[[int], None] | None = None,
) -> DryRunReport:
    """Everything but delivery: build every message this send would send, check the
    SMTP login (connect, TLS, AUTH, QUIT), record nothing."""
    ledger = Ledger(store)
    report = DryRunReport()
    for subscriber in _would_send(ledger, slug):
        if subscriber is None or subscriber.status != "active":
            report.skipped += 1
            continue
        report.bytes += len(build(subscriber).data)
        report.messages += 1
        if on_progress is not None:
            on_progress(report.messages)
    report.connection = check_connection(transport)
    return report


def _would_send(ledger: Ledger, slug: str) -> Iterator[Subscriber | None]:
    issue = ledger.issue(slug)
    after = 0
    if issue is None or issue.started_at is None:
        while batch := ledger.active_after(after, BATCH):
            yield from batch
            after = batch[-1].id
        return
    while deliveries := ledger.queued_after(slug, after, BATCH):
        for delivery in deliveries:
            yield delivery.subscriber
        after = deliveries[-1].id


def check_connection(plan: TransportPlan) -> str:
    if not plan.smtp:
        return f"messages would go to the {plan.description}"
    transport = plan.factory()
    try:
        transport.open()
    except Exception as error:
        _raise_for(error, plan.description, "connection check failed")
    finally:
        transport.close()
    return f"login to {plan.description}: ok"


def send_test(
    store: Store,
    build: Builder,
    transport: TransportPlan,
    to_address: str,
    as_address: str | None = None,
) -> OutgoingMessage:
    """One real message to `to_address`; nothing is recorded for the issue.

    It is filled in with a made-up reader's fields, or with those of the
    subscriber `as_address` names (the coordinator chose to show them), and a
    token that does not work.
    """
    to_address = normalise_address(to_address)
    reader = store.require(as_address) if as_address else sample_subscriber(to_address)
    message = build(replace(reader, id=0, email=to_address, token=TEST_TOKEN))
    sink = transport.factory()
    try:
        sink.open()
        sink.send(message)
    except Exception as error:
        _raise_for(error, transport.description, "test message not sent")
    finally:
        sink.close()
    return message


def ensure_sendable(slug: str, findings: list[Finding]) -> None:
    """An issue the checks find an error in is never sent, not even as a test."""
    errors = sum(finding.level == "error" for finding in findings)
    if errors:
        raise SendError(
            f"not sent: the checks found {errors} error(s) in issue {slug} (listed above)",
            hint=f"fix them; `newsletter issue check {slug}` runs the checks alone",
        )


def _raise_for(error: Exception, where: str, what: str) -> None:
    verdict = classify(error)
    if verdict is None:
        raise error
    raise SendError(f"{what}: {where}: {verdict.reason}", verdict.hint) from None
