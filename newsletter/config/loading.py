"""Reading newsletter.toml: its shape, the [newsletter] section, and the whole Config.

Every error names the key it is about, so a coordinator can fix the file from
the message alone.
"""

from __future__ import annotations

import tomllib
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from newsletter.config.model import (
    CONFIG_NAME,
    LOCALISED_KEYS,
    Config,
)
from newsletter.config.sections import (
    AddressCheck,
    as_written,
    check_address,
    parse_bounces,
    parse_dkim,
    parse_sending,
    parse_serve,
    parse_smtp,
    parse_subscribe,
)
from newsletter.errors import ConfigError
from newsletter.i18n.languages import ENGLISH, is_language_code
from newsletter.subscribers.addresses import has_line_break

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
        "pipelining": bool,
        "quota": (list, str),
    },
    "outbox": {"path": str},
    "sending": {
        "max_attempts": int,
        "hard_bounce_limit": int,
        "stop_after": int,
        "policy_stop_after": int,  # the name before it covered more than 5.7.x
        "give_up_after": (int, float, str),
    },
    "subscribe": {
        "confirm_hours": int,
        "min_fill_seconds": int,
        "per_address_per_day": int,
        "per_client_per_hour": int,
        "record_ip": bool,
        "welcome": bool,
        "allowed_origins": list,
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
    "serve": {"trusted_proxy": str},
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
    (list, str): 'a list of limits such as ["30/minute", "10000/day"]',
    (int, float, str): 'a number of seconds or a duration such as "10m"',
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


def load_config(project_dir: Path, *, check_addresses: bool = True) -> Config:
    """Read and validate the project's newsletter.toml.

    `check_addresses=False` leaves its addresses as written: `status` only counts,
    so it answers while an address is being fixed, without loading email-validator
    (~20 ms of its start-up). Every command that makes or reads mail checks them.
    """
    project_dir = project_dir.resolve()
    path = find_config(project_dir)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{CONFIG_NAME}: not valid TOML: {error}") from None
    except RecursionError:  # tomllib reads nested arrays and tables recursively
        raise ConfigError(
            f"{CONFIG_NAME}: values nested too deeply (arrays or tables inside each other"
            " hundreds of levels deep)",
            hint="no setting nests more than two levels: look for a run of [ or {",
        ) from None
    return parse_config(data, project_dir, check_addresses=check_addresses)


def parse_config(
    data: dict[str, Any], project_dir: Path, *, check_addresses: bool = True
) -> Config:
    """Validate a parsed TOML document; the errors name the offending key."""
    _check_shape(data)
    news = data.get("newsletter", {})
    check = check_address if check_addresses else as_written
    from_name, from_address = _parse_from(news["from"], check)
    base_url = _check_base_url(news["base_url"])
    reply_to = news.get("reply_to")
    if reply_to is not None:
        reply_to = check("newsletter.reply_to", reply_to)
    mailto = news.get("unsubscribe_mailto")
    if mailto is not None:
        mailto = check("newsletter.unsubscribe_mailto", mailto.removeprefix("mailto:"))
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
        smtp=parse_smtp(data["smtp"]) if "smtp" in data else None,
        outbox_path=Path(data.get("outbox", {}).get("path", "outbox")),
        sending=parse_sending(data.get("sending", {})),
        subscribe=parse_subscribe(data.get("subscribe", {})),
        bounces=parse_bounces(data.get("bounces", {}), check),
        serve=parse_serve(data.get("serve", {})),
        dkim=parse_dkim(data["dkim"], from_address, project_dir) if "dkim" in data else None,
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
                f"{CONFIG_NAME}: '{section}.{key}' must be {_KINDS.get(expected, 'a number')}"
            )
        if isinstance(item, str) and has_line_break(item):
            raise ConfigError(f"{CONFIG_NAME}: '{section}.{key}' must be on one line")


def _parse_from(text: str, check: AddressCheck) -> tuple[str, str]:
    name, address = parseaddr(text)
    if not address:
        raise ConfigError(f"{CONFIG_NAME}: 'newsletter.from' must look like 'Name <address>'")
    return name.strip(), check("newsletter.from", address)


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
