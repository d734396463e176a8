"""newsletter.toml -> frozen dataclasses, validated at load.

Every error names the key it is about, so a coordinator can fix the file from
the message alone. Secrets never live here: the SMTP password is read from the
environment variable the file names, only when a send needs it.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from newsletter.errors import ConfigError, InputError
from newsletter.i18n.languages import ENGLISH, is_language_code
from newsletter.subscribers.addresses import has_line_break, normalise_address

CONFIG_NAME = "newsletter.toml"
DATABASE_NAME = "newsletter.db"
SECURITY_MODES = ("starttls", "ssl", "none")
# Values a reader sees: each a plain string, or a table by language.
LOCALISED_KEYS = ("name", "postal_address", "footer", "consent")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str = "starttls"
    username: str | None = None
    password_env: str | None = None
    connections: int = 2
    rate: float = 10.0
    timeout: float = 30.0
    data_timeout: float = 600.0  # the reply to the final dot: RFC 5321 4.5.3.2.6
    messages_per_connection: int = 100

    def password(self) -> str | None:
        """The password from the environment; read late so it is never stored."""
        if not self.username:
            return None
        if not self.password_env:
            raise ConfigError("smtp.password_env must name an environment variable")
        value = os.environ.get(self.password_env)
        if not value:
            raise ConfigError(
                f"the environment variable {self.password_env} (smtp.password_env) is not set",
                hint=f"export {self.password_env}=... before sending",
            )
        return value


@dataclass(frozen=True)
class SendingConfig:
    max_attempts: int = 5
    hard_bounce_limit: int = 1
    stop_after: int = 3  # failures in a row that are not the recipients' own stop the send


@dataclass(frozen=True)
class ImapConfig:
    host: str
    username: str
    password_env: str
    port: int = 993
    security: str = "ssl"
    folder: str = "INBOX"
    done_folder: str = "newsletter-done"
    timeout: float = 60.0

    def password(self) -> str:
        value = os.environ.get(self.password_env)
        if not value:
            raise ConfigError(
                f"the environment variable {self.password_env} (bounces.imap.password_env)"
                " is not set",
                hint=f"export {self.password_env}=... before reading the return mailbox",
            )
        return value


@dataclass(frozen=True)
class BouncesConfig:
    address: str | None = None  # the envelope sender; default: newsletter.from
    verp: bool = False
    soft_limit: int = 3
    maildir: Path = Path("returns")
    done_folder: str = "newsletter-done"
    imap: ImapConfig | None = None


@dataclass(frozen=True)
class SubscribeConfig:
    """Joining through the web form (double opt-in); see README, "Joining"."""

    confirm_hours: int = 48  # a confirmation link expires, and its sign-up is deleted, after this
    min_fill_seconds: int = 3  # a form sent back sooner was filled by a machine
    per_address_per_day: int = 3  # confirmation mails to one address in a day, at most
    per_client_per_hour: int = 20  # sign-ups from one client (IP address) in an hour, at most
    record_ip: bool = False  # keep the client IP address with the consent record
    welcome: bool = False  # mail templates/mail/welcome.* after a confirmation


@dataclass(frozen=True)
class DkimConfig:
    """Where the signing key is; the key itself is read by newsletter.mail.dkim."""

    selector: str
    domain: str
    key_file: Path | None = None  # absolute (resolved against the project folder)
    key_env: str | None = None
    # The optional second signature (RFC 8463), under its own selector.
    ed25519_selector: str | None = None
    ed25519_key_file: Path | None = None
    ed25519_key_env: str | None = None

    @property
    def record_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    @property
    def ed25519_record_name(self) -> str | None:
        if not self.ed25519_selector:
            return None
        return f"{self.ed25519_selector}._domainkey.{self.domain}"


@dataclass(frozen=True)
class Config:
    project_dir: Path
    name: str  # in the first language; `text("name", lang)` for another
    from_name: str
    from_address: str
    base_url: str
    list_id: str
    postal_address: str = ""  # in the first language, like `name`
    reply_to: str | None = None
    unsubscribe_mailto: str | None = None
    smtp: SmtpConfig | None = None
    outbox_path: Path = Path("outbox")
    sending: SendingConfig = field(default_factory=SendingConfig)
    subscribe: SubscribeConfig = field(default_factory=SubscribeConfig)
    bounces: BouncesConfig = field(default_factory=BouncesConfig)
    dkim: DkimConfig | None = None
    languages: tuple[str, ...] = (ENGLISH,)  # the first is shown first where all appear
    texts: dict[str, dict[str, str]] = field(default_factory=dict)  # key -> language -> text

    @property
    def bilingual(self) -> bool:
        """More than one language: an issue is written once per language."""
        return len(self.languages) > 1

    def text(self, key: str, language: str | None = None) -> str:
        """A reader-facing value (`name`, `postal_address`, `footer`, `consent`) in `language`
        (the first language when None or not one of the project's)."""
        values = self.texts.get(key, {})
        if language in values:
            return values[language]
        return values.get(self.languages[0], "")

    def joined_text(self, key: str, separator: str = " / ") -> str:
        """The value in every language, first language first, each different one once."""
        return separator.join(dict.fromkeys(self.text(key, lang) for lang in self.languages))

    @property
    def database_path(self) -> Path:
        return self.project_dir / DATABASE_NAME

    @property
    def templates_dir(self) -> Path:
        return self.project_dir / "templates"

    @property
    def issues_dir(self) -> Path:
        return self.project_dir / "issues"

    @property
    def build_dir(self) -> Path:
        return self.project_dir / "build"

    @property
    def outbox_dir(self) -> Path:
        return (
            self.outbox_path
            if self.outbox_path.is_absolute()
            else self.project_dir / self.outbox_path
        )

    @property
    def return_address(self) -> str:
        """The envelope sender (Return-Path): where the relay mails bounces."""
        return self.bounces.address or self.from_address

    @property
    def returns_dir(self) -> Path:
        path = self.bounces.maildir
        return path if path.is_absolute() else self.project_dir / path

    @property
    def sender_domain(self) -> str:
        return self.from_address.rpartition("@")[2]


_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "newsletter": {
        "name": (str, dict),
        "from": str,
        "reply_to": str,
        "base_url": str,
        "postal_address": (str, dict),
        "footer": (str, dict),
        "consent": (str, dict),
        "list_id": str,
        "unsubscribe_mailto": str,
        "languages": list,
    },
    "smtp": {
        "host": str,
        "port": int,
        "security": str,
        "username": str,
        "password_env": str,
        "connections": int,
        "rate": (int, float),
        "timeout": (int, float),
        "data_timeout": (int, float),
        "messages_per_connection": int,
    },
    "outbox": {"path": str},
    "sending": {
        "max_attempts": int,
        "hard_bounce_limit": int,
        "stop_after": int,
        "policy_stop_after": int,  # the name before it covered more than 5.7.x
    },
    "subscribe": {
        "confirm_hours": int,
        "min_fill_seconds": int,
        "per_address_per_day": int,
        "per_client_per_hour": int,
        "record_ip": bool,
        "welcome": bool,
    },
    "bounces": {
        "address": str,
        "verp": bool,
        "soft_limit": int,
        "maildir": str,
        "done_folder": str,
        "imap": dict,
    },
    "bounces.imap": {
        "host": str,
        "port": int,
        "security": str,
        "username": str,
        "password_env": str,
        "folder": str,
        "done_folder": str,
        "timeout": (int, float),
    },
    "dkim": {
        "selector": str,
        "domain": str,
        "key_file": str,
        "key_env": str,
        "ed25519_selector": str,
        "ed25519_key_file": str,
        "ed25519_key_env": str,
    },
}
_KINDS = {
    str: "a string",
    int: "an integer",
    bool: "true or false",
    dict: "a table",
    list: "a list",
    (str, dict): "a string or a table by language",
}
_REQUIRED = {"newsletter": ("name", "from", "base_url"), "smtp": ("host",)}


