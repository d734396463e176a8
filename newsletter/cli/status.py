"""`newsletter status`: per issue, what was sent, what failed and why, what is in flight."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from newsletter.cli.common import ProjectOption, console, open_project
from newsletter.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from newsletter.config import Config
    from newsletter.sending.reports import IssueReports, IssueStatus


def status_command(
    slug: Annotated[str | None, typer.Argument(help="One issue; all issues if left out.")] = None,
    failed: Annotated[
        bool, typer.Option("--failed", help="List every failed address with the server's reply.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
    project: ProjectOption = Path("."),
) -> None:
    """Per issue: queued, uncertain, sent, failed (with reasons), skipped."""
    # here, so `--help` starts fast
    from newsletter.sending.reports import IssueReports, send_in_flight

    if failed and slug is None:
        raise InputError("--failed needs an issue", hint="newsletter status SLUG --failed")
    with open_project(project, check_addresses=False) as (config, store):
        reports = IssueReports(store)
        if slug is None:
            statuses = reports.statuses()
            running = send_in_flight(config.project_dir, statuses)
            if as_json:
                _print_json([status.as_dict(running=running) for status in statuses])
            else:
                _all_issues(statuses, running)
                _quotas(config, reports)
            return
        status = reports.status(slug)
        if status is None:
            raise NotFoundError(
                f"issue {slug} has not been sent yet", hint=f"newsletter send {slug}"
            )
        running = send_in_flight(config.project_dir, [status])
        if as_json:
            record = status.as_dict(running=running)
            if failed:
                record["failed"] = [
                    {"email": email, "reply": reply} for email, reply in reports.failed(slug)
                ]
            _print_json(record)
            return
        _one_issue(status, reports.uncertain(slug), running, config.languages)
        _quotas(config, reports)
        _people_who_came_back(*reports.people_who_came_back(slug, PEOPLE_SHOWN))
        if failed:
            _failed_addresses(reports, slug)


def _quotas(config: Config, reports: IssueReports) -> None:
    """How much of each of the relay's quota windows is used now (smtp.quota)."""
    if config.smtp is None or not config.smtp.quota:
        return
    from newsletter.sending.quotas import quota_use

    uses = quota_use(reports, config.smtp.quota, time.time())
    console.print(
        "relay quota: "
        + "; ".join(f"{use.quota.text}: {use.used:,} used, {use.left:,} left" for use in uses),
        soft_wrap=True,
    )


PEOPLE_SHOWN = 20  # bounced and unsubscribed through this issue, named by `status SLUG`


def _print_json(value: object) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def _all_issues(statuses: list[IssueStatus], running: bool) -> None:
    if not statuses:
        console.print("no issue has been sent yet")
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("issue", no_wrap=True)
    for name in ("sent", "failed", "skipped", "queued", "in flight" if running else "uncertain"):
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
    if running:
        console.print("a send is running now: its rows being sent are counted as in flight")


def _when(timestamp: str | None) -> str:
    """2026-12-01T09:30:00+00:00 -> 2026-12-01 09:30 (UTC, as stored)."""
    return timestamp[:16].replace("T", " ") if timestamp else "-"


def _one_issue(
    status: IssueStatus, uncertain: list[str], running: bool, languages: tuple[str, ...]
) -> None:
    issue, counts = status.issue, status.counts
    console.print(f"issue [bold]{escape(issue.slug)}[/]: {escape(issue.subject)}")
    console.print(
        f"started {_when(issue.started_at)} UTC, "
        + (f"finished {_when(issue.finished_at)} UTC" if issue.finished_at else "not finished")
        + ("; a send is running now" if running else ""),
        soft_wrap=True,
    )
    console.print(_counts_table(counts, status.by_edition(languages), running, len(languages) > 1))
    _reasons("failed", status.failures)
    _reasons("still queued after temporary errors (a later send retries)", status.deferred)
    _reasons("came back (refusals at sending, returned mail, complaints)", status.came_back)
    _reasons("what the returned mail said", status.returned)
    if counts["failed"] and not running:
        console.print(
            f"`newsletter send {escape(issue.slug)} --retry-failed` tries the failed ones again"
            " once their cause is fixed"
        )
    if running:
        if status.uncertain:
            console.print(
                f"{status.uncertain} in flight: the running send is handing these to the server now"
            )
        return
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


def _counts_table(
    counts: dict[str, int], editions: dict[str, dict[str, int]], running: bool, bilingual: bool
) -> Table:
    """One row of counts; in a bilingual project one row per language ("both": the
    message with every language, for readers who made no choice), then all."""
    table = Table()
    if bilingual:
        table.add_column("language")
    in_flight = "in flight" if running else "uncertain"
    for name in ("queued", in_flight, "sent", "failed", "skipped", "total"):
        table.add_column(name, justify="right")
    rows = [(language or "both", each) for language, each in editions.items()] if bilingual else []
    for label, each in [*rows, ("all", counts)]:
        cells = [str(each[key]) for key in ("queued", "sending", "sent", "failed", "skipped")]
        table.add_row(*([label] if bilingual else []), *cells, str(sum(each.values())))
    return table


def _people_who_came_back(people: list[tuple[str, str]], total: int) -> None:
    if not people:
        return
    console.print("who they were:")
    for email, what in people:
        console.print(f"  {escape(email)}  {escape(what)}", soft_wrap=True)
    if total > len(people):
        console.print(
            f"  ... and {total - len(people)} more (`newsletter subscribers list --status bounced`)"
        )


def _failed_addresses(reports: IssueReports, slug: str) -> None:
    count = 0
    for email, reply in reports.failed(slug):
        if not count:
            console.print("failed addresses:")
        console.print(f"  {escape(email)}  {escape(reply)}", soft_wrap=True)
        count += 1
    if not count:
        console.print("no failed addresses")


def _reasons(title: str, reasons: list[tuple[str, int]], limit: int = 10) -> None:
    if not reasons:
        return
    console.print(f"{title}:")
    for reason, count in reasons[:limit]:
        console.print(f"  {count:>6}  {escape(reason)}")
    if len(reasons) > limit:
        rest = sum(count for _reason, count in reasons[limit:])
        console.print(f"  {rest:>6}  (other reasons)")
