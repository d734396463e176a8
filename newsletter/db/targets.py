"""Where a command may write a file the coordinator names (`backup FILE`,
`subscribers export FILE`): a regular file or nothing yet, never a device, a
folder, or a part of the project's own state (its database, journal, config...)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from newsletter.errors import InputError


def writable_target(path: Path, state: Iterable[Path]) -> Path:
    """`path`, resolved through links, once it is safe to replace; else one line."""
    resolved = Path(path).resolve()
    if resolved.exists() and not resolved.is_file():
        raise InputError(
            f"{path} is not a regular file: nothing was written",
            hint="name a new file (an existing one is replaced)",
        )
    for own in state:
        own = own.resolve()
        if resolved == own or own in resolved.parents:
            raise InputError(
                f"{path} is part of this project ({own.name}): nothing was written",
                hint="name a file outside the project's own files, e.g. ../newsletter-backup.zip",
            )
    return resolved