def find_config(project_dir: Path) -> Path:
    path = project_dir / CONFIG_NAME
    if not path.is_file():
        raise ConfigError(
            f"no {CONFIG_NAME} in {project_dir}",
            hint="run `newsletter init DIR`, or pass --project / set NEWSLETTER_PROJECT",
        )
    return path


def load_config(project_dir: Path) -> Config:
    """Read and validate the project's newsletter.toml."""
    project_dir = project_dir.resolve()
    path = find_config(project_dir)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{CONFIG_NAME}: not valid TOML: {error}") from None
    return parse_config(data, project_dir)


def parse_config(data: dict[str, Any], project_dir: Path) -> Config:
    """Validate a parsed TOML document; the errors name the offending key."""
    _check_shape(data)
    news = data.get("newsletter", {})
    from_name, from_address = _parse_from(news["from"])
    base_url = _check_base_url(news["base_url"])
    reply_to = news.get("reply_to")
    if reply_to is not None:
        reply_to = _check_address("newsletter.reply_to", reply_to)
    mailto = news.get("unsubscribe_mailto")
    if mailto is not None:
        mailto = _check_address("newsletter.unsubscribe_mailto", mailto.removeprefix("mailto:"))
    languages = _parse_languages(news.get("languages", [ENGLISH]))
    texts = {key: _localised(key, news.get(key, ""), languages) for key in LOCALISED_KEYS}
    if not all(texts["name"].values()):
        raise ConfigError(f"{CONFIG_NAME}: missing key 'newsletter.name'")
    return Config(
        project_dir=project_dir,
        name=texts["name"][languages[0]],
        from_name=from_name,
        from_address=from_address,
        base_url=base_url,
        list_id=news.get("list_id") or _default_list_id(base_url),
        postal_address=texts["postal_address"][languages[0]],
        reply_to=reply_to,
        unsubscribe_mailto=mailto,
        smtp=_parse_smtp(data["smtp"]) if "smtp" in data else None,
        outbox_path=Path(data.get("outbox", {}).get("path", "outbox")),
        sending=_parse_sending(data.get("sending", {})),
        subscribe=_parse_subscribe(data.get("subscribe", {})),
        bounces=_parse_bounces(data.get("bounces", {})),
        dkim=_parse_dkim(data["dkim"], from_address, project_dir) if "dkim" in data else None,
        languages=languages,
        texts=texts,
    )


