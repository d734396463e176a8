"""`newsletter backup`: one zip of the whole project, and putting one back.

The archive holds the database (an online backup: consistent even during a
send, integrity-checked), the journal (read after the copy, so it knows at
least as much), newsletter.toml, templates/, issues/ and the DKIM key files
kept in the project; a manifest names them. A restore replays the journal into
the database, so a project restored on a new laptop keeps every promise.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from newsletter.config import CONFIG_NAME, DATABASE_NAME, Config
from newsletter.db.backup import backup_database, backup_dir, new_backup_name, prune, stamp
from newsletter.db.journal import JOURNAL_NAME, Journal, header_words
from newsletter.errors import DatabaseError, InputError
from newsletter.subscribers.store import Store

FORMAT = 1
MANIFEST = "newsletter-backup.json"
TREES = ("templates", "issues")


@dataclass(frozen=True)
class Archive:
    path: Path
    files: int  # members, the manifest aside
    key_files: tuple[str, ...]  # DKIM private keys inside: the archive is a secret
    keys_left_out: tuple[str, ...]  # key files outside the project folder (not archived)
    database_only: bool = False  # FILE.db: a copy of the database alone, as before


def backup_project(config: Config, store: Store, destination: Path | None = None) -> Archive:
    """`newsletter backup [FILE]`: the whole project (see `write_archive`); a FILE
    named *.db gets a checked copy of the database alone, which `restore` reads too.
    The journal is compacted first when no send runs (the archive holds less)."""
    from newsletter.history.compaction import compact_when_idle

    compact_when_idle(config, store)
    if destination is not None and destination.suffix.lower() == ".db":
        target = config.output_file(destination)
        return Archive(backup_database(store.conn, target), 1, (), (), database_only=True)
    return write_archive(config, store, destination)


def write_archive(config: Config, store: Store, destination: Path | None = None) -> Archive:
    """The whole project into one zip at `destination` (default: backups/, pruned),
    readable by its owner only; never left half-written."""
    if destination is None:
        destination = new_backup_name(backup_dir(config.database_path), "manual", ".zip")
    else:
        destination = config.output_file(destination)
    partial = destination.with_name(destination.name + ".partial")
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as scratch:
            database = backup_database(store.conn, Path(scratch) / DATABASE_NAME)
            archive = _write_zip(config, store.journal, database, partial)
        os.replace(partial, destination)
    except OSError as error:
        raise DatabaseError(f"backup to {destination} failed: {error.strerror}") from None
    finally:
        partial.unlink(missing_ok=True)
    if destination.parent == backup_dir(config.database_path):
        prune(destination.parent)
    return Archive(destination, archive.files, archive.key_files, archive.keys_left_out)


def _write_zip(config: Config, journal: Journal | None, database: Path, partial: Path) -> Archive:
    project = config.project_dir
    members = [(database, DATABASE_NAME), (project / CONFIG_NAME, CONFIG_NAME)]
    for tree in TREES:
        folder = project / tree
        files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
        members += [(p, p.relative_to(project).as_posix()) for p in files if _wanted(p)]
    keys = [key for key in config.key_files if key.is_file() and key.is_relative_to(project)]
    members += [(key, key.relative_to(project).as_posix()) for key in keys]
    with (
        _private_file(partial) as handle,
        zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for path, name in members:
            out.write(path, name)
        if journal is not None:  # after the database copy: it knows at least as much
            out.writestr(JOURNAL_NAME, _journal_bytes(journal))
        key_names = tuple(name for path, name in members if path in keys)
        out.writestr(MANIFEST, _manifest(journal, [name for _path, name in members], key_names))
        handle.flush()
        os.fsync(handle.fileno())
    left_out = tuple(str(key) for key in config.key_files if key not in keys)
    return Archive(partial, len(members) + (journal is not None), key_names, left_out)


def _wanted(path: Path) -> bool:
    return "__pycache__" not in path.parts and not path.name.endswith((".pyc", ".partial"))


def _journal_bytes(journal: Journal) -> bytes:
    size = journal.size()
    with journal.path.open("rb") as handle:
        return handle.read(size)


def _manifest(journal: Journal | None, names: list[str], keys: tuple[str, ...]) -> str:
    return json.dumps(
        {
            "format": FORMAT,
            "made": stamp(),
            "journal_id": journal.id if journal is not None else None,
            "files": names,
            "key_files": list(keys),
        },
        indent=1,
    )


def _private_file(path: Path) -> IO[bytes]:
    """A new file only its owner can read (the archive holds personal data)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
    return os.fdopen(os.open(path, flags, 0o600), "wb")


