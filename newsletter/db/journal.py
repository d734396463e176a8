"""The journal: an append-only file, beside the database, of who left and who got what.

The database can be lost, emptied, corrupted or restored from an older copy.
The journal is a second record of the promises it holds, written by a
different path (a plain append, not a SQLite transaction), so that whatever
happens to `newsletter.db`, the tool still knows who left and which issue each
address has already had. `newsletter.db.recovery` replays it into the database.

It holds no address in clear: a person is named by their row id and a salted
hash of their address (the same salt as the database's suppression list). One
line per fact, tab-separated; a partial last line (a crash mid-write) is ignored.

    # newsletter journal 1 id=ID salt=SALT
    L  at  subscriber_id  hash  via       left (unsubscribed, bounced, forgotten)
    B  at  subscriber_id  hash  via       came back (resubscribed on request)
    I  at  slug  content_hash  subject    an issue's recipient list was frozen
    D  slug  state  subscriber_id  hash   a delivery reached sending | sent | failed | queued
    F  at  slug  sent  failed             a finished issue, its D lines folded (newsletter.history)

A compaction (newsletter.history.compaction) replaces the file by a folded copy
under a new id and the next generation (`gen=`): see `follow` and `writer_lock`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from newsletter.db.faults import database_fault
from newsletter.errors import DatabaseError

if TYPE_CHECKING:
    from filelock import BaseFileLock

JOURNAL_NAME = "newsletter.journal"
HEADER = "# newsletter journal 1"
READ_CHUNK = 1 << 20
SYNC_SECONDS = 1.0  # delivery lines reach the disk within this (a power cut costs no more)
WRITER_PATIENCE = 30.0  # seconds a fact waits while a compaction swaps the file


@dataclass(frozen=True)
class Entry:
    kind: str  # L, B, I or D
    fields: tuple[str, ...]

    @property
    def subscriber_id(self) -> int:
        return int(self.fields[3] if self.kind == "D" else self.fields[2])

    @property
    def address(self) -> str:
        """The salted address hash (L, B and D entries)."""
        return self.fields[4] if self.kind == "D" else self.fields[3]


def address_hasher(salt: str) -> Callable[[str], str]:
    """The salted hash of an address key (the suppression list's and the journal's),
    made once per salt: a caller keeps it for all the addresses it hashes.

    hashlib is imported here, and secrets below: opening a project (`status`)
    loads neither (~4 ms of OpenSSL set-up).
    """
    import hashlib

    sha256 = hashlib.sha256
    return lambda email_key: sha256(f"{salt}:{email_key}".encode()).hexdigest()


class Journal:
    """One project's journal file; safe to append from several threads and processes."""

    def __init__(self, path: Path, journal_id: str, salt: str, generation: int = 0) -> None:
        self.path, self.id, self.salt, self.generation = path, journal_id, salt, generation
        self._fd: int | None = None
        self._torn = False  # the file ends mid-line: the next write ends it first
        self._pending_sync: threading.Timer | None = None  # delivery lines not yet on disk
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path) -> Journal | None:
        """The journal at `path`, or None if there is none.

        A journal whose first line cannot be read is an error, never a reason to
        start a new one: it holds who left, and a new journal would forget them.
        """
        try:
            with path.open("rb") as handle:
                words = header_words(handle.readline(200))
        except FileNotFoundError:
            return None
        except OSError as error:
            raise DatabaseError(f"cannot read the journal {path}: {error.strerror}") from None
        if words is None:
            raise DatabaseError(
                f"the journal {path} cannot be read: its first line is damaged",
                hint="put back a good copy of it (from a `newsletter backup` archive);"
                " it records who left, so newsletter will not replace it",
            )
        return cls(path, words["id"], words["salt"], int(words.get("gen", "0")))

    @classmethod
    def create(cls, path: Path, salt: str) -> Journal:
        """A new, empty journal; written to a temporary name first so it is never half there."""
        import secrets

        journal = cls(path, secrets.token_hex(8), salt)
        temporary = path.with_name(path.name + ".new")
        try:
            temporary.write_text(journal.header(), encoding="ascii")
            os.replace(temporary, path)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            raise journal_fault(path, error) from None
        return journal

    def header(self) -> str:
        """The file's first line."""
        generation = f" gen={self.generation}" if self.generation else ""
        return f"{HEADER} id={self.id} salt={self.salt}{generation}\n"

    def hash(self, email_key: str) -> str:
        return self._hasher(email_key)

    @cached_property
    def _hasher(self) -> Callable[[str], str]:
        return address_hasher(self.salt)

    # --- writing ---------------------------------------------------------------------

    def issue(self, at: str, slug: str, content_hash: str, subject: str) -> None:
        self.append([("I", at, slug, content_hash, subject)], sync=True)

    @staticmethod
    def delivery_prefix(slug: str) -> bytes:
        """How every delivery line of `slug` starts (for `entries`' only/skip)."""
        return f"D\t{_clean(slug)}\t".encode()

    def delivery(self, slug: str, state: str, subscriber_id: int, address: str) -> None:
        """`address` is the hash (see `hash`): the send computes it once per recipient.
        (Once per message: the line is written as it is; a slug has no tab or newline.)"""
        self._write(f"D\t{slug}\t{state}\t{subscriber_id}\t{address}\n", sync=False)

    def append(self, records: list[tuple[object, ...]], *, sync: bool) -> None:
        """One write of whole lines (O_APPEND keeps concurrent writers' lines apart)."""
        data = "".join("\t".join(_clean(v) for v in record) + "\n" for record in records)
        self._write(data, sync=sync)

    def _write(self, data: str, *, sync: bool) -> None:
        """People's facts (`sync`) come from any process at any moment, so they take the
        writer lock and follow a compaction's new file; delivery lines come only from a
        send, under the send lock, which keeps compaction away (and costs them nothing)."""
        if not sync:
            self._append(data, sync=False)
            return
        with self.writer_lock():
            self.follow()
            self._append(data, sync=True)

    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        """The journal's cross-process lock: a compaction holds it while it swaps the file."""
        try:
            self._file_lock.acquire(timeout=WRITER_PATIENCE)
        except OSError as error:  # filelock's Timeout is one
            raise journal_fault(self.path, error) from None
        try:
            yield
        finally:
            self._file_lock.release()

    @cached_property
    def _file_lock(self) -> BaseFileLock:
        from filelock import FileLock  # here: opening a project (`status`) need not load it

        return FileLock(self.path.with_name(self.path.name + ".lock"), thread_local=False)

    def follow(self) -> None:
        """Write to the file now at `path`, under its id, if a compaction replaced the one
        this process had open. Called where no compaction can run meanwhile (under the
        writer lock, the send lock, or a database write)."""
        current = Journal.open(self.path)
        if current is None:
            return
        with self._lock:
            try:
                if self._fd is not None and not os.path.samestat(
                    os.fstat(self._fd), os.stat(self.path)
                ):
                    self._close_fd()
            except OSError as error:
                raise journal_fault(self.path, error) from None
            self.id, self.generation = current.id, current.generation

    def _append(self, data: str, *, sync: bool) -> None:
        """Whole lines or nothing readable: a write the disk cut short leaves a torn
        line, so the next write first ends it with a marker line (never glues onto it)."""
        with self._lock:
            payload = data.encode("utf-8")
            written = 0
            try:
                fd = self._writer()
                if self._torn:
                    payload = TORN_MARKER + payload
                while written < len(payload):
                    done = os.write(fd, payload[written:])
                    if done == 0:
                        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                    written += done
                self._torn = False
                self._sync(fd, now=sync)
            except OSError as error:
                if written and not payload[:written].endswith(b"\n"):
                    self._torn = True
                raise journal_fault(self.path, error) from None

    def _writer(self) -> int:
        """The append handle, opened at the first write; a journal that ends mid-line
        (a crash or a full disk in an earlier run) gets its marker first."""
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | _BINARY)
            self._torn = _ends_mid_line(self.path)
        return self._fd

    def redact(self, address: str) -> int:
        """Blank, in place and at the same length, every line naming `address` but the
        ones that keep it suppressed (`forget`): returns how many.

        No byte moves and the file is never replaced, so appenders and readers in
        other processes are undisturbed; a blanked line no longer parses.
        """
        needle, spans = address.encode("ascii"), []
        try:
            with self._lock, self.path.open("r+b") as handle:
                for start, line in lines_holding(handle, needle):
                    at = line.find(needle)
                    if at < 0 or (line.startswith(b"L\t") and line.endswith(b"\tforgotten")):
                        continue
                    first = line.rfind(b"\t", 0, at - 1) + 1  # the id field, then the hash
                    spans.append((start + first, at + len(needle) - first))
                for offset, length in spans:
                    handle.seek(offset)
                    handle.write(b"-" * length)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as error:
            raise journal_fault(self.path, error) from None
        return len(spans)

    def _sync(self, fd: int, *, now: bool) -> None:
        """People's facts reach the disk before they are answered (`now`); delivery
        lines within SYNC_SECONDS (a timer), and at `close`: so a power cut costs at
        most the last second's records (see docs/data-safety.md)."""
        if now:
            os.fsync(fd)
            self._pending_sync = None
        elif self._pending_sync is None:
            self._pending_sync = threading.Timer(SYNC_SECONDS, self._sync_later)
            self._pending_sync.daemon = True
            self._pending_sync.start()

    def _sync_later(self) -> None:
        with self._lock:
            if self._fd is not None and self._pending_sync is not None:
                with contextlib.suppress(OSError):  # the next write or close reports it
                    os.fsync(self._fd)
            self._pending_sync = None

    def close(self) -> None:
        with self._lock:
            self._close_fd()

    def _close_fd(self) -> None:
        if self._fd is not None:
            pending, self._pending_sync = self._pending_sync, None
            try:
                if pending is not None:
                    pending.cancel()
                    with contextlib.suppress(OSError):  # written: the OS has the lines
                        os.fsync(self._fd)
            finally:
                os.close(self._fd)
                self._fd = None

    # --- reading ---------------------------------------------------------------------

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def tail(self, start: int) -> JournalTail:
        """A reader of what is appended after byte `start` (see `JournalTail`)."""
        return JournalTail(self.path, start)

    def entries(
        self, start: int = 0, *, only: bytes = b"", skip: bytes | None = None
    ) -> Iterator[tuple[int, Entry | None]]:
        """(offset after the line, entry) from byte `start`; only whole, valid lines.

        Lines that do not start with `only`, or start with `skip` (see
        `delivery_prefix`), are not even parsed (most of the cost of reading a journal
        that holds many sends); when the last lines read were such, (offset, None)
        tells the reader how far it got.
        """
        with self.path.open("rb") as handle:
            handle.seek(start)
            offset, rest = start, b""
            while chunk := handle.read(READ_CHUNK):
                data = rest + chunk
                if only and only not in data:  # no line here starts with it: not split
                    whole = data.rfind(b"\n") + 1
                    offset, rest = offset + whole, data[whole:]
                    yield offset, None
                    continue
                lines = data.split(b"\n")
                rest = lines.pop()
                passed = False  # lines passed over since the last entry
                for line in lines:
                    offset += len(line) + 1
                    if not line.startswith(only) or (skip and line.startswith(skip)):
                        passed = True
                        continue
                    entry = _parse(line)
                    if entry is not None:
                        passed = False
                        yield offset, entry
                if passed:
                    yield offset, None


