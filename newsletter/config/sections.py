"""The optional sections of newsletter.toml: [smtp], [sending], [subscribe], [bounces],
[serve], [dkim]."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from newsletter.config.durations import parse_give_up_after, parse_quotas
from newsletter.config.model import (
    CONFIG_NAME,
    DEFAULT_PORTS,
    SECURITY_MODES,
    BouncesConfig,
    DkimConfig,
    ImapConfig,
    SendingConfig,
    ServeConfig,
    SmtpConfig,
    SubscribeConfig,
)
from newsletter.errors import ConfigError, InputError
from newsletter.subscribers.addresses import normalise_address


def _check_security(section: str, security: str, host: str) -> str:
    if security not in SECURITY_MODES:
        raise ConfigError(
            f"{CONFIG_NAME}: '{section}.security' must be one of {', '.join(SECURITY_MODES)}"
        )
    if security == "none" and not is_loopback(host):
        raise ConfigError(
            f"{CONFIG_NAME}: '{section}.security = \"none\"' is only allowed for a loopback host",
            hint="use starttls or ssl for a remote server",
        )
    return security


def parse_smtp(smtp: dict[str, Any]) -> SmtpConfig:
    security = _check_security("smtp", smtp.get("security", "starttls"), smtp["host"])
    port = smtp.get("port", DEFAULT_PORTS[security])
    _check_range("smtp.port", port, 1, 65535)
    _check_range("smtp.connections", smtp.get("connections", 2), 1, 64)
    _check_range("smtp.rate", smtp.get("rate", 10), 0, 100_000)
    _check_range("smtp.timeout", smtp.get("timeout", 30), 1, 3600)
    _check_range("smtp.data_timeout", smtp.get("data_timeout", 600), 1, 3600)
    _check_range("smtp.messages_per_connection", smtp.get("messages_per_connection", 100), 0, 10**9)
    if smtp.get("username") and not smtp.get("password_env"):
        raise ConfigError(f"{CONFIG_NAME}: 'smtp.password_env' is needed with 'smtp.username'")
    return SmtpConfig(
        host=smtp["host"].strip(),
        port=port,
        security=security,
        username=smtp.get("username"),
        password_env=smtp.get("password_env"),
        connections=smtp.get("connections", 2),
        rate=float(smtp.get("rate", 10)),
        timeout=float(smtp.get("timeout", 30)),
        data_timeout=float(smtp.get("data_timeout", 600)),
        messages_per_connection=smtp.get("messages_per_connection", 100),
        pipelining=smtp.get("pipelining", True),
        quota=parse_quotas(smtp.get("quota", [])),
    )


def parse_sending(sending: dict[str, Any]) -> SendingConfig:
    sending = dict(sending)
    if "give_up_after" in sending:
        sending["give_up_after"] = parse_give_up_after(sending["give_up_after"])
    for key, value in sending.items():
        if key != "give_up_after":
            _check_range(f"sending.{key}", value, 1, 1000)
    if "policy_stop_after" in sending:
        sending.setdefault("stop_after", sending.pop("policy_stop_after"))
    return SendingConfig(**sending)


_SUBSCRIBE_RANGES = {
    "confirm_hours": (1, 24 * 30),
    "min_fill_seconds": (0, 3600),
    "per_address_per_day": (1, 100),
    "per_client_per_hour": (1, 100_000),
}


def parse_subscribe(subscribe: dict[str, Any]) -> SubscribeConfig:
    for key, (low, high) in _SUBSCRIBE_RANGES.items():
        if key in subscribe:
            _check_range(f"subscribe.{key}", subscribe[key], low, high)
    origins = tuple(_allowed_origin(item) for item in subscribe.get("allowed_origins", []))
    return SubscribeConfig(**{**subscribe, "allowed_origins": origins})


def _allowed_origin(value: object) -> str:
    parts = urlsplit(value.strip()) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{CONFIG_NAME}: 'subscribe.allowed_origins' must list web sites, got {value!r}",
            hint='e.g. allowed_origins = ["https://www.example.org"]',
        )
    return origin_of(str(value))


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL, lower-cased, default port left out: what a
    browser sends as Origin, for comparing."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if ":" in host:
        host = f"[{host}]"
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def parse_serve(serve: dict[str, Any]) -> ServeConfig:
    proxy = serve.get("trusted_proxy", ServeConfig.trusted_proxy).strip()
    if proxy:
        try:
            ipaddress.ip_address(proxy)
        except ValueError:
            raise ConfigError(
                f"{CONFIG_NAME}: 'serve.trusted_proxy' must be an IP address, got {proxy!r}",
                hint='the address your reverse proxy connects from, e.g. "127.0.0.1" or "::1";'
                ' "" to trust none',
            ) from None
    return ServeConfig(trusted_proxy=proxy)


def parse_bounces(bounces: dict[str, Any], check: AddressCheck) -> BouncesConfig:
    address = bounces.get("address")
    if address is not None:
        address = check("bounces.address", address)
        if bounces.get("verp") and "+" in address.partition("@")[0]:
            raise ConfigError(f"{CONFIG_NAME}: 'bounces.address' must not contain '+' with verp")
    _check_range("bounces.soft_limit", bounces.get("soft_limit", 3), 1, 100)
    imap = bounces.get("imap")
    return BouncesConfig(
        address=address,
        verp=bounces.get("verp", False),
        soft_limit=bounces.get("soft_limit", 3),
        maildir=Path(bounces.get("maildir", "returns")),
        done_folder=bounces.get("done_folder", "newsletter-done"),
        imap=_parse_imap(imap, bounces) if imap is not None else None,
    )


def _parse_imap(imap: dict[str, Any], bounces: dict[str, Any]) -> ImapConfig:
    for key in ("host", "username", "password_env"):
        if not str(imap.get(key, "")).strip():
            raise ConfigError(f"{CONFIG_NAME}: missing key 'bounces.imap.{key}'")
    security = _check_security("bounces.imap", imap.get("security", "ssl"), imap["host"])
    port = imap.get("port", 993 if security == "ssl" else 143)
    _check_range("bounces.imap.port", port, 1, 65535)
    return ImapConfig(
        host=imap["host"].strip(),
        username=imap["username"],
        password_env=imap["password_env"],
        port=port,
        security=security,
        folder=imap.get("folder", "INBOX"),
        done_folder=imap.get("done_folder", bounces.get("done_folder", "newsletter-done")),
        timeout=float(imap.get("timeout", 60)),
    )


_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
_DNS_NAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")


def parse_dkim(dkim: dict[str, Any], from_address: str, project_dir: Path) -> DkimConfig:
    selector = dkim.get("selector", "newsletter").strip()
    default_domain = from_address.rpartition("@")[2].encode("idna").decode("ascii")
    domain = dkim.get("domain", default_domain).strip().lower().rstrip(".")
    ed25519 = "ed25519_key_file" in dkim or "ed25519_key_env" in dkim
    ed_selector = dkim.get("ed25519_selector", f"{selector}-ed25519").strip() if ed25519 else None
    names = {"selector": selector, "domain": domain, "ed25519_selector": ed_selector or "x"}
    for key, value in names.items():
        if not value.isascii() or not _DNS_NAME.fullmatch(value):
            raise ConfigError(
                f"{CONFIG_NAME}: 'dkim.{key}' must be a DNS name, got {value!r}",
                hint="write an international domain in its xn-- form",
            )
    _one_key_source(dkim, "")
    if ed25519:
        _one_key_source(dkim, "ed25519_")
    return DkimConfig(
        selector=selector,
        domain=domain,
        key_file=_key_path(dkim.get("key_file"), project_dir),
        key_env=dkim.get("key_env"),
        ed25519_selector=ed_selector,
        ed25519_key_file=_key_path(dkim.get("ed25519_key_file"), project_dir),
        ed25519_key_env=dkim.get("ed25519_key_env"),
    )


def _one_key_source(dkim: dict[str, Any], prefix: str) -> None:
    if (f"{prefix}key_file" in dkim) == (f"{prefix}key_env" in dkim):
        raise ConfigError(
            f"{CONFIG_NAME}: [dkim] needs exactly one of 'dkim.{prefix}key_file'"
            f" and 'dkim.{prefix}key_env'",
            hint="run `newsletter dkim keygen` to make a key file",
        )


def _key_path(text: str | None, project_dir: Path) -> Path | None:
    return project_dir / Path(text).expanduser() if text else None


def _check_range(key: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ConfigError(f"{CONFIG_NAME}: '{key}' must be between {low} and {high}")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


AddressCheck = Callable[[str, str], str]  # (key, text) -> the address to keep


def check_address(key: str, text: str) -> str:
    """The address normalised, or an error naming the key."""
    try:
        return normalise_address(text)
    except InputError as error:
        raise ConfigError(f"{CONFIG_NAME}: '{key}': {error.message}") from None


def as_written(key: str, text: str) -> str:
    """No check: for `load_config(check_addresses=False)`."""
    return text.strip()
