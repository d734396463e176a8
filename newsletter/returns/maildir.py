"""The return mailbox as a Maildir: what the local MTA delivers into.

New and read messages are both read (a person may have opened one); a
processed message moves into the Maildir++ subfolder `.DONE_FOLDER`, which
mail clients show as a folder. The move is one rename, so a message is
always in exactly one place.
"""

from __future__ import annotations

import contextlib
import mailbox
import os
from collections.abc import Iterator
from pathlib import Path

from newsletter.errors import MailboxError
from newsletter.returns.box import ReturnedMail


class MaildirBox:
    def __init__(self, path: Path, done_folder: str) -> None:
        self.path = path
        self.done_folder = done_folder
        self.description = f"Maildir {path}"
        self._done: Path | None = None

    def open(self) -> None:
        if not all((self.path / part).is_dir() for part in ("new", "cur", "tmp")):
            raise MailboxError(
                f"no Maildir at {self.path} (bounces.maildir)",
                hint="point bounces.maildir at the folder your mail server delivers the"
                " bounce address to, or configure [bounces.imap]",
            )

    def messages(self) -> Iterator[ReturnedMail]:
        for folder in ("new", "cur"):
            for entry in sorted(os.scandir(self.path / folder), key=lambda e: e.name):
                if entry.is_file() and not entry.name.startswith("."):
                    try:
                        raw = Path(entry.path).read_bytes()
                    except FileNotFoundError:  # a mail client moved it meanwhile
                        continue
                    yield ReturnedMail(raw, ref=entry.path)

    def done(self, mail: ReturnedMail) -> None:
        """Move the message into the done folder (keeping its flags)."""
        source = Path(mail.ref)
        with contextlib.suppress(FileNotFoundError):  # moved meanwhile (a mail client, a run)
            os.replace(source, self._done_dir() / "cur" / _with_seen_flag(source.name))

    def close(self) -> None:
        self._done = None

    def _done_dir(self) -> Path:
        if self._done is None:
            box = mailbox.Maildir(self.path, create=False)
            try:
                box.get_folder(self.done_folder)
            except mailbox.NoSuchMailboxError:
                box.add_folder(self.done_folder)
            self._done = self.path / f".{self.done_folder}"
        return self._done


def _with_seen_flag(name: str) -> str:
    """Maildir's "info" suffix with the S (seen) flag: the message was handled."""
    separator = "!" if os.name == "nt" else ":"
    base, found, info = name.partition(f"{separator}2,")
    flags = set(info) | {"S"} if found else {"S"}
    return f"{base}{separator}2,{''.join(sorted(flags))}"