class JournalTail:
    """Follows the journal's end with one open handle: each `new_people()` reads
    only the bytes appended since the last call (one read() call), and parses only
    the L and B lines among them; bytes holding none (a send's own delivery lines,
    which a claim reads back each time) are not even split into lines."""

    def __init__(self, path: Path, start: int) -> None:
        self._handle = path.open("rb", buffering=0)
        self._handle.seek(start)
        self._rest = b""

    def new_people(self) -> list[Entry]:
        data = self._read()
        if not data:
            return []
        data = self._rest + data
        end = data.rfind(b"\n") + 1
        whole, self._rest = data[:end], data[end:]
        if not (whole.startswith((b"L\t", b"B\t")) or b"\nL\t" in whole or b"\nB\t" in whole):
            return []
        people = (_parse(line) for line in whole.split(b"\n") if line[:2] in (b"L\t", b"B\t"))
        return [entry for entry in people if entry is not None]

    def _read(self) -> bytes:
        """Everything appended so far: one read() call unless it is a lot."""
        chunks = []
        while chunk := self._handle.read(READ_CHUNK):
            chunks.append(chunk)
            if len(chunk) < READ_CHUNK:
                break
        return b"".join(chunks)

    def close(self) -> None:
        self._handle.close()


_BINARY = getattr(os, "O_BINARY", 0)
TORN_MARKER = b"\n# torn line above: kept as it was, not read\n"


