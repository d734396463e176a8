"""The DKIM check: the configured private key against the public key in DNS."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.serialization import load_der_public_key

from newsletter.config import Config
from newsletter.doctor.dns import Dns, DnsFailure
from newsletter.doctor.findings import Finding, ok, problem, warning
from newsletter.errors import NewsletterError
from newsletter.mail.dkim_keys import load_private_key, published_public_key

TOPIC = "DKIM"


def check_dkim(config: Config, dns: Dns) -> list[Finding]:
    dkim = config.dkim
    if dkim is None:
        return [
            warning(
                TOPIC,
                "newsletter does not sign its messages ([dkim] is not configured)",
                "run `newsletter dkim keygen` and add [dkim], or make sure your relay signs"
                f" with d={config.sender_domain} over List-Unsubscribe and List-Unsubscribe-Post",
            )
        ]
    try:
        key = load_private_key(dkim)
    except NewsletterError as error:
        return [problem(TOPIC, error.message, error.hint or "fix the [dkim] section")]
    findings = _key_file_mode(dkim.key_file)
    try:
        records = [text for text in dns.txt(dkim.record_name) if "p=" in text]
    except DnsFailure as error:
        return [*findings, warning(TOPIC, f"could not look up {error}", "try again later")]
    publish = f"publish the TXT record `newsletter dkim record` prints at {dkim.record_name}"
    if not records:
        return [*findings, problem(TOPIC, f"no DKIM key published at {dkim.record_name}", publish)]
    if len(records) > 1:
        return [*findings, problem(TOPIC, f"{dkim.record_name} has several key records", publish)]
    try:
        der = published_public_key(records[0])
    except NewsletterError as error:
        return [*findings, problem(TOPIC, f"{dkim.record_name}: {error.message}", publish)]
    if der is None:
        return [*findings, problem(TOPIC, f"the key at {dkim.record_name} is revoked", publish)]
    if not _same_key(der, key):
        return [
            *findings,
            problem(
                TOPIC,
                f"the key published at {dkim.record_name} is not the key newsletter signs with",
                publish + " (a changed record may take a few hours to be seen)",
            ),
        ]
    return [
        *findings,
        ok(TOPIC, f"{dkim.record_name} publishes the signing key ({key.key_size} bits)"),
    ]


def _same_key(der: bytes, key) -> bool:  # noqa: ANN001 - an RSA private key
    try:
        published = load_der_public_key(der)
    except ValueError:
        return False
    return published.public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]


def _key_file_mode(path) -> list[Finding]:  # noqa: ANN001 - Path | None
    if path is None or os.name != "posix" or not path.stat().st_mode & 0o077:
        return []
    return [
        warning(TOPIC, f"{path} can be read by other users", f"run `chmod 600 {path}`"),
    ]
