"""Helpers for DKIM tests: turn signing on in a project, verify with dkimpy."""

from __future__ import annotations

import re
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import serialization

from newsletter.mail.dkim_keys import record_value

SELECTOR, DOMAIN = "newsletter", "example.org"
RECORD_NAME = f"{SELECTOR}._domainkey.{DOMAIN}"


def enable_signing(
    project: Path, pem: bytes, selector: str = SELECTOR, domain: str | None = None
) -> Path:
    """Write the key to dkim/SELECTOR.pem and add a [dkim] section naming it."""
    path = project / "dkim" / f"{selector}.pem"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(pem)
    path.chmod(0o600)  # as keygen makes it; the doctor warns otherwise
    lines = ["", "[dkim]", f'selector = "{selector}"', 'key_file = "dkim/' + f'{selector}.pem"']
    if domain:
        lines.append(f'domain = "{domain}"')
    with (project / "newsletter.toml").open("a", encoding="utf-8") as config:
        config.write("\n".join(lines) + "\n")
    return path


def record_for_pem(pem: bytes) -> str:
    key = serialization.load_pem_private_key(pem, password=None)
    return record_value(key.public_key())  # type: ignore[arg-type]


def dkimpy_verify(message: bytes, records: dict[str, str]) -> bool:
    """dkim.verify with keys served from `records` (name -> TXT value) via dnsfunc."""

    def dnsfunc(name: bytes | str, timeout: int = 5) -> bytes:  # noqa: ARG001
        key = name.decode() if isinstance(name, bytes) else name
        return records.get(key.rstrip("."), "").encode("ascii")

    return dkim.verify(message, dnsfunc=dnsfunc)


def printed_record(output: str) -> tuple[str, str]:
    """(name, value) of the TXT record `dkim keygen` / `dkim record` printed."""
    name = re.search(r"publish this TXT record at (\S+):", output).group(1)  # type: ignore[union-attr]
    line = output.split(f"{name}:", 1)[1].strip().splitlines()[0]
    strings = re.findall(r'"([^"]*)"', line)
    assert strings and all(len(part) <= 255 for part in strings), line
    return name, "".join(strings)


def b_tag(header: bytes) -> bytes:
    """The b= value of a DKIM-Signature header, whitespace removed."""
    value = re.search(rb"[;\s]b=([^;]*)", header, re.S).group(1)  # type: ignore[union-attr]
    return re.sub(rb"\s", b"", value)


def signed_header_names(message: bytes) -> list[str]:
    """The h= tag of the first DKIM-Signature, as a list of lower-case names."""
    signature = message[: message.index(b"\r\nFrom:")]
    h_tag = re.search(rb"h=([^;]*);", signature).group(1)  # type: ignore[union-attr]
    return [name.strip().decode().lower() for name in h_tag.replace(b"\r\n", b"").split(b":")]
