"""Only mail we sent can change a subscription (issue 26).

A hostile outsider knows the bounce address and a subscriber's address, and
may have read the journal (it "can live in git"). Nothing they can write to
`bounces@` changes anyone; what a bounce names without a VERP tag is confirmed
by a probe first, and only a probe that bounces marks the address.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
from pathlib import Path

from newsletter.project import open_project

from support.render import fill_in
from support.returns import SLUG, deliver, dsn, files, probes_sent, sample, sent_to


def statuses(project: Path) -> dict[str, tuple[str, str | None]]:
    with open_project(project) as (_config, store):
        return {s.email: (s.status, s.left_via) for s in store.list_subscribers()}


def computed_verp(project: Path, delivery_id: int) -> str:
    """The tag the old code made: sha256("verp:" + the salt the journal's header showed)."""
    with sqlite3.connect(project / "newsletter.db") as db:
        (salt,) = db.execute("SELECT value FROM meta WHERE key = 'suppression_salt'").fetchone()
    key = hashlib.sha256(f"verp:{salt}".encode()).digest()
    tag = hmac.new(key, str(delivery_id).encode(), hashlib.sha256).hexdigest()[:10]
    return f"bounces+{delivery_id}-{tag}@example.org"


def forged_arf(verp: str, victim: str) -> bytes:
    return (
        "From: feedback@arf.example\r\nTo: bounces@example.org\r\nSubject: complaint\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="A"\r\n\r\n'
        "--A\r\nContent-Type: text/plain\r\n\r\nAn abuse report.\r\n"
        "--A\r\nContent-Type: message/feedback-report\r\n\r\n"
        f"Feedback-Type: abuse\r\nVersion: 1\r\nOriginal-Mail-From: <{verp}>\r\n"
        f"Original-Rcpt-To: <{victim}>\r\n\r\n--A--\r\n"
    ).encode()


def qmail_forgery(victim: str) -> bytes:
    return (
        "From: MAILER-DAEMON@qmail.example\r\nTo: bounces@example.org\r\nReturn-Path: <>\r\n"
        "Subject: failure notice\r\n\r\n"
        "Hi. This is the qmail-send program at qmail.example.\r\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\r\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\r\n\r\n"
        f"<{victim}>:\r\nSorry, no mailbox here by that name. (#5.1.1)\r\n"
    ).encode()


def forgeries(project: Path, sent: dict) -> list[bytes]:  # noqa: ANN001
    """What an outsider can write: the four attacks of issue 26."""
    victims = sorted(sent)
    forty = [*victims, "never-mailed@example.org", *(f"x{n}@elsewhere.org" for n in range(31))]
    return [
        dsn("bounces@example.org", victims[0]),  # one block naming the victim
        dsn("bounces@example.org", *forty),  # 40 blocks, one never mailed at all
        qmail_forgery(victims[1]),  # a text bounce from MAILER-DAEMON
        *(forged_arf(computed_verp(project, sent[v].delivery_id), v) for v in victims[2:5]),
    ]


def test_forged_bounces_and_complaints_change_nobody(project, sent, cli):
    before = statuses(project)
    deliver(project / "returns", *forgeries(project, sent))
    result = cli("bounces")
    assert result.exit_code == 0, result.output
    assert statuses(project) == before
    assert "not ours, left for a person" in result.output
    assert f"left for a person, naming {sorted(sent)[0]}" in result.output
    assert "left for a person, naming never-mailed@example.org" in result.output
    assert "probes out: 0" in result.output
    assert len(files(project / "returns")) == 6  # all still there, for a person


def test_forged_returns_change_nobody_over_imap(project, sent, dovecot, cli, monkeypatch):
    dovecot.clear()
    with (project / "newsletter.toml").open("a") as file:
        file.write(
            f'\n[bounces.imap]\nhost = "127.0.0.1"\nport = {dovecot.port}\nsecurity = "ssl"\n'
            f'username = "{dovecot.user}"\npassword_env = "NEWSLETTER_IMAP_PASSWORD"\n'
        )
    monkeypatch.setenv("NEWSLETTER_IMAP_PASSWORD", dovecot.password)
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.ca_file))
    before = statuses(project)
    dovecot.append(*forgeries(project, sent))
    result = cli("bounces")
    assert result.exit_code == 0, result.output
    assert "6 messages read" in result.output
    assert statuses(project) == before
    assert len(dovecot.messages("INBOX")) == 6


def test_the_verp_key_is_in_the_database_not_the_journal(project, sent):
    person = next(iter(sent.values()))
    assert person.verp != computed_verp(project, person.delivery_id)
    with sqlite3.connect(project / "newsletter.db") as db:
        (secret,) = db.execute("SELECT secret FROM return_keys").fetchone()
    journal = (project / "newsletter.journal").read_text()
    assert secret not in journal and len(bytes.fromhex(secret)) == 32


