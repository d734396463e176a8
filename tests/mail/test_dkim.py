"""DKIM signing: every message the tool makes verifies with dkimpy (the reference,
fed the TXT record `dkim keygen` printed), equals dkimpy's own signature, and any
change to a signed header or the body breaks it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import dkim
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsletter.config import load_config
from newsletter.mail.dkim import H_HEADERS, DkimSigner, relaxed_body
from newsletter.mail.dkim_keys import signer_for

from support.dkim import (
    RECORD_NAME,
    b_tag,
    dkimpy_verify,
    enable_signing,
    printed_record,
    record_for_pem,
    signed_header_names,
)
from support.render import fill_in

SLUG = "2026-12"


def preview_eml(cli, project: Path) -> bytes:  # noqa: ANN001
    assert cli("issue", "new", SLUG, "--subject", "Newyddion Rhagfyr – December").exit_code == 0
    fill_in(project, SLUG)
    result = cli("issue", "preview", SLUG, "--to", "sian.reader@bücher.example")
    assert result.exit_code == 0, result.output
    return (project / "build" / SLUG / "message.eml").read_bytes()


def test_keygen_key_signs_previews_that_verify_against_the_printed_record(
    cli, project: Path
) -> None:
    result = cli("dkim", "keygen")
    assert result.exit_code == 0, result.output
    name, value = printed_record(result.output)
    assert name == RECORD_NAME and value.startswith("v=DKIM1; k=rsa; p=")
    key_file = project / "dkim" / "newsletter.pem"
    if os.name == "posix":
        assert key_file.stat().st_mode & 0o777 == 0o600
    config = (project / "newsletter.toml").read_text(encoding="utf-8")
    assert (
        '[dkim]\nselector = "newsletter"' in config and 'key_file = "dkim/newsletter.pem"' in config
    )
    assert (
        "# Where bounces, complaints and mailto unsubscribes come back" in config
    )  # comments kept
    message = preview_eml(cli, project)
    assert message.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;")
    assert dkimpy_verify(message, {name: value})
    assert not dkimpy_verify(message, {name: record_for_pem(_other_pem())})


def _other_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_keygen_never_overwrites_a_key(cli, project: Path) -> None:
    assert cli("dkim", "keygen", "--selector", "nov2026").exit_code == 0
    key_file = project / "dkim" / "nov2026.pem"
    before = key_file.read_bytes()
    config = (project / "newsletter.toml").read_bytes()
    again = cli("dkim", "keygen", "--selector", "nov2026")
    assert again.exit_code == 1
    assert "already exists; nothing was changed" in again.output
    assert key_file.read_bytes() == before
    assert (project / "newsletter.toml").read_bytes() == config


def test_keygen_force_replaces_the_key_and_its_record(cli, project: Path) -> None:
    first = cli("dkim", "keygen")
    forced = cli("dkim", "keygen", "--force")
    assert forced.exit_code == 0, forced.output
    assert printed_record(forced.output) != printed_record(first.output)
    assert printed_record(cli("dkim", "record").output) == printed_record(forced.output)
    if os.name == "posix":
        assert (project / "dkim" / "newsletter.pem").stat().st_mode & 0o777 == 0o600
    config = (project / "newsletter.toml").read_text(encoding="utf-8")
    assert re.findall(r"^\[dkim\]$", config, re.M) == ["[dkim]"]


def test_keygen_under_a_new_selector_moves_the_config_to_it(cli, project: Path) -> None:
    assert cli("dkim", "keygen").exit_code == 0
    rotated = cli("dkim", "keygen", "--selector", "jan2027")
    assert rotated.exit_code == 0, rotated.output
    assert printed_record(rotated.output)[0] == "jan2027._domainkey.example.org"
    assert printed_record(cli("dkim", "record").output) == printed_record(rotated.output)
    assert (project / "dkim" / "newsletter.pem").exists()  # the old key stays until retired


def test_the_ed25519_key_needs_the_rsa_key_first(cli, project: Path) -> None:
    result = cli("dkim", "keygen", "--ed25519")
    assert result.exit_code == 1
    assert "run `newsletter dkim keygen` first" in result.output
    assert not (project / "dkim").exists()


def test_dkim_record_prints_the_configured_keys_record(
    cli, signing_project: Path, dkim_pem: bytes
) -> None:
    result = cli("dkim", "record")
    assert result.exit_code == 0, result.output
    assert printed_record(result.output) == (RECORD_NAME, record_for_pem(dkim_pem))


def test_every_signed_header_and_the_body_are_covered(
    cli, signing_project: Path, dkim_pem: bytes
) -> None:
    message = preview_eml(cli, signing_project)
    records = {RECORD_NAME: record_for_pem(dkim_pem)}
    assert dkimpy_verify(message, records)
    names = signed_header_names(message)
    assert names == list(H_HEADERS)
    for name in ("from", "to", "subject", "date", "list-id", "list-unsubscribe",
                 "list-unsubscribe-post"):  # fmt: skip
        assert names.count(name) == 2, name  # oversigned: a second one cannot be added
    assert {"content-language", "list-archive", "auto-submitted"} <= set(names)
    for header in (b"From", b"To", b"Subject", b"Date", b"Message-ID", b"List-Id",
                   b"List-Unsubscribe", b"List-Unsubscribe-Post", b"MIME-Version", b"Content-Type",
                   b"Content-Language"):  # fmt: skip
        tampered = re.sub(rb"\r\n" + header + rb": ", b"\r\n" + header + b": X", message, count=1)
        assert tampered != message, header
        assert not dkimpy_verify(tampered, records), header
    added = message.replace(b"\r\nFrom: ", b"\r\nReply-To: x@evil.example\r\nFrom: ", 1)
    assert not dkimpy_verify(added, records)
    second_from = message.replace(b"\r\nTo: ", b"\r\nFrom: x@evil.example\r\nTo: ", 1)
    assert not dkimpy_verify(second_from, records)
    for added_header in (b"Subject: Urgent: verify your account", b"To: eve@evil.example",
                         b"Date: Mon, 1 Jan 2035 00:00:00 +0000",
                         b"List-Unsubscribe: <https://evil.example/u>"):  # fmt: skip
        # a second one above the original (where most readers show it from) fails
        doubled = message.replace(b"\r\nFrom: ", b"\r\n" + added_header + b"\r\nFrom: ", 1)
        assert doubled != message and not dkimpy_verify(doubled, records), added_header
    body_start = message.index(b"\r\n\r\n") + 4
    body_changed = message[:body_start] + message[body_start:].replace(
        b"unsubscribe", b"unsubscrib3", 1
    )
    assert not dkimpy_verify(body_changed, records)


def test_refolding_headers_and_trailing_blank_lines_keep_the_signature(
    cli, signing_project: Path, dkim_pem: bytes
) -> None:
    """relaxed/relaxed: what relays do to whitespace must not break it."""
    message = preview_eml(cli, signing_project)
    refolded = message.replace(b"\r\nSubject: ", b"\r\nSubject:  \r\n\t", 1) + b"\r\n\r\n"
    assert dkimpy_verify(refolded, {RECORD_NAME: record_for_pem(dkim_pem)})


_HEADER_TEXT = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126, blacklist_characters="\r\n"),
    min_size=0,
    max_size=60,
)
_BODY_LINE = st.text(alphabet=st.sampled_from("ab c\t =.-"), max_size=40)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    subject=_HEADER_TEXT,
    name=_HEADER_TEXT,
    extra_space=st.sampled_from(["", " ", "  ", "\t"]),
    reply_to=st.booleans(),
    body_lines=st.lists(_BODY_LINE, max_size=12),
    trailing=st.sampled_from(["", "\r\n", "\r\n\r\n"]),
    second_from=st.booleans(),
)
def test_fast_signature_verifies_and_equals_dkimpys(
    dkim_key, dkim_pem: bytes, subject: str, name: str, extra_space: str, reply_to: bool,
    body_lines: list[str], trailing: str, second_from: bool,
) -> None:  # fmt: skip
    headers = [
        f"From: {name or 'N'} <newsletter@example.org>",
        f"To:{extra_space} reader@example.net",
        f"Subject: {subject}{extra_space}",
        "Date: Mon, 23 Nov 2026 10:00:00 +0000",
        "Message-ID: <abc@example.org>",
        *(["Reply-To: hello@example.org"] if reply_to else []),
        *(["From: another@example.org"] if second_from else []),
        "List-Unsubscribe: <https://news.example.org/u/TOKEN>,\r\n <mailto:u@example.org>",
        "X-Unsigned: anything",
        "MIME-Version: 1.0",
        'Content-Type: text/plain; charset="utf-8"',
    ]
    message = ("\r\n".join(headers) + "\r\n\r\n" + "\r\n".join(body_lines) + trailing).encode()
    reference = dkim.sign(
        message, b"newsletter", b"example.org", dkim_pem,
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=[h.encode() for h in H_HEADERS],
    )  # fmt: skip
    timestamp = int(re.search(rb"t=(\d+)", reference).group(1))  # type: ignore[union-attr]
    signer = DkimSigner("example.org", "newsletter", dkim_key, clock=lambda: timestamp)
    fast = signer.signature(message)
    assert b_tag(fast) == b_tag(reference)
    assert re.search(rb"bh=([^;]*)", fast).group(1) == re.search(rb"bh=([^;]*)", reference).group(1)  # type: ignore[union-attr]
    assert dkimpy_verify(fast + message, {RECORD_NAME: record_for_pem(dkim_pem)})
    assert all(len(line) <= 78 for line in fast.split(b"\r\n"))


@given(
    st.lists(st.text(alphabet=st.sampled_from("x \t"), max_size=8), max_size=6),
    st.sampled_from(["", "\r\n", "\r\n\r\n"]),
)
def test_relaxed_body_matches_dkimpys(lines: list[str], end: str) -> None:
    from dkim.canonicalization import Relaxed

    body = ("\r\n".join(lines) + end).encode()
    assert relaxed_body(body) == Relaxed.canonicalize_body(body)


def test_no_dkim_section_means_no_signature(cli, project: Path) -> None:
    assert not preview_eml(cli, project).startswith(b"DKIM-Signature")
    assert signer_for(load_config(project)) is None


def test_the_key_can_come_from_the_environment(
    cli, project: Path, dkim_pem: bytes, monkeypatch
) -> None:  # noqa: ANN001
    with (project / "newsletter.toml").open("a", encoding="utf-8") as config:
        config.write('\n[dkim]\nkey_env = "NEWSLETTER_DKIM_KEY"\n')
    monkeypatch.setenv("NEWSLETTER_DKIM_KEY", dkim_pem.decode())
    message = preview_eml(cli, project)
    assert dkimpy_verify(message, {RECORD_NAME: record_for_pem(dkim_pem)})


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ('selector = "newsletter"', "needs exactly one of 'dkim.key_file' and 'dkim.key_env'"),
        ('key_file = "a.pem"\nkey_env = "X"', "needs exactly one of"),
        ('selector = "bad selector"\nkey_file = "a.pem"', "'dkim.selector' must be a DNS name"),
        ('domain = "exa mple.org"\nkey_file = "a.pem"', "'dkim.domain' must be a DNS name"),
        ('key_file = "dkim/missing.pem"', "cannot read dkim.key_file"),
        ('key_env = "NO_SUCH_VARIABLE_SET"', "NO_SUCH_VARIABLE_SET (dkim.key_env) is not set"),
        ('keyfile = "a.pem"', "unknown key 'dkim.keyfile'"),
        (
            'key_file = "a.pem"\ned25519_key_env = "NO_ED_KEY_SET"',
            "NO_ED_KEY_SET (dkim.ed25519_key_env) is not set",
        ),
        (
            'key_file = "a.pem"\ned25519_key_file = "a.pem"\ned25519_key_env = "X"',
            "exactly one of 'dkim.ed25519_key_file'",
        ),
    ],
)
def test_bad_dkim_config_is_one_line_naming_the_key(
    cli, project: Path, section: str, expected: str
) -> None:
    with (project / "newsletter.toml").open("a", encoding="utf-8") as config:
        config.write(f"\n[dkim]\n{section}\n")
    assert cli("issue", "new", SLUG).exit_code in (0, 1)
    result = cli("issue", "preview", SLUG)
    assert result.exit_code == 1
    assert expected in result.output
    assert "Traceback" not in result.output


def test_a_key_that_is_not_a_pem_key_is_refused(cli, project: Path) -> None:
    enable_signing(project, b"not a key")
    assert cli("issue", "new", SLUG).exit_code == 0
    result = cli("issue", "preview", SLUG)
    assert result.exit_code == 1
    assert "is not an unencrypted PEM private key" in result.output
