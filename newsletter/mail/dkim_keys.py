"""DKIM keys: make one, keep it private, read it back, and its DNS record (RFC 6376 3.6).

RSA is the key every receiver verifies; an Ed25519 key (RFC 8463) may be added
for a second signature under its own selector.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from newsletter.config import CONFIG_NAME, Config, DkimConfig
from newsletter.config.editing import update_section
from newsletter.errors import ConfigError, InputError
from newsletter.mail.dkim import DkimSigner

DEFAULT_SELECTOR = "newsletter"
DEFAULT_BITS = 2048
MIN_BITS = 1024  # receivers ignore shorter keys (RFC 8301)
TXT_STRING_MAX = 255  # one character-string in a TXT record
PrivateKey = rsa.RSAPrivateKey | Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | Ed25519PublicKey


def signer_for(config: Config) -> DkimSigner | None:
    """The project's signer, or None when [dkim] is not configured."""
    dkim = config.dkim
    if dkim is None:
        return None
    second = (dkim.ed25519_selector, load_ed25519_key(dkim)) if dkim.ed25519_selector else None
    return DkimSigner(dkim.domain, dkim.selector, load_private_key(dkim), ed25519=second)


def load_private_key(dkim: DkimConfig) -> rsa.RSAPrivateKey:
    """The RSA key from dkim.key_file or the variable dkim.key_env; errors name the key."""
    key, where = _load(dkim.key_file, dkim.key_env, "")
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{where} is not an RSA key (DKIM signing needs RSA-SHA256)")
    if key.key_size < MIN_BITS:
        raise ConfigError(
            f"{where} has {key.key_size} bits; receivers ignore DKIM keys under {MIN_BITS}",
            hint="make a 2048-bit key with `newsletter dkim keygen`",
        )
    return key


def load_ed25519_key(dkim: DkimConfig) -> Ed25519PrivateKey:
    key, where = _load(dkim.ed25519_key_file, dkim.ed25519_key_env, "ed25519_")
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(
            f"{where} is not an Ed25519 key", hint="run `newsletter dkim keygen --ed25519`"
        )
    return key


def _load(path: Path | None, env: str | None, prefix: str) -> tuple[object, str]:
    """(the key, where it came from, for messages)."""
    if env:
        where = f"the environment variable {env} (dkim.{prefix}key_env)"
        text = os.environ.get(env, "")
        if not text.strip():
            raise ConfigError(f"{where} is not set", hint=f"put the PEM key in {env}")
        pem = text.encode("utf-8")
    else:
        assert path is not None
        where = f"dkim.{prefix}key_file {path}"
        try:
            pem = path.read_bytes()
        except OSError as error:
            raise ConfigError(
                f"{CONFIG_NAME}: cannot read {where}: {error.strerror or error}",
                hint="make one with `newsletter dkim keygen`",
            ) from None
    try:
        return serialization.load_pem_private_key(pem, password=None), where
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigError(
            f"{where} is not an unencrypted PEM private key",
            hint="make one with `newsletter dkim keygen`",
        ) from None


@dataclass(frozen=True)
class KeyRecord:
    """A key file and the TXT record that publishes its public half."""

    path: Path | None  # None when the key comes from an environment variable
    selector: str
    domain: str
    record_name: str
    record_value: str
    configured: bool  # newsletter.toml already pointed at this file
    algorithm: str = "rsa"  # or "ed25519"

    @property
    def record_strings(self) -> list[str]:
        return split_txt(self.record_value)

    @property
    def zone_line(self) -> str:
        """The record as one zone-file line, its value in quoted <=255-char strings."""
        quoted = " ".join(f'"{part}"' for part in self.record_strings)
        return f"{self.record_name}. IN TXT ( {quoted} )"


def keygen(
    config: Config,
    selector: str | None = None,
    bits: int = DEFAULT_BITS,
    ed25519: bool = False,
    force: bool = False,
) -> KeyRecord:
    """Make a key (RSA, or the optional Ed25519 one), write it readable by its owner
    only, name it in newsletter.toml's [dkim], and return the TXT record to publish.

    A key file that exists is replaced only with `force`: its record is published,
    and mail signed after the swap fails DKIM until the new record is. A new
    selector is the safe way to change keys (both records can be live at once).
    """
    if not ed25519 and (not 1024 <= bits <= 8192 or bits % 256):
        raise InputError("--bits must be a multiple of 256 between 1024 and 8192 (2048 is usual)")
    dkim = config.dkim
    if ed25519 and dkim is None:
        raise InputError(
            "the Ed25519 key is a second signature beside the RSA one, which is not made yet",
            hint="run `newsletter dkim keygen` first",
        )
    domain = dkim.domain if dkim else config.sender_domain.encode("idna").decode("ascii")
    base = dkim.selector if dkim else DEFAULT_SELECTOR
    if ed25519:
        selector = selector or (dkim and dkim.ed25519_selector) or f"{base}-ed25519"
        configured = dkim is not None and dkim.ed25519_selector == selector
        configured_path = dkim.ed25519_key_file if dkim and configured else None
        key: PrivateKey = Ed25519PrivateKey.generate()
    else:
        selector = selector or base
        configured = dkim is not None and dkim.selector == selector
        configured_path = dkim.key_file if dkim and configured else None
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    path = configured_path or config.project_dir / "dkim" / f"{selector}.pem"
    existed = path.exists()
    write_private_key(path, key, replace=force)
    try:
        _name_key_in_config(config.project_dir, path, selector, domain, ed25519)
    except BaseException:
        if not existed:
            path.unlink(missing_ok=True)
        raise
    return KeyRecord(
        path=path,
        selector=selector,
        domain=domain,
        record_name=f"{selector}._domainkey.{domain}",
        record_value=record_value(key.public_key()),
        configured=configured,
        algorithm="ed25519" if ed25519 else "rsa",
    )


