"""A newsletter project folder: creating one, and opening one for a command."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from newsletter.config import CONFIG_NAME, DATABASE_NAME, Config, load_config
from newsletter.db.connection import connect_database
from newsletter.errors import NewsletterError
from newsletter.history.opening import connect_journal
from newsletter.history.replay import attach, catch_up
from newsletter.subscribers.store import Store

CONFIG_TEMPLATE = """\
# newsletter.toml: the settings of one newsletter project.
# Every key is listed; the commented ones are optional.

[newsletter]
name = "{name}"
from = "{name} <newsletter@example.org>"   # the From header: "Name <address>"
# reply_to = "hello@example.org"          # where replies go, if not to From
base_url = "https://news.example.org"     # where `newsletter serve` is reachable (https)
postal_address = "Cardiff, Wales"         # shown in every footer (the law asks for it)
list_id = "news.example.org"              # the List-Id header; defaults to base_url's host
# unsubscribe_mailto = "unsubscribe@example.org"  # adds a mailto: to List-Unsubscribe
# Welsh and English as equals (first shown first); then name, postal_address and
# footer may each be a table by language: name = {{ cy = "...", en = "..." }}
# languages = ["cy", "en"]
# footer = "One more line in every footer"
# consent = "I agree to receive ..."      # the subscribe form's consent wording (default: built in)

# With no [smtp] section, `send` delivers into the outbox Maildir below.
# [smtp]
# host = "smtp.example.org"
# port = 587
# security = "starttls"                   # starttls | ssl | none (none only for loopback)
# username = "newsletter@example.org"
# password_env = "NEWSLETTER_SMTP_PASSWORD"  # the password is read from this variable
# connections = 2                         # parallel SMTP sessions
# rate = 10                               # messages per second in all; 0 = no limit
# timeout = 30                            # seconds to wait for the server
# data_timeout = 600                      # seconds to wait for the reply to the final dot
# messages_per_connection = 100           # renew a session after this many; 0 = never
# pipelining = true                       # when the server offers it; false: one command at a time

[outbox]
path = "outbox"                           # Maildir of .eml files: the default transport

# [subscribe]                            # joining through /subscribe (double opt-in)
# confirm_hours = 48                      # a confirmation link expires after this
# min_fill_seconds = 3                    # a form sent back faster was filled by a machine
# per_address_per_day = 3                 # confirmation mails to one address a day, at most
# per_client_per_hour = 20                # sign-ups from one IP address an hour, at most
# record_ip = false                       # keep the client's IP address with the consent
# welcome = false                         # mail templates/mail/welcome.* after confirming

# [sending]
# max_attempts = 5                        # tries for a 4xx or a dropped connection
# hard_bounce_limit = 1                   # 5xx bounces before an address is marked bounced
# stop_after = 3                          # failures in a row not the recipients' own stop it

# Where bounces, complaints and mailto unsubscribes come back (`newsletter bounces`).
# [bounces]
# address = "bounces@example.org"         # the envelope sender; default: the From address
# verp = true                             # bounces+CODE@...: every bounce names its delivery
# soft_limit = 3                          # soft bounces on this many issues in a row -> bounced
# maildir = "returns"                     # the Maildir returned mail lands in, or:
# [bounces.imap]                          # an IMAP mailbox (TLS verified)
# host = "imap.example.org"
# port = 993
# security = "ssl"                        # ssl | starttls | none (none only for loopback)
# username = "bounces@example.org"
# password_env = "NEWSLETTER_IMAP_PASSWORD"
# folder = "INBOX"
# done_folder = "newsletter-done"         # processed messages are moved here

# DKIM signing by newsletter itself: `newsletter dkim keygen` makes the key, adds
# [dkim] below and prints the DNS record. `newsletter doctor` checks the record.
# [dkim]
# selector = "newsletter"
# domain = "example.org"                  # default: the domain of `from`
# key_file = "dkim/newsletter.pem"        # or key_env = "NEWSLETTER_DKIM_KEY"
# ed25519_key_file = "dkim/newsletter-ed25519.pem"  # optional second signature (keygen --ed25519)
"""


GITIGNORE = """\
# What newsletter keeps out of git: personal data and credentials.
# The database and its copies hold every subscriber and their unsubscribe tokens.
newsletter.db
newsletter.db-*
backups/
# The journal names people by salted hashes only, but a guessed address can be checked.
newsletter.journal*
# Previews and sent messages carry real unsubscribe links.
build/
outbox/
# Returned mail (bounces, complaints) names subscribers too.
returns/
# DKIM private keys.
dkim/
*.pem
*.key
# The send lock.
.newsletter-send.*
"""


def init_project(directory: Path, name: str = "My Newsletter") -> list[Path]:
    """Create a project folder; refuse to touch one that already exists."""
    config_path = directory / CONFIG_NAME
    if config_path.exists() or (directory / DATABASE_NAME).exists():
        raise NewsletterError(
            f"{directory} already holds a newsletter project; nothing was changed"
        )
    directory.mkdir(parents=True, exist_ok=True)
    created = [
        config_path,
        directory / ".gitignore",
        directory / "templates",
        directory / "issues",
        directory / DATABASE_NAME,
    ]
    (directory / "issues").mkdir(exist_ok=True)
    from newsletter.issue.environment import default_templates  # jinja2: only `init` needs it

    shutil.copytree(
        default_templates(),
        directory / "templates",
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__init__.py", "__pycache__"),
    )
    _write_gitignore(directory / ".gitignore")
    config_path.write_text(CONFIG_TEMPLATE.format(name=name.replace('"', "'")), encoding="utf-8")
    open_store(directory / DATABASE_NAME).close()
    return created


def _write_gitignore(path: Path) -> None:
    """The project's .gitignore; a folder that has one gets ours added at its end."""
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    if GITIGNORE in existing:
        return
    separator = "\n" if existing and not existing.endswith("\n") else ""
    path.write_text(existing + separator + GITIGNORE, encoding="utf-8")


@contextmanager
def open_project(
    directory: Path, *, check_addresses: bool = True
) -> Iterator[tuple[Config, Store]]:
    """The config and the store of a project, closed afterwards.

    A folder with a newsletter.toml but no database yet (a project kept in git)
    gets its database on first use. `check_addresses`: see `load_config`.
    """
    config = load_config(directory, check_addresses=check_addresses)
    store = open_store(config.database_path)
    try:
        yield config, store
    finally:
        store.close()


def open_store(database_path: Path) -> Store:
    """The database, with its journal attached and what it lacks of it applied
    (see newsletter.history.replay)."""
    conn = connect_database(database_path, create=True)
    try:
        store = attach(Store(conn, journal=connect_journal(conn, database_path)))
        catch_up(store)
    except BaseException:
        conn.close()
        raise
    return store
