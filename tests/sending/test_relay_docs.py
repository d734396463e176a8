"""docs/relay.md against the code: the commands it shows outside `sh` blocks (which
tests/docs/test_commands.py runs) are run here, and the lines it quotes are the
lines the code writes."""

from __future__ import annotations

import re
import shlex
from datetime import UTC, datetime, timedelta

from newsletter.cli.send import weather
from newsletter.config import load_config
from newsletter.config.model import Quota
from newsletter.errors import SendDeferred
from newsletter.sending.gate import Gate
from newsletter.sending.pacing import Pace, Pacer
from newsletter.sending.quotas import QuotaWindows
from newsletter.sending.replies import Kind, Verdict
from newsletter.sending.run import SendReport

from support.docs import DOCS, blocks
from support.smtp import add_subscribers, configure_smtp

PAGE = DOCS / "relay.md"
SLUG = "2026-12"


def page_text() -> str:
    return PAGE.read_text(encoding="utf-8")


def text_lines() -> list[str]:
    return [line for block in blocks(PAGE) if block.language == "text" for line in
            block.text.splitlines()]  # fmt: skip


def test_the_send_at_command_and_the_cron_line_run(cli, project, store, issue, smtp_server):
    """`--at` with the page's time moved to a few seconds from now (the page's own
    date may have passed, or be days away); then the command of the crontab line."""
    emails = add_subscribers(store, 3)
    configure_smtp(project, smtp_server, connections=1, rate=0)
    (shown,) = re.findall(r"`(newsletter send 2026-12 --at [^`]+)`", page_text())
    soon = (datetime.now(UTC) + timedelta(seconds=3)).astimezone()
    args = shlex.split(shown)[1:]
    args[args.index("--at") + 1] = soon.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
    result = cli(*args, input="y\n")
    assert result.exit_code == 0, result.output
    assert sorted(smtp_server.handler.recipients()) == emails
    (cron,) = [line for line in text_lines() if line.startswith("0 9 8 12 *")]
    command = shlex.split(cron.split("&&")[1])
    assert command[:2] == ["newsletter", "send"]
    again = cli(*command[1:])
    assert again.exit_code == 0 and "nothing to send" in again.output


def test_every_toml_block_of_the_page_is_a_valid_config(project):
    base = (project / "newsletter.toml").read_text(encoding="utf-8")
    smtp = '[smtp]\nhost = "smtp.example.org"\n'
    for block in blocks(PAGE):
        if block.language != "toml":
            continue
        text = block.text if "[smtp]" not in block.text else block.text.replace("[smtp]\n", smtp)
        (project / "newsletter.toml").write_text(base + "\n" + text, encoding="utf-8")
        load_config(project)


def test_the_progress_lines_the_page_quotes_are_the_ones_the_bar_shows():
    now = 100.0
    not_now = "451 4.3.0 Try again later"
    reports = [
        SendReport(retrying=3, pace=Pace("slowed", 8.0)),
        SendReport(pace=Pace("paused", 2.0, until=now + 16, last_reply=not_now)),
        SendReport(pace=Pace("probing", 2.0)),
        SendReport(quota_wait=("30/minute", now + 23)),
    ]
    shown = [weather(report, now) for report in reports]
    quoted = text_lines()
    assert all(line in quoted for line in shown), shown


def test_the_stops_the_page_quotes_are_the_ones_the_send_makes():
    verdict = Verdict(Kind.TEMPORARY, "451 4.3.0 Try again later", "4.3.0")
    pacer = Pacer(0, now=0.0, give_up_after=600)
    pacer.deferred(0.0, verdict)
    gave_up = pacer.give_up(600.0)
    assert isinstance(gave_up, SendDeferred) and gave_up.exit_code == 75
    quoted = text_lines()
    assert f"error: {gave_up.message}" in quoted and f"hint: {gave_up.hint}" in quoted
    quota = Quota(10000, 86400.0, "10000/day")
    gate = Gate(Pacer(0, now=0.0), QuotaWindows((quota,), [0.0] * 10000))
    stopped = gate.ask(10.0)
    assert isinstance(stopped, SendDeferred) and stopped.exit_code == 75
    pattern = re.escape(f"error: {stopped.message}").replace(r"\d", "d")
    pattern = re.sub(r"\d{4}\\-\d\d\\-\d\d\\ \d\d:\d\d:\d\d", r"[-0-9]+\\ [:0-9]+", pattern)
    assert any(re.fullmatch(pattern, line) for line in quoted), stopped.message
    assert f"hint: {stopped.hint}" in quoted
    assert "exit code 75" in page_text()
