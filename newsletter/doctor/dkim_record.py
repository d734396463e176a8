"""The DKIM check: each configured private key against the public key in DNS."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from newsletter.config import Config, DkimConfig
from newsletter.doctor.dns import Dns, DnsFailure
from newsletter.doctor.findings import Finding, ok, problem, warning
from newsletter.errors import NewsletterError
from newsletter.mail.dkim_keys import (
    PrivateKey,
    key_kind,
    load_ed25519_key,
    load_private_key,
    public_bytes,
    published_key,
)

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
    findings = []
    for name, load, path in _keys(dkim):
        try:
            key = load(dkim)
        except NewsletterError as error:
            findings.append(problem(TOPIC, error.message, error.hint or "fix the [dkim] section"))
            continue
        findings += _key_file_mode(path)
        findings.append(_check_record(dns, name, key))
    return findings


def _keys(dkim: DkimConfig) -> list[tuple[str, Callable[[DkimConfig], PrivateKey], Path | None]]:
    keys: list[tuple[str, Callable[[DkimConfig], PrivateKey], Path | None]] = [
        (dkim.record_name, load_private_key, dkim.key_file)
    ]
    if dkim.ed25519_record_name:
        keys.append((dkim.ed25519_record_name, load_ed25519_key, dkim.ed25519_key_file))
    return keys


def _check_record(dns: Dns, name: str, key: PrivateKey) -> Finding:
    kind = key_kind(key)
    try:
        records = [text for text in dns.txt(name) if "p=" in text]
    except DnsFailure as error:
        return warning(TOPIC, f"could not look up {error}", "try again later")
    publish = f"publish the TXT record `newsletter dkim record` prints at {name}"
    if len(records) != 1:
        what = "no DKIM key is" if not records else "several key records are"
        return problem(TOPIC, f"{what} published at {name}", publish)
    try:
        published = published_key(records[0], kind)
    except NewsletterError as error:
        return problem(TOPIC, f"{name}: {error.message}", publish)
    if published is None:
        return problem(TOPIC, f"the key at {name} is revoked (empty p=)", publish)
    if published != public_bytes(key.public_key()):
        return problem(
            TOPIC,
            f"the key published at {name} is not the key newsletter signs with",
            publish + " (a changed record may take a few hours to be seen)",
        )
    size = f"{key.key_size} bits" if isinstance(key, rsa.RSAPrivateKey) else "Ed25519"
    return ok(TOPIC, f"{name} publishes the signing key ({size})")


def _key_file_mode(path: Path | None) -> list[Finding]:
    if path is None or os.name != "posix" or not path.stat().st_mode & 0o077:
        return []
    return [warning(TOPIC, f"{path} can be read by other users", f"run `chmod 600 {path}`")]
