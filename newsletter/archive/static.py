"""`newsletter archive build DIR`: the archive as files, for any web host.

The files are the ones `serve` answers under /archive/ (the same bytes), each
written whole (a partial file, then a rename) so a web server reading the
folder during a build never serves half a page. Files of the folder that the
archive does not make are left alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from newsletter.archive.site import Archive
from newsletter.config import Config
from newsletter.db.session import DatabaseSession
from newsletter.errors import InputError
from newsletter.sending.archived import published_issues, sent_without_copy


@dataclass(frozen=True)
class BuiltArchive:
    folder: Path
    files: int
    issues: int
    without_copy: list[str]  # sent, but with no public copy: see `archive add`


def build_archive(config: Config, session: DatabaseSession, folder: Path) -> BuiltArchive:
    """Write every page and feed of the archive into `folder` (made if missing)."""
    files = Archive(config).files(session)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, file in files.items():
            _write_whole(folder / name, file.body)
    except OSError as error:
        where = error.filename or folder
        raise InputError(
            f"cannot write the archive into {folder}: {error.strerror or error} ({where})",
            hint="choose a folder you can write to",
        ) from None
    return BuiltArchive(
        folder, len(files), len(published_issues(session)), sent_without_copy(session)
    )


def _write_whole(path: Path, body: bytes) -> None:
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(body)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
