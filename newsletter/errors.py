"""The project's error types.

Every mistake a user can make is raised as a `NewsletterError` with a one-line
message (and an optional hint); the CLI turns it into a line on stderr and a
non-zero exit in one place. Anything else is a bug and may show a traceback.
"""


class NewsletterError(Exception):
    """A problem the user can fix: shown as one line, never as a traceback."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigError(NewsletterError):
    """newsletter.toml is missing, malformed or invalid."""


class DatabaseError(NewsletterError):
    """The database cannot be opened, or was made by a newer version."""


class NotFoundError(NewsletterError):
    """An issue, subscriber or file named by the user does not exist."""


class InputError(NewsletterError):
    """Bad user input: an address, a CSV file, a front matter block."""


class TemplateError(NewsletterError):
    """A template or issue file cannot be rendered (names the file and line)."""


class SendError(NewsletterError):
    """A send cannot start or had to stop for every recipient."""


class MailboxError(NewsletterError):
    """The return mailbox cannot be read (missing Maildir, IMAP login or TLS refused)."""


class SendDeferred(SendError):
    """The relay or a quota says "not now" for longer than a run waits: nothing is lost,
    every message not sent is still queued. Exit code 75 (EX_TEMPFAIL in sysexits.h:
    try again later), so cron, a systemd timer or a script can tell it apart."""

    exit_code = 75
