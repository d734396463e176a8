"""DKIM keys: make one, keep it private, read it back, and its DNS record (RFC 6376 3.6)."""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from newsletter.config import CONFIG_NAME, Config, DkimConfig
from newsletter.errors import ConfigError, InputError
from newsletter.mail.dkim import DkimSigner

DEFAULT_SELECTOR = "newsletter"
DEFAULT_BITS = 2048
MIN_BITS = 1024  # receivers ignore shorter keys (RFC 8301)
TXT_STRING_MAX = 255  # one character-string in a TXT record


def signer_for(config: Config) -> DkimSigner | None:
    """The project's signer, or None when [dkim] is not configured."""
    if config.dkim is None:
        return None
    return DkimSigner(config.dkim.domain, config.dkim.selector, load_private_key(config.dkim))


def load_private_key(dkim: DkimConfig) -> rsa.RSAPrivateKey:
    """The RSA key from dkim.key_file or the variable dkim.key_env; errors name the key."""
    if dkim.key_env:
        where = f"the environment variable {dkim.key_env} (dkim.key_env)"
        text = os.environ.get(dkim.key_env, "")
        if not text.strip():
            raise ConfigError(f"{where} is not set", hint=f"put the PEM key in {dkim.key_env}")
        pem = text.encode("utf-8")
    else:
        assert dkim.key_file is not None
        where = f"dkim.key_file {dkim.key_file}"
        try:
            pem = dkim.key_file.read_bytes()
        except OSError as error:
            raise ConfigError(
                f"{CONFIG_NAME}: cannot read {where}: {error.strerror or error}",
                hint="make one with `newsletter dkim keygen`",
            ) from None
    return _parse_key(pem, where)


def _parse_key(pem: bytes, where: str) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigError(
            f"{where} is not an unencrypted PEM private key",
            hint="make one with `newsletter dkim keygen`",
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{where} is not an RSA key (DKIM signing needs RSA-SHA256)")
    if key.key_size < MIN_BITS:
        raise ConfigError(
            f"{where} has {key.key_size} bits; receivers ignore DKIM keys under {MIN_BITS}",
            hint="make a 2048-bit key with `newsletter dkim keygen`",
        )
    return key


@dataclass(frozen=True)
class KeyRecord:
    """A key file and the TXT record that publishes its public half."""

    path: Path | None  # None when the key comes from dkim.key_env
    selector: str
    domain: str
    record_name: str
    record_value: str
    configured: bool  # newsletter.toml already points at this file

    @property
    def record_strings(self) -> list[str]:
        return split_txt(self.record_value)

    @property
    def zone_line(self) -> str:
        """The record as one zone-file line, its value in quoted <=255-char strings."""
        quoted = " ".join(f'"{part}"' for part in self.record_strings)
        return f"{self.record_name}. IN TXT ( {quoted} )"


def keygen(config: Config, selector: str | None = None, bits: int = DEFAULT_BITS) -> KeyRecord:
    """Make an RSA key, write it readable by its owner only (never over an existing
    file), and return the TXT record to publish."""
    if not 1024 <= bits <= 8192 or bits % 256:
        raise InputError("--bits must be a multiple of 256 between 1024 and 8192 (2048 is usual)")
    dkim = config.dkim
    selector = selector or (dkim.selector if dkim else DEFAULT_SELECTOR)
    domain = dkim.domain if dkim else config.sender_domain.encode("idna").decode("ascii")
    configured = bool(dkim and dkim.key_file and dkim.selector == selector)
    path = dkim.key_file if configured else config.project_dir / "dkim" / f"{selector}.pem"  # type: ignore[union-attr]
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    write_private_key(path, key)  # type: ignore[arg-type]
    return KeyRecord(
        path=path,  # type: ignore[arg-type]
        selector=selector,
        domain=domain,
        record_name=f"{selector}._domainkey.{domain}",
        record_value=record_value(key.public_key()),
        configured=configured,
    )


def configured_record(config: Config) -> KeyRecord:
    """The TXT record for the key [dkim] names (to publish it again, or check it)."""
    if config.dkim is None:
        raise ConfigError(
            f"{CONFIG_NAME} has no [dkim] section",
            hint="run `newsletter dkim keygen` first",
        )
    key = load_private_key(config.dkim)
    return KeyRecord(
        path=config.dkim.key_file,  # type: ignore[arg-type]
        selector=config.dkim.selector,
        domain=config.dkim.domain,
        record_name=config.dkim.record_name,
        record_value=record_value(key.public_key()),
        configured=True,
    )


def write_private_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    """PEM, created with mode 0600 (on Windows the mode only marks it writable: the
    folder's permissions protect it). An existing file is never replaced."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o600)
    except FileExistsError:
        raise InputError(
            f"{path} already exists; nothing was changed",
            hint="remove it first if you really mean to replace the key (and its DNS record)",
        ) from None
    except OSError as error:
        raise InputError(f"cannot write {path}: {error.strerror or error}") from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
    except OSError as error:
        path.unlink(missing_ok=True)
        raise InputError(f"cannot write {path}: {error.strerror or error}") from None


_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation


def record_value(public_key: rsa.RSAPublicKey) -> str:
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode('ascii')}"


def split_txt(value: str) -> list[str]:
    return [value[i : i + TXT_STRING_MAX] for i in range(0, len(value), TXT_STRING_MAX)]


def parse_tags(text: str) -> dict[str, str]:
    """A tag=value list (RFC 6376 3.2), whitespace around tags and values dropped."""
    tags = {}
    for item in text.split(";"):
        name, equals, value = item.partition("=")
        if equals:
            tags[name.strip()] = "".join(value.split())
    return tags


def published_public_key(record: str) -> bytes | None:
    """The DER public key in a DKIM TXT record; None when revoked (empty p=).
    Raises InputError when the record is not a usable RSA key record."""
    tags = parse_tags(record)
    if tags.get("v", "DKIM1") != "DKIM1" or "p" not in tags:
        raise InputError("the record is not a DKIM key record (no v=DKIM1 with p=)")
    if tags.get("k", "rsa") != "rsa":
        raise InputError(f"the record holds a {tags['k']} key, not RSA")
    if not tags["p"]:
        return None
    try:
        return base64.b64decode(tags["p"], validate=True)
    except binascii.Error:
        raise InputError("the record's p= is not valid base64") from None


def public_der(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
