"""Joining mails are DKIM-signed like the issues: a real sign-up's confirmation and
welcome, as a real SMTP server received them, verify against the record
`newsletter dkim keygen` printed (dkimpy; OpenDKIM's verifier where this machine
can give it a DNS server on loopback); a changed link breaks the signature."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest

from support.dkim import RECORD_NAME, dkimpy_verify, printed_record, signed_header_names
from support.dnsmasq import Zone
from support.joining import confirm_link, confirmation_tokens, sign_up
from support.opendkim import namespace_command, opendkim_verify
from support.waiting import wait_for

BOUNCES = "bounces@example.org"  # [bounces] address: the envelope sender of every mail


@pytest.fixture
def signed_joining(cli, serve, smtp_server):  # noqa: ANN001, ANN201
    """`dkim keygen`, [dkim] naming its key, mail through aiosmtpd, welcome mails on:
    (the served app, the relay, {record name: value as printed})."""
    made = cli("dkim", "keygen")
    assert made.exit_code == 0, made.output
    name, value = printed_record(made.output)
    assert name == RECORD_NAME
    server = serve(
        f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_server.port}\nsecurity = "none"\n\n'
        "[subscribe]\nwelcome = true\n\n"
        f'[bounces]\naddress = "{BOUNCES}"\n'
    )
    return server, smtp_server, {name: value}


def mails_to(relay, email: str, count: int) -> list[bytes]:  # noqa: ANN001
    """The raw bytes of the first `count` mails the relay took for `email`."""
    return wait_for(
        lambda: (
            (found := [m.data for m in relay.handler.messages if m.rcpt_to == email])
            and len(found) >= count
            and found[:count]
        ),
        what=f"{count} mail(s) to {email}",
    )


def join(server, relay, project: Path, email: str) -> tuple[bytes, bytes]:  # noqa: ANN001
    """Sign up, confirm by the mailed link: (the confirmation, the welcome) as received."""
    assert sign_up(server, project, email).status == 200
    [confirmation] = mails_to(relay, email, 1)
    parsed = message_from_bytes(confirmation, policy=policy.default)
    [token] = confirmation_tokens([parsed], email)  # type: ignore[list-item]
    _page, done = confirm_link(server, token)
    assert done.status == 200
    return confirmation, mails_to(relay, email, 2)[1]


def test_confirmation_and_welcome_verify_against_the_published_key(
    signed_joining, project: Path
) -> None:  # noqa: ANN001
    server, relay, records = signed_joining
    confirmation, welcome = join(server, relay, project, "nia@example.org")
    assert b"Subject: Confirm your subscription" in confirmation
    assert b"Subject: Welcome to" in welcome
    for mail in (confirmation, welcome):
        assert mail.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;")
        assert dkimpy_verify(mail, records)
    forged = confirmation.replace(b"/confirm/", b"/confirm/x", 1)
    assert forged != confirmation and not dkimpy_verify(forged, records)
    to_someone_else = confirmation.replace(b"To: ", b"To: eve@example.net, ", 1)
    assert not dkimpy_verify(to_someone_else, records)


def test_notices_are_built_as_the_issues_are(signed_joining, project: Path) -> None:  # noqa: ANN001
    """As received over SMTP: the [bounces] return path, one MIME-Version, quoted-printable
    lines within 76, no defect for Python's strict parser, and a signature over the
    oversigned headers and Content-Language that a second Subject breaks."""
    server, relay, records = signed_joining
    join(server, relay, project, "gwen@example.org")
    received = [m for m in relay.handler.messages if m.rcpt_to == "gwen@example.org"]
    assert len(received) == 2
    for mail in received:
        assert mail.mail_from == BOUNCES  # bounces come back to the return mailbox
        data = mail.data
        lines = data.split(b"\r\n")
        assert sum(line.lower().startswith(b"mime-version:") for line in lines) == 1
        head, _, body = data.partition(b"\r\n\r\n")
        assert all(len(line) <= 76 for line in body.split(b"\r\n"))
        assert all(len(line) <= 78 for line in head.split(b"\r\n"))
        strict = message_from_bytes(data, policy=policy.strict)  # raises on any defect
        assert strict["Auto-Submitted"] == "auto-generated" and strict["Content-Language"] == "en"
        for part in strict.walk():
            assert all(str(value) for value in part.values())  # every header parses
            if part.get_content_maintype() == "text":
                assert part["Content-Transfer-Encoding"] == "quoted-printable"
                assert part.get_content()
        assert dkimpy_verify(data, records)
        names = signed_header_names(data)
        for name in ("from", "to", "subject", "date", "list-unsubscribe"):
            assert names.count(name) == 2, name
        assert {"content-language", "auto-submitted"} <= set(names)
        forged = data.replace(b"\r\nSubject: ", b"\r\nSubject: Act now\r\nSubject: ", 1)
        assert forged != data and not dkimpy_verify(forged, records)


@pytest.mark.skipif(
    namespace_command() is None,
    reason="opendkim-testmsg needs private namespaces (unshare as root) for its DNS",
)
def test_a_confirmation_verifies_with_opendkim(signed_joining, project: Path) -> None:  # noqa: ANN001
    server, relay, records = signed_joining
    assert sign_up(server, project, "huw@example.org").status == 200
    [confirmation] = mails_to(relay, "huw@example.org", 1)
    zone = Zone(local=["example.org"])
    zone.add_txt(RECORD_NAME, records[RECORD_NAME])
    verified = opendkim_verify(confirmation, zone)
    assert verified.returncode == 0, verified.stderr
    forged = confirmation.replace(b"/confirm/", b"/confirm/x", 1)
    assert opendkim_verify(forged, zone).returncode != 0
