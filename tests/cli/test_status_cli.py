"""`newsletter status`: failed addresses, JSON, and rows in flight while a send runs."""

from __future__ import annotations

import json

from newsletter.sending.lock import send_lock

from support.render import write_issue
from support.smtp import add_subscribers, configure_smtp

SLUG = "2026-12"


def _send_with_failures(cli, project, store, server) -> tuple[list[str], list[str]]:  # noqa: ANN001
    good = add_subscribers(store, 2)
    bad = add_subscribers(store, 2, domain="nowhere.example", start=10)
    write_issue(project, SLUG)
    configure_smtp(project, server, connections=1, rate=0)
    assert cli("send", SLUG, "--yes").exit_code == 0
    return good, bad


def test_status_failed_lists_every_failed_address_with_the_reply(
    cli, project, store, faulty_server
):
    good, bad = _send_with_failures(cli, project, store, faulty_server)
    result = cli("status", SLUG, "--failed")
    assert result.exit_code == 0, result.output
    listed = result.output[result.output.index("failed addresses:") :]
    for address in bad:
        assert address in listed and "550 5.1.1" in listed
    assert not any(address in listed for address in good)


def test_status_json_has_the_counts_and_with_failed_the_addresses(
    cli, project, store, faulty_server
):
    _good, bad = _send_with_failures(cli, project, store, faulty_server)
    record = json.loads(cli("status", SLUG, "--json", "--failed").stdout)
    assert record["slug"] == SLUG and record["send_running"] is False
    assert record["counts"]["sent"] == 2 and record["counts"]["failed"] == 2
    assert [entry["email"] for entry in record["failed"]] == bad
    assert all("550" in entry["reply"] for entry in record["failed"])
    assert {"came_back", "returned_replies", "failure_reasons"} <= set(record)
    everything = json.loads(cli("status", "--json").stdout)
    assert [issue["slug"] for issue in everything] == [SLUG]


def test_status_failed_needs_an_issue(cli):
    result = cli("status", "--failed")
    assert result.exit_code == 1 and "error: --failed needs an issue" in result.output


def test_status_calls_rows_in_flight_while_a_send_holds_the_lock(cli, project, store):
    add_subscribers(store, 3)
    write_issue(project, SLUG)
    assert cli("send", SLUG, "--yes").exit_code == 0
    # as a send of the issue leaves it: unfinished, with a row handed to the server
    store.conn.execute("UPDATE deliveries SET status = 'sending' WHERE id = 1")
    store.conn.execute("UPDATE issues SET finished_at = NULL")
    with send_lock(project):
        during = cli("status", SLUG).output
        record = json.loads(cli("status", SLUG, "--json").stdout)
    assert "a send is running now" in during and "1 in flight" in during
    assert "uncertain" not in during and "--resend-uncertain" not in during
    assert record["send_running"] is True and record["counts"]["uncertain"] == 1
    after = cli("status", SLUG).output  # the lock is free: the send lost track of it
    assert "1 uncertain" in after and "--resend-uncertain" in after


def test_status_of_finished_issues_does_not_wait_on_a_send(cli, project, store):
    """Only an unfinished issue can have rows in flight: with every issue finished the
    lock is not looked at (status starts without filelock), and nothing is in flight."""
    add_subscribers(store, 2)
    write_issue(project, SLUG)
    assert cli("send", SLUG, "--yes").exit_code == 0
    with send_lock(project):
        during = cli("status").output
        record = json.loads(cli("status", SLUG, "--json").stdout)
    assert "a send is running now" not in during and "uncertain" in during
    assert record["send_running"] is False and record["counts"]["sent"] == 2


def test_status_answers_while_an_address_in_the_config_is_wrong(cli, project, store):
    """status only counts, so a `from` with no top-level domain does not stop it; a send
    still refuses, naming the key."""
    add_subscribers(store, 2)
    write_issue(project, SLUG)
    assert cli("send", SLUG, "--yes").exit_code == 0
    config = project / "newsletter.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("<newsletter@example.org>", "<newsletter@example>"))
    status = cli("status", SLUG, "--json")
    assert status.exit_code == 0 and json.loads(status.stdout)["counts"]["sent"] == 2
    refused = cli("send", SLUG, "--yes")
    assert refused.exit_code != 0 and "'newsletter.from'" in refused.output
    assert refused.output.count("error:") == 1
