"""Sending a bilingual issue to a real SMTP server (aiosmtpd): each reader in their language."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pytest

from newsletter.sending.ledger import Ledger

from support.bilingual import READERS, SLUG, add_readers, make_bilingual, write_bilingual_issue
from support.smtp import configure_smtp

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture
def bilingual(project: Path, store) -> dict[str, int]:  # noqa: ANN001
    make_bilingual(project)
    write_bilingual_issue(project)
    return add_readers(store)


def test_each_reader_gets_one_message_in_their_language(cli, project, bilingual, smtp_server):
    configure_smtp(project, smtp_server, connections=2, rate=0)
    result = cli("send", SLUG, "--yes")
    assert result.exit_code == 0, result.output
    received = {
        m.rcpt_to: email.message_from_bytes(m.data, policy=policy.default)
        for m in smtp_server.handler.messages
    }
    assert sorted(smtp_server.handler.recipients()) == sorted(READERS)  # one delivery per person
    languages = {address: message["Content-Language"] for address, message in received.items()}
    assert languages == {
        "cymraeg@example.org": "cy",
        "english@example.org": "en",
        "neither@example.org": "cy, en",
    }
    html = {a: m.get_body(("html",)).get_content() for a, m in received.items()}
    assert (
        '<html lang="cy" dir="ltr">' in html["cymraeg@example.org"]
        and "Welcome" not in html["cymraeg@example.org"]
    )
    assert (
        '<html lang="en" dir="ltr">' in html["english@example.org"]
        and "Croeso" not in html["english@example.org"]
    )
    both = html["neither@example.org"]
    assert both.index('lang="cy" dir="ltr" id="cy"') < both.index('lang="en" dir="ltr" id="en"')
    status = cli("status", SLUG).output
    for label in ("cy", "en", "both"):
        assert any(line.split("│")[1].strip() == label and line.split("│")[4].strip() == "1"
                   for line in status.splitlines() if line.count("│") > 6), status  # fmt: skip
    again = cli("send", SLUG, "--yes")
    assert "nothing to send" in again.output and len(smtp_server.handler.messages) == 3


def test_a_language_chosen_during_a_send_applies_from_the_next_issue(store, bilingual):
    ledger = Ledger(store)
    ledger.begin(SLUG, "subject", "hash")
    store.set_language(bilingual["neither@example.org"], "cy", "web")
    queued = {d.subscriber.email: d.subscriber.language for d in ledger.queued_after(SLUG, 0, 10)}
    assert queued["neither@example.org"] == ""  # frozen with the recipient list
    assert store.get_subscriber("neither@example.org").language == "cy"  # for the next issue
    by_language = ledger.status(SLUG).by_edition(("cy", "en"))
    assert {k: v["queued"] for k, v in by_language.items()} == {"cy": 1, "en": 1, "": 1}


def test_a_version_readers_need_missing_refuses_the_send(cli, project, bilingual, smtp_server):
    configure_smtp(project, smtp_server)
    (project / "issues" / f"{SLUG}.en.md").unlink()
    result = cli("send", SLUG, "--yes")
    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert "error: no English version: issues/2026-12.en.md does not exist" in output
    assert "not sent: the checks found 1 error(s)" in output and "Traceback" not in output
    assert smtp_server.handler.messages == [] and cli("status", SLUG).exit_code == 1
