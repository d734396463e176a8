"""What newsletter.toml says, as frozen dataclasses: one per section."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from newsletter.db.journal import JOURNAL_NAME
from newsletter.errors import ConfigError, InputError
from newsletter.i18n.languages import ENGLISH

CONFIG_NAME = "newsletter.toml"
DATABASE_NAME = "newsletter.db"
SECURITY_MODES = ("starttls", "ssl", "none")
# Values a reader sees: each a plain string, or a table by language.
LOCALISED_KEYS = ("name", "postal_address", "footer", "consent")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


@dataclass(frozen=True)
class Quota:
    """At most `limit` messages in any `seconds`-long window (rolling): a relay's limit."""

    limit: int
    seconds: float
    text: str  # as written: "30/minute"


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
    pipelining: bool = True  # RFC 2920, when the server offers it; False: one command at a time
    quota: tuple[Quota, ...] = ()  # the relay's limits: never exceeded, across runs

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
    stop_after: int = 3  # refusals in a row that are not the recipients' own stop the send
    give_up_after: float = 600.0  # seconds the relay may accept nothing before a send stops


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
    """Joining through the web form (double opt-in); see docs/joining.md."""

    confirm_hours: int = 48  # a confirmation link expires, and its sign-up is deleted, after this
    min_fill_seconds: int = 3  # a form sent back sooner was filled by a machine
    per_address_per_day: int = 3  # confirmation mails to one address in a day, at most
    per_client_per_hour: int = 20  # sign-ups from one client (IP address) in an hour, at most
    record_ip: bool = False  # keep the client IP address with the consent record
    welcome: bool = False  # mail templates/mail/welcome.* after a confirmation
    # Other sites whose pages may send the form (the snippet embedded there), as
    # origins: "https://www.example.org". This site (base_url) always may.
    allowed_origins: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServeConfig:
    """`newsletter serve` behind a reverse proxy; see docs/security.md."""

    # The proxy whose X-Forwarded-For names the real client (waitress trusts no
    # other): loopback, where Caddy or nginx on the same machine connect from.
    # "" trusts none (serve answers the internet directly).
    trusted_proxy: str = "127.0.0.1"


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
    serve: ServeConfig = field(default_factory=ServeConfig)
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
    def key_files(self) -> list[Path]:
        """The DKIM private keys kept in files (a key in the environment is not here)."""
        dkim = self.dkim
        found = [] if dkim is None else [dkim.key_file, dkim.ed25519_key_file]
        return [path for path in found if path is not None]

    @property
    def state_paths(self) -> list[Path]:
        """What holds this project's state: never overwritten by a file newsletter writes."""
        database = self.database_path
        return [
            self.project_dir / CONFIG_NAME,
            *(database.with_name(database.name + suffix) for suffix in ("", "-wal", "-shm")),
            database.with_name(JOURNAL_NAME),
            self.templates_dir,
            self.issues_dir,
            self.project_dir / "dkim",
            *self.key_files,
        ]

    def output_file(self, path: Path) -> Path:
        """`path` (resolved through links) as a file a command may write (`backup FILE`,
        `subscribers export FILE`): a regular file or nothing yet, never a device, a
        folder, or part of this project's state."""
        resolved = Path(path).resolve()
        if resolved.exists() and not resolved.is_file():
            raise InputError(
                f"{path} is not a regular file: nothing was written",
                hint="name a new file (an existing one is replaced)",
            )
        for own in map(Path.resolve, self.state_paths):
            if resolved == own or own in resolved.parents:
                raise InputError(
                    f"{path} is part of this project ({own.name}): nothing was written",
                    hint="name a file outside the project's own files, e.g. ../newsletter-backup.zip",
                )
        return resolved

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
