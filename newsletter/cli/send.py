"""`newsletter send`: a thin wrapper around newsletter.sending."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from newsletter.cli.common import (
    DryRunOption,
    ProjectOption,
    YesOption,
    console,
    open_project,
    show_findings,
)
from newsletter.errors import SendError
from newsletter.issue.online import archive_url

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID
    from rich.status import Status

    from newsletter.sending.campaign import SendPlan
    from newsletter.sending.reports import IssueStatus
    from newsletter.sending.run import SendReport

# The core is imported inside each command, so `--help` and `status` start fast
# (benchmarks/startup.py): this module must not pull in rendering, premailer or waitress.

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def send_command(
    slug: Annotated[str, typer.Argument(help="The issue to send, e.g. 2026-12.")],
    test_to: Annotated[
        str | None,
        typer.Option("--test-to", metavar="EMAIL", help="Send one test message to EMAIL only."),
    ] = None,
    as_address: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="EMAIL",
            help="With --test-to: fill the test in with this subscriber's details"
            " (default: a made-up reader).",
        ),
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
    retry_failed: Annotated[
        bool,
        typer.Option("--retry-failed", help="Put the issue's failed deliveries back in the queue."),
    ] = False,
    allow_changes: Annotated[
        bool, typer.Option("--allow-changes", help="Send an issue edited after sending began.")
    ] = False,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="TIME",
            help='Ask now, send at TIME: "2026-12-08 09:00" (local time) or ISO 8601 with'
            " an offset. Ctrl-C before then sends nothing.",
        ),
    ] = None,
    project: ProjectOption = Path("."),
) -> None:
    """Send an issue to every active subscriber: resumable, never twice to anyone.

    Exit codes: 0 done (or nothing to send); 1 an error; 75 not now: the relay
    accepted nothing for sending.give_up_after, or a quota is used up (the
    message says when to run it again); 128+N stopped by signal N (130 Ctrl-C,
    143 SIGTERM). After any of them the same command continues where it stopped.
    """
    from newsletter.sending.campaign import DryRunReport, SendRequest, TestSent, run_send

    request = SendRequest(
        slug, test_to=test_to, dry_run=dry_run_, connections=connections, rate=rate,
        resend_uncertain=resend_uncertain, retry_failed=retry_failed,
        allow_changes=allow_changes, as_address=as_address, at=at,
    )  # fmt: skip
    bar, countdown = _ProgressBar(), _Countdown()
    with open_project(project) as (config, store), _signals_as_ctrl_c() as received:
        try:
            outcome = run_send(
                config, store, request, confirm=lambda plan: _confirm(plan, yes),
                on_findings=show_findings, on_start=bar.start, on_progress=bar.update,
                on_wait=countdown.tick,
            )  # fmt: skip
        except KeyboardInterrupt:
            if not countdown.started:
                raise
            countdown.stop()
            _cancelled(received)
        finally:
            countdown.stop()
            bar.stop()
    if isinstance(outcome, TestSent):
        who = f"{outcome.as_address}'s" if outcome.as_address else "a made-up reader's"
        console.print(
            f"test message sent to {escape(outcome.recipient)} via {escape(outcome.transport)},"
            f" filled in with {escape(who)} details (its unsubscribe link does not work);"
            " nothing was recorded"
        )
    elif isinstance(outcome, DryRunReport):
        console.print(
            f"dry run: {outcome.messages} messages built ({outcome.bytes / 1024:,.0f} KB),"
            f" {outcome.skipped} recipients no longer active; {escape(outcome.connection)}"
        )
        console.print("nothing was sent and nothing was recorded")
    else:
        _finish(outcome.plan, outcome.report, outcome.status, received)
        if outcome.status is not None and outcome.status.counts["sent"]:
            console.print(
                f"in the public archive: {escape(archive_url(config.base_url))}", soft_wrap=True
            )


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


def _cancelled(received: list[int]) -> None:
    signum = received[0] if received else signal.SIGINT
    console.print(f"stopped by {_signal_name(signum)} before the time: nothing was sent")
    raise typer.Exit(128 + signum)


def _signal_name(signum: int) -> str:
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


class _Countdown:
    """`send --at`: the seconds left, shown while the send waits for its time."""

    def __init__(self) -> None:
        self.started = False
        self._status: Status | None = None

    def tick(self, left: float) -> None:
        text = f"sending in {_clock_duration(left)}; Ctrl-C cancels (nothing is sent)"
        if not self.started:
            self.started = True
            console.print(f"waiting: {text}", soft_wrap=True)
            self._status = console.status(text)
            self._status.start()
        elif self._status is not None:
            self._status.update(text)

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


def _clock_duration(seconds: float) -> str:
    """2 h 05 min 09 s; 4 min 09 s; 9 s."""
    whole = int(seconds + 0.999)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min {secs:02d} s"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _confirm(plan: SendPlan, yes: bool) -> bool:
    console.print(f"issue [bold]{escape(plan.slug)}[/]: {escape(plan.subject)}")
    if plan.resuming:
        console.print(
            f"resuming: {plan.recipients} recipients frozen at the first run; {plan.sent} sent,"
            f" {plan.failed} failed, {plan.skipped} skipped"
        )
    else:
        console.print(
            f"recipients: {plan.recipients} active subscribers now"
            " (the list is frozen when sending starts)"
        )
    _uncertain_note(plan.uncertain, plan.resend_uncertain)
    if plan.retry_failed:
        console.print(
            f"[yellow]{plan.retry_failed} failed deliveries go back in the queue and will be"
            " tried again[/]"
        )
    rate = f"{plan.rate:g} messages/s" if plan.rate else "no rate limit"
    console.print(f"transport: {escape(plan.transport)}, {plan.connections} connection(s), {rate}")
    when = "now"
    if plan.at is not None:
        when = f"at {plan.at.astimezone():%Y-%m-%d %H:%M:%S %Z}"
        console.print(
            f"scheduled: {when}; the list is frozen then, and Ctrl-C or SIGTERM before"
            " then sends nothing"
        )
    if yes:
        return True
    try:
        return typer.confirm(f"Send {plan.to_send} messages {when}?", default=False)
    except typer.Abort:
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
    """A rich progress bar fed from the sender's worker threads.

    Redrawn ten times a second, so it takes a report at most that often (and
    the last one at stop): updating rich per message cost more CPU than
    building the message.
    """

    EVERY = 0.1  # seconds between updates

    def __init__(self) -> None:
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.stopping = False
        self._next_update = 0.0
        self._last: SendReport | None = None

    def start(self, plan: SendPlan, total: int) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("sending"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[sent]} sent, {task.fields[failed]} failed"),
            TextColumn("{task.fields[rate]}/s"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[weather]}"),
            console=console,
        )
        self.task = self.progress.add_task(
            "send", total=total, sent=0, failed=0, rate="0", weather=""
        )
        self.progress.start()

    def update(self, report: SendReport) -> None:
        if self.progress is None:
            return
        self._last = report
        now = time.monotonic()
        if now < self._next_update and not (report.interrupted and not self.stopping):
            return
        self._next_update = now + self.EVERY
        self._show(report)

    def _show(self, report: SendReport) -> None:
        assert self.progress is not None and self.task is not None
        if report.interrupted and not self.stopping:
            self.stopping = True
            self.progress.console.print(
                "stopping: finishing the messages in hand (the server may take a while to"
                " answer); Ctrl-C again gives up on them, and they stay uncertain",
                soft_wrap=True,
            )
        speed = self.progress.tasks[0].speed or 0
        self.progress.update(
            self.task,
            completed=report.done, sent=report.sent, failed=report.failed, rate=f"{speed:.0f}",
            weather=escape(weather(report, time.monotonic())),
        )  # fmt: skip

    def stop(self) -> None:
        if self.progress is not None:
            if self._last is not None:
                self._show(self._last)
            self.progress.stop()


def weather(report: SendReport, now: float) -> str:
    """What the relay is doing to the send, in plain words ("" when all is well)."""
    retrying = f", retrying {report.retrying}" if report.retrying else ""
    if report.quota_wait is not None:
        quota, until = report.quota_wait
        return f"quota {quota} reached: waiting {_clock_duration(until - now)}{retrying}"
    pace = report.pace
    if pace is None or pace.state == "steady":
        return retrying.removeprefix(", ")
    if pace.state == "paused" and pace.until is not None:
        return (
            f"the relay is not taking messages now ({pace.last_reply[:60]}): trying again in"
            f" {_clock_duration(pace.until - now)}{retrying}"
        )
    if pace.state == "probing":
        return f"trying one message to see whether the relay takes them again{retrying}"
    rate = f"{pace.rate:.0f}" if pace.rate >= 10 else f"{pace.rate:.1f}".removesuffix(".0")
    return f"the relay asked us to slow down: {rate} messages a second now{retrying}"


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
        name = _signal_name(signum)
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
