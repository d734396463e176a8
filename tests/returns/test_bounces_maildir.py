"""`newsletter bounces` on a Maildir: the formats real providers send, each tied to
its delivery and acted on once."""

from __future__ import annotations

from pathlib import Path

from newsletter.project import open_project

from support.returns import SLUG, deliver, enable_returns, files, sample


def statuses(project: Path) -> dict[str, tuple[str, str | None]]:
    with open_project(project) as (_config, store):
        return {s.email: (s.status, s.left_via) for s in store.list_subscribers()}


def events(project: Path, kind: str) -> list[dict]:
    with open_project(project) as (_config, store):
        return list(store.query("SELECT * FROM events WHERE kind = ? ORDER BY id", [kind]))


def test_each_kind_of_returned_mail_is_sorted_and_acted_on_once(project, sent, cli):
    people = list(sent.values())
    returns = project / "returns"
    deliver(
        returns,
        sample("o365-ndr.eml", people[0]),  # by the Message-ID it quotes: probed first
        sample("gmail-dsn.eml", people[1]),  # by its VERP address
        sample("exim-plain.eml", people[2]),  # non-standard (flufl.bounce), to VERP
        sample("qmail.eml", people[3]),  # non-standard, to the plain address: probed
        sample("arf-complaint.eml", people[4]),
        sample("mailto-unsubscribe.eml", people[5]),
        sample("auto-reply.eml", people[6]),
        sample("out-of-office.eml", people[7]),
        sample("person.eml", people[0]),
    )
    dry = cli("bounces", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "9 messages read" in dry.output and "marked bounced" in dry.output
    assert all(state == ("active", None) for state in statuses(project).values())
    assert len(files(returns)) == 9  # nothing moved

    result = cli("bounces")
    assert result.exit_code == 0, result.output
    for line in ("marked bounced", "unsubscribed by complaint", "unsubscribed by mailto",
                 "auto-reply, ignored", "other, left for a person", "probes out: 2"):  # fmt: skip
        assert line in result.output
    for outcome, person in (("marked bounced", people[1]), ("marked bounced", people[2]),
                            ("unsubscribed by complaint", people[4]),
                            ("unsubscribed by mailto", people[5])):  # fmt: skip
        assert f"{outcome}: {person.recipient}" in result.output  # whom, not only how many
    assert people[0].recipient not in result.output  # probed, not changed
    assert f"marked bounced: {people[1].recipient}" in dry.output
    state = statuses(project)
    assert [state[p.recipient] for p in people[1:3]] == [("bounced", "bounce")] * 2
    assert state[people[0].recipient] == state[people[3].recipient] == ("active", None)
    assert state[people[4].recipient] == ("unsubscribed", "complaint")
    assert state[people[5].recipient] == ("unsubscribed", "mailto")
    assert state[people[6].recipient] == state[people[7].recipient] == ("active", None)
    # by person: a Maildir's names do not sort in arrival order within one second
    bounced = {e["subscriber_id"]: e for e in events(project, "bounced")}
    assert sorted(bounced) == sorted([people[1].subscriber_id, people[2].subscriber_id])
    assert {(e["source"], e["issue_slug"]) for e in bounced.values()} == {("dsn", SLUG)}
    assert bounced[people[1].subscriber_id]["detail"].startswith("550-5.1.1 The email account")
    assert "5.1.1" in bounced[people[2].subscriber_id]["detail"]
    probed = {e["subscriber_id"]: e["detail"] for e in events(project, "probe_sent")}
    assert sorted(probed) == sorted([people[0].subscriber_id, people[3].subscriber_id])
    assert probed[people[0].subscriber_id].startswith("550 5.1.10 RESOLVER.ADR.RecipientNotFound")
    assert probed[people[3].subscriber_id] == "5.1.1 Sorry, no mailbox here by that name. (#5.1.1)"
    left = files(returns)
    assert len(left) == 1 and b"Could you add my colleague" in left[0].read_bytes()
    assert len(files(returns / ".newsletter-done")) == 8

    again = cli("bounces")
    assert "1 messages read" in again.output and "other, left for a person" in again.output
    assert statuses(project) == state and len(events(project, "bounced")) == 2
    assert "probes out: 2" in again.output and "probe sent" not in again.output


def test_status_shows_what_came_back_for_the_issue(project, sent, cli):
    people = list(sent.values())
    deliver(
        project / "returns",
        sample("gmail-dsn.eml", people[0]),
        sample("arf-complaint.eml", people[1]),
        sample("mailto-unsubscribe.eml", people[2]),
    )
    cli("bounces")
    result = cli("status", SLUG)
    assert "hard bounces mailed back (DSN)" in result.output
    assert "complaints (unsubscribed)" in result.output
    assert "unsubscribed by mail (List-Unsubscribe mailto)" in result.output
    assert "550-5.1.1 The email account that you tried to reach does not exist" in result.output
    named = result.output[result.output.index("who they were:") :]
    for person, what in zip(
        people, ("hard bounces mailed back", "complaints", "by mail"), strict=False
    ):
        line = next(line for line in named.splitlines() if person.recipient in line)
        assert what in line, line


def test_a_report_that_names_no_delivery_of_ours_is_left_for_a_person(project, sent, cli):
    stranger = next(iter(sent.values()))
    foreign = sample("gmail-dsn.eml", stranger).replace(stranger.verp.encode(), b"x@elsewhere.org")
    foreign = foreign.replace(stranger.message_id.encode(), b"<nothing@elsewhere.org>")
    foreign = foreign.replace(stranger.recipient.encode(), b"unknown@elsewhere.org")
    deliver(project / "returns", foreign)
    result = cli("bounces")
    assert "not ours, left for a person" in result.output
    assert len(files(project / "returns")) == 1
    assert statuses(project)[stranger.recipient] == ("active", None)


def test_a_forged_verp_address_changes_nothing(project, sent, cli):
    person = next(iter(sent.values()))
    forged = person.verp.replace("-", "-f", 1)  # right delivery id, wrong tag
    message = sample("gmail-dsn.eml", person).replace(person.verp.encode(), forged.encode())
    message = message.replace(person.message_id.encode(), b"<forged@elsewhere.org>")
    message = message.replace(person.recipient.encode(), b"someone@elsewhere.org")
    deliver(project / "returns", message)
    cli("bounces")
    assert statuses(project)[person.recipient] == ("active", None)


def test_a_missing_maildir_is_one_clear_error(project, cli):
    enable_returns(project)
    result = cli("bounces")
    assert result.exit_code == 1
    assert "error: no Maildir at" in result.output and "Traceback" not in result.output


def test_a_report_partly_about_us_is_probed_once(project, sent, cli):
    """Two failed recipients in one DSN to a real VERP address: which one is real only
    a probe can tell; the other is left for a person, named."""
    person = next(iter(sent.values()))
    report = (
        f"From: MAILER-DAEMON@mx.example.net\r\nTo: {person.verp}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nTwo recipients failed.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {person.recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n\r\n"
        "Final-Recipient: rfc822; stranger@elsewhere.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n\r\n--B--\r\n"
    ).encode()
    deliver(project / "returns", report)
    first = cli("bounces")
    assert "probe sent to confirm a bounce" in first.output
    assert "left for a person, naming stranger@elsewhere.org" in first.output
    assert statuses(project)[person.recipient] == ("active", None)
    assert len(events(project, "probe_sent")) == 1
    assert len(files(project / "returns" / ".newsletter-done")) == 1  # handled: moved
    cli("bounces")
    assert len(events(project, "probe_sent")) == 1 and not events(project, "bounced")
