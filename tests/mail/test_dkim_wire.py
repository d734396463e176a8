"""Signed messages as they leave: the raw bytes a real SMTP server received, the
outbox files and the --test-to message verify with OpenDKIM's own verifier
(opendkim-testmsg) and with dkimpy; tampered copies fail both."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.dkim import RECORD_NAME, dkimpy_verify, printed_record, record_for_pem
from support.dnsmasq import Zone
from support.opendkim import namespace_command, opendkim_verify
from support.render import fill_in
from support.smtp import add_subscribers, configure_smtp

SLUG = "2026-12"
needs_namespaces = pytest.mark.skipif(
    namespace_command() is None,
    reason="opendkim-testmsg needs private namespaces (unshare as root) for its DNS",
)


def zone_for(pem: bytes) -> Zone:
    zone = Zone(local=["example.org"])
    zone.add_txt(RECORD_NAME, record_for_pem(pem))
    return zone


@pytest.fixture
def issue(cli, project, signing_project: Path, store) -> str:  # noqa: ANN001
    add_subscribers(store, 3)
    assert cli("issue", "new", SLUG, "--subject", "Newyddion – news").exit_code == 0
    fill_in(project, SLUG)
    return SLUG


@needs_namespaces
def test_messages_received_over_smtp_verify_with_opendkim(
    cli, issue: str, signing_project: Path, smtp_server, dkim_pem: bytes
) -> None:  # noqa: ANN001
    configure_smtp(signing_project, smtp_server)
    result = cli("send", issue, "--yes")
    assert result.exit_code == 0, result.output
    received = [message.data for message in smtp_server.handler.messages]
    assert len(received) == 3
    zone = zone_for(dkim_pem)
    for data in received:
        assert data.startswith(b"DKIM-Signature:")
        verified = opendkim_verify(data, zone)
        assert verified.returncode == 0, verified.stderr
        assert dkimpy_verify(data, {RECORD_NAME: record_for_pem(dkim_pem)})
    tampered = received[0].replace(
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click ",
        1,
    )
    tampered = tampered.replace(b"/u/", b"/v/", 1)
    assert opendkim_verify(tampered, zone).returncode != 0


@needs_namespaces
def test_outbox_files_and_the_test_message_verify_with_opendkim(
    cli, issue: str, signing_project: Path, smtp_server, dkim_pem: bytes
) -> None:  # noqa: ANN001
    assert cli("send", issue, "--yes").exit_code == 0
    files = sorted((signing_project / "outbox" / "new").iterdir())
    assert len(files) == 3
    zone = zone_for(dkim_pem)
    for path in files:
        verified = opendkim_verify(path.read_bytes(), zone)
        assert verified.returncode == 0, (path, verified.stderr)
    raw = files[0].read_bytes()  # the Maildir keeps LF line ends; verifiers restore CRLF
    head, body = raw.split(b"\n\n", 1)
    body_changed = head + b"\n\n" + body.replace(b"/u/", b"/v/", 1)
    assert body_changed != raw
    assert opendkim_verify(body_changed, zone).returncode != 0

    configure_smtp(signing_project, smtp_server)
    assert cli("send", issue, "--test-to", "me@example.net").exit_code == 0
    (test_message,) = [m.data for m in smtp_server.handler.messages]
    assert opendkim_verify(test_message, zone).returncode == 0


@needs_namespaces
def test_the_optional_ed25519_signature_verifies_with_opendkim(
    cli, issue: str, signing_project: Path, dkim_pem: bytes
) -> None:  # noqa: ANN001
    result = cli("dkim", "keygen", "--ed25519")
    assert result.exit_code == 0, result.output
    name, value = printed_record(result.output)
    assert name == "newsletter-ed25519._domainkey.example.org"
    assert (
        value.startswith("v=DKIM1; k=ed25519; p=")
        and len(value) == len("v=DKIM1; k=ed25519; p=") + 44
    )
    config = (signing_project / "newsletter.toml").read_text(encoding="utf-8")
    assert 'ed25519_key_file = "dkim/newsletter-ed25519.pem"' in config
    assert cli("send", issue, "--yes").exit_code == 0
    message = sorted((signing_project / "outbox" / "new").iterdir())[0].read_bytes()
    rsa_signature, ed_signature = message.split(b"DKIM-Signature:")[1:3]
    assert b"a=rsa-sha256" in rsa_signature and b"a=ed25519-sha256" in ed_signature
    zone = zone_for(dkim_pem)
    zone.add_txt(name, value)
    assert opendkim_verify(message, zone).returncode == 0
    ed_only = message.replace(b"DKIM-Signature:" + rsa_signature, b"", 1)
    assert ed_only.startswith(b"DKIM-Signature: v=1; a=ed25519-sha256")
    assert opendkim_verify(ed_only, zone).returncode == 0
    assert opendkim_verify(ed_only.replace(b"Subject: ", b"Subject: Re: ", 1), zone).returncode != 0
    assert dkimpy_verify(message, {RECORD_NAME: record_for_pem(dkim_pem)})  # the RSA one