# --- putting an archive back ----------------------------------------------------------


@dataclass(frozen=True)
class Unpacked:
    files: int  # the project's files in the archive
    changed: int  # of them, those that differed from the project's (the others were left)
    journal_kept: bool  # the project's own journal knew at least as much and was kept
    replaced: Path | None  # where the project's files the archive replaced were kept


def is_archive(path: Path) -> bool:
    return path.is_file() and zipfile.is_zipfile(path)


def open_archive(source: Path, scratch: Path) -> tuple[zipfile.ZipFile, dict[str, Any], Path]:
    """The archive, its manifest, and its database extracted into `scratch`; checked
    before anything of the project is touched."""
    archive = zipfile.ZipFile(source)
    try:
        manifest = _read_manifest(archive, source)
        database = Path(archive.extract(DATABASE_NAME, scratch))
    except BaseException:
        archive.close()
        raise
    return archive, manifest, database


def unpack(
    archive: zipfile.ZipFile, manifest: dict[str, Any], source: Path, project: Path
) -> Unpacked:
    """The archive's journal and files into `project` (not its database: the caller
    installs that). Files of the project that it replaces are kept in backups/."""
    aside = backup_dir(project / DATABASE_NAME) / f"replaced-{stamp()}"
    kept = _place_journal(archive, manifest, project, aside, source)
    files = changed = 0
    for name in archive.namelist():
        if name in (MANIFEST, DATABASE_NAME, JOURNAL_NAME) or name.endswith("/"):
            continue
        private = name in manifest.get("key_files", [])
        changed += _write_file(project / name, archive.read(name), aside / name, private=private)
        files += 1
    return Unpacked(files, changed, kept, aside if aside.exists() else None)


def _read_manifest(archive: zipfile.ZipFile, source: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads(archive.read(MANIFEST))
    except (KeyError, ValueError):
        raise InputError(f"{source} is not a newsletter backup (it has no {MANIFEST})") from None
    if manifest.get("format") != FORMAT or DATABASE_NAME not in archive.namelist():
        raise InputError(f"{source} is a backup this version of newsletter cannot read")
    try:
        damaged = archive.testzip()
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError):
        damaged = "a file"
    if damaged is not None:
        raise InputError(f"{source} is damaged ({damaged} does not match its checksum)")
    for name in archive.namelist():
        parts = PurePosixPath(name).parts
        if PurePosixPath(name).is_absolute() or ".." in parts or ":" in name or "\\" in name:
            raise InputError(f"{source} names a file outside the project ({name}): not restored")
    return manifest


def _place_journal(
    archive: zipfile.ZipFile, manifest: dict[str, Any], project: Path, aside: Path, source: Path
) -> bool:
    """The archive's journal, unless the project's own one is this project's and knows
    at least as much: a later generation (a compaction since the archive was made),
    or the same one at least as long (it only grows); True when the project's was kept."""
    if JOURNAL_NAME not in archive.namelist():
        return (project / JOURNAL_NAME).exists()
    data = archive.read(JOURNAL_NAME)
    current = project / JOURNAL_NAME
    try:
        own = Journal.open(current)
    except DatabaseError:  # unreadable: the archive's replaces it, the damaged one kept aside
        own = None
    theirs = header_words(data[:200].split(b"\n", 1)[0]) or {"id": str(manifest.get("journal_id"))}
    if own is not None:
        if own.id != theirs["id"] and own.salt != theirs.get("salt"):
            raise InputError(
                f"{source} is a backup of another project (its journal is not this one's)",
                hint="restore it into an empty folder with --project,"
                " or move newsletter.journal aside if this project's journal was started anew",
            )
        if (own.generation, own.size()) >= (int(theirs.get("gen") or 0), len(data)):
            return True
    _write_file(current, data, aside / JOURNAL_NAME)
    return False


def _write_file(target: Path, data: bytes, aside: Path, *, private: bool = False) -> bool:
    """`data` at `target` in one rename (False: it was there already); a different
    file there is copied to `aside` first. `private`: readable by its owner only."""
    if target.exists():
        if target.is_file() and target.read_bytes() == data:
            return False
        aside.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(target, aside)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    try:
        with _private_file(partial) if private else partial.open("wb") as handle:
            handle.write(data)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return True