def _parse_languages(value: list[Any]) -> tuple[str, ...]:
    """`languages = ["cy", "en"]`: known codes, each once, at least one."""
    key = "newsletter.languages"
    if not value or not all(isinstance(item, str) for item in value):
        raise ConfigError(
            f"{CONFIG_NAME}: '{key}' must be a list of language codes", hint='e.g. ["cy", "en"]'
        )
    codes = tuple(item.strip().lower() for item in value)
    for code in codes:
        if not is_language_code(code):
            raise ConfigError(
                f"{CONFIG_NAME}: '{key}': {code!r} is not a language code", hint='e.g. ["cy", "en"]'
            )
    if len(set(codes)) != len(codes):
        raise ConfigError(f"{CONFIG_NAME}: '{key}' names a language twice")
    return codes


def _localised(key: str, value: str | dict[str, Any], languages: tuple[str, ...]) -> dict[str, str]:
    """A plain string (the same in every language) or a table with one value per language."""
    if isinstance(value, str):
        return dict.fromkeys(languages, value.strip())
    for lang, text in value.items():
        if lang not in languages:
            raise ConfigError(
                f"{CONFIG_NAME}: 'newsletter.{key}.{lang}': {lang!r} is not in newsletter.languages",
                hint=f"languages: {', '.join(languages)}",
            )
        if not isinstance(text, str) or has_line_break(text):
            raise ConfigError(f"{CONFIG_NAME}: 'newsletter.{key}.{lang}' must be a one-line string")
    missing = [lang for lang in languages if not str(value.get(lang, "")).strip()]
    if missing:
        raise ConfigError(
            f"{CONFIG_NAME}: 'newsletter.{key}' has no {missing[0]!r} value",
            hint="give a value for every language in newsletter.languages, or one plain string",
        )
    return {lang: value[lang].strip() for lang in languages}