def _name_key_in_config(
    project_dir: Path, path: Path, selector: str, domain: str, ed25519: bool
) -> None:
    """[dkim] names the new key (a key from key_env gives way to the file)."""
    try:
        relative = path.resolve().relative_to(project_dir.resolve()).as_posix()
    except ValueError:  # a key_file outside the project stays where it is
        relative = str(path)
    if ed25519:
        values = {"ed25519_selector": selector, "ed25519_key_file": relative}
        drop = ["ed25519_key_env"]
    else:
        values = {"selector": selector, "domain": domain, "key_file": relative}
        drop = ["key_env"]
    update_section(project_dir, "dkim", values, drop)


def configured_records(config: Config) -> list[KeyRecord]:
    """The TXT records for the keys [dkim] names (to publish them again, or check them)."""
    dkim = config.dkim
    if dkim is None:
        raise ConfigError(
            f"{CONFIG_NAME} has no [dkim] section", hint="run `newsletter dkim keygen` first"
        )
    records = [
        KeyRecord(
            dkim.key_file, dkim.selector, dkim.domain, dkim.record_name,
            record_value(load_private_key(dkim).public_key()), configured=True,
        )
    ]  # fmt: skip
    if dkim.ed25519_selector and dkim.ed25519_record_name:
        public = load_ed25519_key(dkim).public_key()
        records.append(
            KeyRecord(
                dkim.ed25519_key_file, dkim.ed25519_selector, dkim.domain,
                dkim.ed25519_record_name, record_value(public), True, "ed25519",
            )
        )  # fmt: skip
    return records


def write_private_key(path: Path, key: PrivateKey, replace: bool = False) -> None:
    """PEM, created with mode 0600 (on Windows the mode only marks it writable: the
    folder's permissions protect it). An existing file is replaced only when asked,
    and then whole (a new file renamed over it)."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    target = path.with_name(f".{path.name}.new") if replace else path
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if replace:
            target.unlink(missing_ok=True)
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o600)
    except FileExistsError:
        raise InputError(
            f"{path} already exists; nothing was changed",
            hint="to change keys, make one under a new selector (`--selector NAME`); "
            "`--force` replaces this one (mail then fails DKIM until its new record is published)",
        ) from None
    except OSError as error:
        raise InputError(f"cannot write {path}: {error.strerror or error}") from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
        if replace:
            os.replace(target, path)
    except OSError as error:
        target.unlink(missing_ok=True)
        raise InputError(f"cannot write {path}: {error.strerror or error}") from None


_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation


def record_value(public_key: PublicKey) -> str:
    """`v=DKIM1; k=rsa; p=<SubjectPublicKeyInfo>`, or k=ed25519 with the raw 32 bytes."""
    return f"v=DKIM1; k={key_kind(public_key)}; p={base64.b64encode(public_bytes(public_key)).decode()}"


def key_kind(key: PublicKey | PrivateKey) -> str:
    return "ed25519" if isinstance(key, Ed25519PublicKey | Ed25519PrivateKey) else "rsa"


def public_bytes(public_key: PublicKey) -> bytes:
    """What a DKIM record's p= holds for this key (RFC 6376 3.6.1, RFC 8463 4.2)."""
    if isinstance(public_key, Ed25519PublicKey):
        return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


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


def published_key(record: str, kind: str) -> bytes | None:
    """The key bytes in a DKIM TXT record of this kind; None when revoked (empty p=).
    Raises InputError when the record is not a usable key record of that kind."""
    tags = parse_tags(record)
    if tags.get("v", "DKIM1") != "DKIM1" or "p" not in tags:
        raise InputError("the record is not a DKIM key record (no v=DKIM1 with p=)")
    if tags.get("k", "rsa") != kind:
        raise InputError(f"the record holds a {tags.get('k', 'rsa')} key, not {kind}")
    if not tags["p"]:
        return None
    try:
        return base64.b64decode(tags["p"], validate=True)
    except binascii.Error:
        raise InputError("the record's p= is not valid base64") from None