def test_a_probe_that_bounces_marks_the_address(project, sent, cli):
    people = list(sent.values())
    deliver(project / "returns", sample("o365-ndr.eml", people[0]))  # by Message-ID only
    first = cli("bounces")
    assert "probe sent to confirm a bounce" in first.output and "probes sent: 1" in first.output
    assert statuses(project)[people[0].recipient] == ("active", None)
    probe = probes_sent(project)[people[0].recipient]
    outbox = [p.read_bytes() for p in files(project / "outbox")]
    mailed = [m for m in outbox if probe.message_id.encode() in m]
    assert len(mailed) == 1 and b"checking that your address still works" in mailed[0]

    deliver(project / "returns", sample("gmail-dsn.eml", probe))  # the probe's own bounce
    second = cli("bounces")
    assert "marked bounced: its probe bounced" in second.output
    assert "probes out: 0" in second.output
    assert statuses(project)[people[0].recipient] == ("bounced", "bounce")
    with open_project(project) as (_config, store):
        event = store.one("SELECT * FROM events WHERE kind = 'bounced'")
    assert event["source"] == "probe" and event["detail"].startswith("probe bounced: 550")
    status = cli("status", people[0].issue).output
    assert "hard bounces confirmed by a probe" in status and people[0].recipient in status


def test_a_probe_that_does_not_bounce_leaves_the_address_active(project, sent, cli):
    person = next(iter(sent.values()))
    deliver(project / "returns", sample("o365-ndr.eml", person))
    cli("bounces")
    again = cli("bounces")  # the probe was delivered: nothing came back
    assert "probes out: 1" in again.output
    deliver(project / "returns", sample("o365-ndr.eml", person).replace(b"b3f2d1e0", b"c4"))
    third = cli("bounces")  # another report by Message-ID: the probe out already answers
    assert "probe already out" in third.output and "probe sent" not in third.output
    with sqlite3.connect(project / "newsletter.db") as db:  # a week passes
        db.execute("UPDATE probes SET expires_at = '2000-01-01T00:00:00+00:00'")
    later = cli("bounces")
    assert "probes out: 0" in later.output
    assert statuses(project)[person.recipient] == ("active", None)


def test_a_rotated_key_still_reads_back_for_a_while(project, sent, cli):
    first, second, *_ = sent.values()
    result = cli("bounces", "--rotate-key")
    assert "a new VERP key signs from now on" in result.output
    deliver(project / "returns", sample("gmail-dsn.eml", first))  # tagged with the old key
    assert "marked bounced" in cli("bounces").output
    with sqlite3.connect(project / "newsletter.db") as db:  # the grace ends
        db.execute("UPDATE return_keys SET retired_at = '2000-01-01T00:00:00+00:00'"
                   " WHERE retired_at IS NOT NULL")  # fmt: skip
    deliver(project / "returns", sample("gmail-dsn.eml", second))
    late = cli("bounces")
    assert "marked bounced" not in late.output
    assert statuses(project)[second.recipient] == ("active", None)


def test_soft_bounces_by_message_id_are_counted_and_probed_at_the_limit(project, sent, cli):
    """soft_limit = 2: without VERP the second issue in a row that soft-bounced asks a
    probe, instead of marking the address on words anyone who saw a Message-ID could write."""
    person = next(iter(sent.values()))
    deliver(project / "returns", dsn("bounces@example.org", person.recipient, status="4.2.2",
                                     quoting=person.message_id))  # fmt: skip
    assert "soft bounce counted" in cli("bounces").output
    cli("issue", "new", "2027-01", "--subject", "January")
    fill_in(project, "2027-01")
    assert cli("send", "2027-01", "--yes").exit_code == 0
    again = sent_to(project, "2027-01")[person.recipient]
    deliver(project / "returns", dsn("bounces@example.org", person.recipient, status="4.2.2",
                                     quoting=again.message_id))  # fmt: skip
    result = cli("bounces")
    assert "probe sent to confirm a bounce" in result.output
    assert statuses(project)[person.recipient] == ("active", None)
    assert person.issue == SLUG


def test_forget_erases_the_probes_of_a_person(project, sent, cli):
    person = next(iter(sent.values()))
    deliver(project / "returns", sample("o365-ndr.eml", person))
    cli("bounces")
    assert person.recipient in probes_sent(project)
    assert cli("subscribers", "forget", person.recipient, "--yes").exit_code == 0
    with sqlite3.connect(project / "newsletter.db") as db:
        assert db.execute("SELECT count(*) FROM probes").fetchone() == (0,)
