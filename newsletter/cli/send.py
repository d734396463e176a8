"""`newsletter send` and `newsletter status`: thin wrappers around newsletter.sending."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated

import click
import typer
from rich import box
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from newsletter.cli.common import DryRunOption, ProjectOption, YesOption, console
from newsletter.errors import NotFoundError, SendError
from newsletter.project import open_project
from newsletter.sending.campaign import (
    DryRunReport,
    SendPlan,
    SendRequest,
    TestSent,
    run_send,
)
from newsletter.sending.ledger import IssueStatus, Ledger
from newsletter.sending.loop import SendReport

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def register(app: typer.Typer) -> None:
    """Add the send and status commands to the root app."""
    app.command("send")(send_command)
    app.command("status")(status_command)


def send_command(
    slug: Annotated[str, typer.Argument(help="The issue to send, e.g. 2026-12.")],
    test_to: Annotated[
        str | None,
        typer.Option("--test-to", metavar="EMAIL", help="Send one test message to EMAIL only."),
    ] = None,
    dry_run_: DryRunOption = False,
    yes: YesOption = False,
    connections: Annotated[
        int | None, typer.Option(min=1, max=64, help="Parallel SMTP sessions (smtp.connections).")
    ] = None,
    rate: Annotated[
        float | None, typer.Option(min=0, help="Messages per second in all; 0 = no limit.")
    ] = None,
    resend_uncertain: Annotated[
        bool, typer.Option("--resend-uncertain", help="Also resend messages whose fate is unknown.")
    ] = False,
    allow_changes: Annotated[
        bool, typer.Option("--allow-changes", help="Send an issue edited after sending began.")
    ] = False,
    project: ProjectOption = Path("."),
) -> None:
    """Send an issue to every active subscriber: resumable, never twice to anyone."""
    request = SendRequest(
        slug, test_to=test_to, dry_run=dry_run_, connections=connections, rate=rate,
        resend_uncertain=resend_uncertain, allow_changes=allow_changes,
    )  # fmt: skip
    bar = _ProgressBar()
    with open_project(project) as (config, store), _signals_as_ctrl_c() as received:
        try:
            outcome = run_send(
                config, store, request, confirm=lambda plan: _confirm(plan, yes),
                on_start=bar.start, on_progress=bar.update,
            )  # fmt: skip
        finally:
            bar.stop()
    if isinstance(outcome, TestSent):
        console.print(
            f"test message sent to {escape(outcome.recipient)} via {escape(outcome.transport)}"
            " (its unsubscribe link does not work); nothing was recorded"
        )
    elif isinstance(outcome, DryRunReport):
        console.print(
            f"dry run: {outcome.messages} messages built ({outcome.bytes / 1024:,.0f} KB),"
            f" {outcome.skipped} recipients no longer active; {escape(outcome.connection)}"
        )
        console.print("nothing was sent and nothing was recorded")
    else:
        _finish(outcome.plan, outcome.report, outcome.status, received)


@contextmanager
def _signals_as_ctrl_c() -> Iterator[list[int]]:
    """SIGTERM (systemd, cron, a shutdown) stops a send exactly as Ctrl-C does.

    Yields the list of signals received, so the exit code can name the first.
    """
    received: list[int] = []

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    in_main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, interrupt) for sig in _STOP_SIGNALS if in_main}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _confirm(plan: SendPlan, yes: bool) -> bool:
    console.print(f"issue [bold]{escape(plan.slug)}[/]: {escape(plan.subject)}")
    if plan.resuming:
        console.print(
            f"resuming: {plan.recipients} recipients frozen at the first run; {plan.sent} sent,"
            f" {plan.failed} failed, {plan.skipped} skipped"
        )
    else:
        console.print(f"recipients: {plan.recipients} active subscribers (the list is frozen now)")
    _uncertain_note(plan.uncertain, plan.resend_uncertain)
    rate = f"{plan.rate:g} messages/s" if plan.rate else "no rate limit"
    console.print(f"transport: {escape(plan.transport)}, {plan.connections} connection(s), {rate}")
    if yes:
        return True
    try:
        return click.confirm(f"Send {plan.to_send} messages now?", default=False)
    except click.Abort:
        raise SendError(
            "not sent: the question was not answered",
            hint="answer y, or pass --yes to send without asking",
        ) from None


def _uncertain_note(uncertain: int, resending: bool) -> None:
    if uncertain and resending:
        console.print(f"[yellow]{uncertain} uncertain deliveries will be sent again[/]")
    elif uncertain:
        console.print(
            f"[yellow]{uncertain} uncertain deliveries (the send lost track of them in flight;"
            " they may have arrived) are not resent; add --resend-uncertain to send them again[/]"
        )


class _ProgressBar:
    """A rich progress bar fed from the sender's worker threads."""

    def __init__(self) -> None:
        self.progress: Progress | None = None
        self.task = None

    def start(self, plan: SendPlan, total: int) -> None:
        self.progress = Progress(
            TextColumn("sending"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[sent]} sent, {task.fields[failed]} failed"),
            TextColumn("{task.fields[rate]}/s"),
            TimeRemainingColumn(),
            console=console,
        )
        self.task = self.progress.add_task("send", total=total, sent=0, failed=0, rate="0")
        self.progress.start()

    def update(self, report: SendReport) -> None:
        if self.progress is None:
            return
        speed = self.progress.tasks[0].speed or 0
        self.progress.update(
            self.task,  # type: ignore[arg-type]
            completed=report.done, sent=report.sent, failed=report.failed, rate=f"{speed:.0f}",
        )  # fmt: skip

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _finish(
    plan: SendPlan, report: SendReport | None, status: IssueStatus | None, received: list[int]
) -> None:
    if report is None:
        if plan.to_send == 0:
            console.print(f"nothing to send for {escape(plan.slug)}: {_totals(status)}")
            _uncertain_note(plan.uncertain, False)
        else:
            console.print("not sent")
        return
    console.print(_summary(report, status))
    if report.stopped is not None:
        raise report.stopped
    if report.interrupted:
        signum = received[0] if received else signal.SIGINT
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        if report.abandoned:
            console.print(
                "[yellow]stopped at once by a second signal: the messages in flight are"
                " uncertain (see `newsletter status`)[/]"
            )
        console.print(f"stopped by {name}; run the same command again to continue")
        raise typer.Exit(128 + signum)


