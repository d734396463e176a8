"""Machine faults (a full disk, a read-only file, an I/O error, a busy or damaged
database) as one `DatabaseError` with a hint: never a traceback.

Every writer runs in a transaction, so when one of these stops a command the
database is as it was before the command's last commit.
"""

from __future__ import annotations

import errno
import sqlite3

from newsletter.errors import DatabaseError

RESTORE = "restore the newest good backup: `newsletter restore` (see the manual, docs/backups.md)"
_BY_SQLITE_CODE = {
    5: ("the database stayed busy: another newsletter command is writing to it",
        "wait for it to finish, then run this command again"),
    6: ("the database stayed busy: another newsletter command is writing to it",
        "wait for it to finish, then run this command again"),
    8: ("the database is read-only",
        "check the permissions of the project folder and newsletter.db, then run this again"),
    10: ("the disk reported an I/O error",
         "check the disk (and `dmesg`); if the database is damaged, " + RESTORE),
    11: ("the database file is damaged", RESTORE),
    13: ("the disk is full", "free some space, then run this command again"),
    14: ("the database file cannot be opened",
         "check that the project folder exists and is readable"),
    26: ("newsletter.db is not a database (damaged or overwritten)", RESTORE),
}  # fmt: skip
_BY_ERRNO = {
    errno.ENOSPC: _BY_SQLITE_CODE[13],
    errno.EROFS: _BY_SQLITE_CODE[8],
    errno.EACCES: ("permission denied", "check the permissions of the project folder"),
    errno.EPERM: ("permission denied", "check the permissions of the project folder"),
    errno.EIO: _BY_SQLITE_CODE[10],
}


def database_fault(error: BaseException, doing: str = "") -> DatabaseError:
    """The one-line error for a SQLite or file-system fault (`doing` says what failed)."""
    if isinstance(error, DatabaseError):
        return error
    prefix = f"{doing}: " if doing else ""
    if isinstance(error, sqlite3.Error):
        code = (getattr(error, "sqlite_errorcode", 0) or _code_from_text(str(error))) & 0xFF
        message, hint = _BY_SQLITE_CODE.get(code, (f"database error: {error}", None))
    elif isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        message, hint = _BY_ERRNO.get(error.errno or 0, (f"{error.strerror or error}", None))
        message += where
    else:
        raise error
    return DatabaseError(prefix + message, hint=hint)


def is_fault(error: BaseException) -> bool:
    """A database error, or a file-system one (not a network error, which is an OSError too)."""
    if isinstance(error, sqlite3.Error):
        return True
    return isinstance(error, OSError) and error.errno in _BY_ERRNO


def _code_from_text(text: str) -> int:
    """Older sqlite3 modules lack sqlite_errorcode: recognise the message."""
    for needle, code in (
        ("locked", 5), ("busy", 5), ("readonly", 8), ("disk I/O", 10), ("malformed", 11),
        ("disk is full", 13), ("unable to open", 14), ("not a database", 26),
    ):  # fmt: skip
        if needle in text:
            return code
    return 0