def header_words(first: bytes) -> dict[str, str] | None:
    """A journal's first line as its words (id, salt, gen), or None if it is not one."""
    line = first.decode("ascii", "replace")
    words = dict(w.split("=", 1) for w in line[len(HEADER) :].split() if "=" in w)
    return words if line.startswith(HEADER) and {"id", "salt"} <= words.keys() else None


def lines_holding(handle: BinaryIO, needle: bytes) -> Iterator[tuple[int, bytes]]:
    """(offset, line) of the whole lines holding `needle`; chunks without it are not split."""
    offset, rest = 0, b""
    while chunk := handle.read(READ_CHUNK):
        data = rest + chunk
        whole = data.rfind(b"\n") + 1
        if needle in data[:whole]:
            position = offset
            for line in data[:whole].split(b"\n")[:-1]:
                if needle in line:
                    yield position, line
                position += len(line) + 1
        offset, rest = offset + whole, data[whole:]


def _ends_mid_line(path: Path) -> bool:
    with path.open("rb") as handle:
        if handle.seek(0, os.SEEK_END) == 0:
            return False
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) != b"\n"


def journal_fault(path: Path, error: OSError) -> DatabaseError:
    """A failed append as one line (a full disk says so): nothing was half-recorded."""
    return database_fault(error, f"cannot write the journal {path}")


_SHAPES = {"L": 5, "B": 5, "I": 5, "D": 5, "F": 5}
_ID = re.compile(r"[0-9]{1,18}")
_HASH = re.compile(r"[0-9a-f]{64}")  # a line cut short inside its hash is not a fact


def _clean(value: object) -> str:
    return str(value).replace("\t", " ").replace("\r", " ").replace("\n", " ")


def _parse(line: bytes) -> Entry | None:
    if not line or line.startswith(b"#"):
        return None
    fields = tuple(line.decode("utf-8", "replace").split("\t"))
    if _SHAPES.get(fields[0]) != len(fields):
        return None
    entry = Entry(fields[0], fields)
    if entry.kind not in "IF" and not (
        _ID.fullmatch(_id_text(entry)) and _HASH.fullmatch(entry.address)
    ):
        return None
    return entry


def _id_text(entry: Entry) -> str:
    return entry.fields[3] if entry.kind == "D" else entry.fields[2]


def journal_path(database_path: Path) -> Path:
    return database_path.with_name(JOURNAL_NAME)
