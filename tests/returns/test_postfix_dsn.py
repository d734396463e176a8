"""The whole return path with a real MTA: newsletter -> Postfix -> recipients' server
refusing some -> Postfix writes real DSNs to the VERP address -> `newsletter bounces`."""

from __future__ import annotations

import time
from pathlib import Path

from newsletter.project import open_project

from support.render import fill_in
from support.returns import deliver, enable_returns, files, sample, sent_to
from support.smtp import add_subscribers, configure_smtp

SLUG = "2026-12"


def wait_for_files(folder: Path, count: int, seconds: float = 60.0) -> list[Path]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = files(folder) if (folder / "new").exists() else []
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{count} DSNs expected in {folder}, found {len(found)}")


def delivered_to(final_mx, domain: str, expected: list[str], seconds: float = 60.0) -> list[str]:  # noqa: ANN001
    """The recipients at `domain` the final server took, once Postfix has handed over
    the `expected` ones (its queue delivers them in its own time) or the time is up."""
    deadline = time.monotonic() + seconds
    while True:
        found = sorted(r for r in final_mx.handler.recipients() if r.endswith(domain))
        if found == expected or time.monotonic() >= deadline:
            return found
        time.sleep(0.1)


def test_postfix_dsns_come_back_to_the_verp_address_and_are_acted_on(
    project, store, cli, postfix, final_mx, tmp_path
):
    returns = tmp_path / "returns"
    final_mx.handler.maildir = returns
    dead, full, spam, *fine = add_subscribers(store, 6, domain="far.test")
    final_mx.handler.rcpt.update(
        {
            dead: f"550 5.1.1 <{dead}>: Recipient address rejected: User unknown",
            full: f"452 4.2.2 <{full}>: Mailbox full",
        }
    )
    final_mx.handler.data[spam] = "554 5.7.1 Message rejected as spam"
    configure_smtp(project, postfix, connections=2, rate=0)
    enable_returns(project, f'maildir = "{returns}"\n')
    cli("issue", "new", SLUG, "--subject", "December")
    fill_in(project, SLUG)

    result = cli("send", SLUG, "--yes")
    assert result.exit_code == 0, result.output  # the relay took them all
    dsns = wait_for_files(returns, 3)
    assert all(b"multipart/report" in path.read_bytes() for path in dsns)
    assert delivered_to(final_mx, "far.test", fine) == fine

    result = cli("bounces")
    assert result.exit_code == 0, result.output
    assert "3 messages read" in result.output
    for line in ("marked bounced", "soft bounce counted", "refused, not the address's fault"):
        assert line in result.output
    with open_project(project) as (_config, other):
        state = {s.email: s.status for s in other.list_subscribers()}
        events = {
            row["kind"]: row
            for row in other.query(
                "SELECT * FROM events WHERE source = 'dsn' AND issue_slug = ?", [SLUG]
            )
        }
    assert state[dead] == "bounced"
    assert state[full] == state[spam] == "active"  # soft once; not the address's fault
    assert events["bounced"]["detail"].startswith("550 5.1.1")
    assert "User unknown" in events["bounced"]["detail"]
    assert events["soft_bounce"]["detail"].startswith("452 4.2.2")
    assert events["refused"]["detail"].startswith("554 5.7.1 Message rejected as spam")
    assert files(returns) == [] and len(files(returns / ".newsletter-done")) == 3

    status = cli("status", SLUG)
    assert "hard bounces mailed back (DSN)" in status.output
    assert "soft bounces mailed back (DSN)" in status.output
    assert cli("bounces").output.count("nothing new") == 1  # idempotent


def test_a_probe_through_postfix_marks_only_the_address_whose_probe_bounces(
    project, store, cli, postfix, final_mx, tmp_path
):
    """Two reports by Message-ID only (no VERP): each address gets a probe through the
    real relay; the recipients' server refuses one probe, Postfix writes a real DSN
    to the probe's own VERP address, and only that address is marked."""
    returns = tmp_path / "returns"
    final_mx.handler.maildir = returns
    dead, alive = add_subscribers(store, 2, domain="probe.test")
    configure_smtp(project, postfix, connections=1, rate=0)
    enable_returns(project, f'maildir = "{returns}"\n')
    cli("issue", "new", SLUG, "--subject", "December")
    fill_in(project, SLUG)
    assert cli("send", SLUG, "--yes").exit_code == 0
    assert delivered_to(final_mx, "probe.test", [dead, alive]) == [dead, alive]
    sent = sent_to(project, SLUG)
    deliver(returns, sample("o365-ndr.eml", sent[dead]), sample("o365-ndr.eml", sent[alive]))
    final_mx.handler.rcpt[dead] = f"550 5.1.1 <{dead}>: Recipient address rejected"

    first = cli("bounces")
    assert first.exit_code == 0, first.output
    assert "probes sent: 2" in first.output and "probes out: 2" in first.output
    assert {s.email: s.status for s in store.list_subscribers()} == {
        dead: "active",
        alive: "active",
    }
    (probe_dsn,) = wait_for_files(returns, 1)
    assert b"+p" in probe_dsn.read_bytes()  # came back to the probe's VERP address

    second = cli("bounces")
    assert "marked bounced: its probe bounced" in second.output
    assert "probes out: 1" in second.output
    with open_project(project) as (_config, other):
        state = {s.email: s.status for s in other.list_subscribers()}
    assert state == {dead: "bounced", alive: "active"}