def _totals(status: IssueStatus | None) -> str:
    if status is None:
        return "no active subscribers"
    counts = status.counts
    return (
        f"{counts['sent']} sent, {counts['failed']} failed, {counts['skipped']} skipped,"
        f" {counts['sending']} uncertain"
    )


def _summary(report: SendReport, status: IssueStatus | None) -> Table:
    rate = report.sent / report.elapsed if report.elapsed else 0
    ended = "stopped after" if report.interrupted or report.stopped else "finished in"
    table = Table(title=f"send {ended} {report.elapsed:.1f} s ({rate:.1f} messages/s)")
    table.add_column("")
    table.add_column("this run", justify="right")
    table.add_column("issue total", justify="right")
    counts = status.counts if status else {}
    rows = [
        ("sent", report.sent, "sent"),
        ("failed", report.failed, "failed"),
        ("skipped (left the list)", report.skipped, "skipped"),
        ("still queued", report.deferred, "queued"),
        ("uncertain", report.uncertain, "sending"),
    ]
    for label, this_run, key in rows:
        table.add_row(label, str(this_run), str(counts.get(key, 0)))
    return table


def status_command(
    slug: Annotated[str | None, typer.Argument(help="One issue; all issues if left out.")] = None,
    project: ProjectOption = Path("."),
) -> None:
    """Per issue: queued, uncertain, sent, failed (with reasons), skipped."""
    with open_project(project) as (_config, store):
        ledger = Ledger(store)
        if slug is None:
            _all_issues(ledger.statuses())
            return
        status = ledger.status(slug)
        if status is None:
            raise NotFoundError(
                f"issue {slug} has not been sent yet", hint=f"newsletter send {slug}"
            )
        _one_issue(status, ledger.uncertain(slug))


def _all_issues(statuses: list[IssueStatus]) -> None:
    if not statuses:
        console.print("no issue has been sent yet")
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("issue", no_wrap=True)
    for name in ("sent", "failed", "skipped", "queued", "uncertain"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("started", no_wrap=True)
    table.add_column("finished", no_wrap=True)
    for status in statuses:
        counts, issue = status.counts, status.issue
        numbers = (counts[key] for key in ("sent", "failed", "skipped", "queued", "sending"))
        table.add_row(
            escape(issue.slug),
            *(str(number) for number in numbers),
            (issue.started_at or "-")[:10],
            (issue.finished_at or "-")[:10],
        )
    console.print(table)


def _when(timestamp: str | None) -> str:
    """2026-12-01T09:30:00+00:00 -> 2026-12-01 09:30 (UTC, as stored)."""
    return timestamp[:16].replace("T", " ") if timestamp else "-"


def _one_issue(status: IssueStatus, uncertain: list[str]) -> None:
    issue, counts = status.issue, status.counts
    console.print(f"issue [bold]{escape(issue.slug)}[/]: {escape(issue.subject)}")
    console.print(
        f"started {_when(issue.started_at)} UTC, "
        + (f"finished {_when(issue.finished_at)} UTC" if issue.finished_at else "not finished")
    )
    table = Table()
    for name in ("queued", "uncertain", "sent", "failed", "skipped", "total"):
        table.add_column(name, justify="right")
    table.add_row(
        *(str(counts[key]) for key in ("queued", "sending", "sent", "failed", "skipped")),
        str(status.total),
    )
    console.print(table)
    _reasons("failed", status.failures)
    _reasons("still queued after temporary errors (a later send retries)", status.deferred)
    if status.uncertain:
        console.print(
            f"[yellow]{status.uncertain} uncertain: the send lost track of these in flight (killed,"
            " or the connection dropped before the server answered); they may have arrived."
            f" `newsletter send {escape(issue.slug)} --resend-uncertain`"
            " sends them again[/]"
        )
        for address in uncertain:
            console.print(f"  {escape(address)}")
        if status.uncertain > len(uncertain):
            console.print(f"  ... and {status.uncertain - len(uncertain)} more")


def _reasons(title: str, reasons: list[tuple[str, int]], limit: int = 10) -> None:
    if not reasons:
        return
    console.print(f"{title}:")
    for reason, count in reasons[:limit]:
        console.print(f"  {count:>6}  {escape(reason)}")
    if len(reasons) > limit:
        rest = sum(count for _reason, count in reasons[limit:])
        console.print(f"  {rest:>6}  (other reasons)")