def _check_shape(data: dict[str, Any]) -> None:
    for section, value in data.items():
        _check_section(section, value)
    if isinstance(data.get("bounces", {}).get("imap"), dict):
        _check_section("bounces.imap", data["bounces"]["imap"])
    if "newsletter" not in data:
        raise ConfigError(f"{CONFIG_NAME}: missing section [newsletter]")
    for section, keys in _REQUIRED.items():
        for key in keys:
            if section in data and not str(data[section].get(key, "")).strip():
                raise ConfigError(f"{CONFIG_NAME}: missing key '{section}.{key}'")


def _check_section(section: str, value: object) -> None:
    if section not in _SCHEMA:
        raise ConfigError(f"{CONFIG_NAME}: unknown section [{section}]")
    if not isinstance(value, dict):
        raise ConfigError(f"{CONFIG_NAME}: '{section}' must be a [{section}] table")
    for key, item in value.items():
        expected = _SCHEMA[section].get(key)
        if expected is None:
            raise ConfigError(f"{CONFIG_NAME}: unknown key '{section}.{key}'")
        if isinstance(item, bool) is not (expected is bool) or not isinstance(item, expected):
            raise ConfigError(
                f"{CONFIG_NAME}: '{section}.{key}' must be {_KINDS.get(expected, 'a number')}"  # type: ignore[call-overload]
            )
        if isinstance(item, str) and has_line_break(item):
            raise ConfigError(f"{CONFIG_NAME}: '{section}.{key}' must be on one line")


def _check_address(key: str, text: str) -> str:
    try:
        return normalise_address(text)
    except InputError as error:
        raise ConfigError(f"{CONFIG_NAME}: '{key}': {error.message}") from None


def _parse_from(text: str) -> tuple[str, str]:
    name, address = parseaddr(text)
    if not address:
        raise ConfigError(f"{CONFIG_NAME}: 'newsletter.from' must look like 'Name <address>'")
    return name.strip(), _check_address("newsletter.from", address)


def _check_base_url(text: str) -> str:
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{CONFIG_NAME}: 'newsletter.base_url' must be an http(s) URL, got {text!r}"
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"{CONFIG_NAME}: 'newsletter.base_url' must not have a query or #")
    return text.strip().rstrip("/")


def _default_list_id(base_url: str) -> str:
    return urlsplit(base_url).hostname or "newsletter.invalid"


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


def _parse_smtp(smtp: dict[str, Any]) -> SmtpConfig:
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
    )


def _parse_sending(sending: dict[str, Any]) -> SendingConfig:
    for key, value in sending.items():
        _check_range(f"sending.{key}", value, 1, 1000)
    sending = dict(sending)
    if "policy_stop_after" in sending:
        sending.setdefault("stop_after", sending.pop("policy_stop_after"))
    return SendingConfig(**sending)


_SUBSCRIBE_RANGES = {
    "confirm_hours": (1, 24 * 30),
    "min_fill_seconds": (0, 3600),
    "per_address_per_day": (1, 100),
    "per_client_per_hour": (1, 100_000),
}


def _parse_subscribe(subscribe: dict[str, Any]) -> SubscribeConfig:
    for key, (low, high) in _SUBSCRIBE_RANGES.items():
        if key in subscribe:
            _check_range(f"subscribe.{key}", subscribe[key], low, high)
    return SubscribeConfig(**subscribe)


def _parse_bounces(bounces: dict[str, Any]) -> BouncesConfig:
    address = bounces.get("address")
    if address is not None:
        address = _check_address("bounces.address", address)
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


def _parse_dkim(dkim: dict[str, Any], from_address: str, project_dir: Path) -> DkimConfig:
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
