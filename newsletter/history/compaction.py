"""Compaction: the journal folded, so it grows with people, not with every send.

A finished issue (nothing of it left queued or in flight) has done its work in
the journal line by line; once a later issue has finished too, its delivery
lines are folded into one line, `F at slug sent failed`. The most recently
finished issue keeps its lines, so that restoring the backup taken just before
its send (the usual one after a loss) still knows exactly who has it.

Kept as they were: who left or came back (L, B), every frozen issue (I), and the
delivery lines of issues not finished. Dropped: lines that no longer parse
(blanked by `forget`, torn by a full disk, their markers) and any line of a
person forgotten after it (what `forget` blanks).

The folded copy is written beside the journal, synced, and put in its place in
one rename, under a new id and the next generation: a kill at any moment leaves
the old journal or the new one, both whole. A database that knew the old id
(a restored copy) reads the new file from its start, matching people by hash;
an `F` line tells it the issue finished (see `Ledger.settle_folded`).

It runs under the send lock (no claim, freeze or send reads the old file), and
other processes' facts wait on the journal's writer lock while the file is
swapped (see `Journal._write`); the long part, reading and folding, runs
before either lock. A compaction that cannot run (a full disk, a busy database,
Windows refusing to replace an open file) changes nothing and is tried again
after the next finished send or `backup`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from newsletter.config import Config
from newsletter.db.journal import Entry, Journal, lines_holding
from newsletter.db.recovery import meta_value
from newsletter.errors import NewsletterError
from newsletter.history.facts import mark_applied
from newsletter.history.replay import catch_up
from newsletter.subscribers.store import Store

Finished = dict[str, tuple[str, int, int]]  # slug -> (finished at, sent, failed)
FORGOTTEN = b"\tforgotten"


@dataclass(frozen=True)
class Compacted:
    before: int  # bytes
    after: int
    folded: tuple[str, ...]  # the finished issues


def compact(store: Store, newest: str | None = None) -> Compacted | None:
    """Fold the journal (the caller holds the send lock); None when there was nothing
    to fold or it cannot run now. Never raises for a machine fault: a send or a
    backup that calls it keeps its own outcome. `newest`: the issue a send has
    just finished (else the last `finished_at` tells)."""
    journal = store.journal
    if journal is None:
        return None
    partial = journal.path.with_name(journal.path.name + ".compact")
    try:
        return _compact(store, journal, partial, newest)
    except (OSError, sqlite3.Error, NewsletterError):
        return None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)


def compact_when_idle(config: Config, store: Store) -> Compacted | None:
    """Compaction outside a send (`backup`): only when no send holds the lock."""
    from newsletter.sending.lock import send_lock, send_running

    if send_running(config.project_dir):
        return None
    with contextlib.suppress(NewsletterError), send_lock(config.project_dir):
        return compact(store)
    return None


def _compact(store: Store, journal: Journal, partial: Path, newest: str | None) -> Compacted | None:
    catch_up(store)  # the database has every fact, so what it calls finished, is
    finished = _to_fold(store, newest)
    before = journal.size()
    successor = Journal(partial, secrets.token_hex(8), journal.salt, journal.generation + 1)
    with partial.open("wb") as out:
        out.write(successor.header().encode("ascii"))
        end = _fold(journal, before, finished, out)
        if out.tell() >= end:
            return None  # nothing worth a new file
    with store.write():  # no other command catches up (reads the file) meanwhile
        unplaced = meta_value(store.conn, "journal_unplaced") == journal.id
        with journal.writer_lock():  # no fact is appended meanwhile
            catch_up(store)  # what others wrote while it folded
            size = _append_tail(journal.path, end, successor)
            os.replace(partial, journal.path)
            journal.follow()
        mark_applied(store.conn, journal, size, unplaced=unplaced)
    return Compacted(before, size, tuple(sorted(finished)))


def _to_fold(store: Store, newest: str | None) -> Finished:
    """The finished issues but the most recent (see the module's docstring; two
    finished within the same second are both kept)."""
    from newsletter.sending.ledger import Ledger  # here: `status` opens without the send's code

    finished = Ledger(store).finished_issues()
    if newest is not None:
        return {slug: done for slug, done in finished.items() if slug != newest}
    last = max((done[0] for done in finished.values()), default="")
    return {slug: done for slug, done in finished.items() if done[0] < last}


def _fold(journal: Journal, size: int, finished: Finished, out: BinaryIO) -> int:
    """The lines in the first `size` bytes, folded (see the module's docstring), then
    one F line per finished issue; returns where the last line read ends."""
    forgotten = _forgotten(journal.path, size)
    end = 0
    for offset, entry in journal.entries():
        if offset > size:
            break
        end = offset
        if entry is not None and _kept(entry, offset, finished, forgotten):
            out.write(("\t".join(entry.fields) + "\n").encode("utf-8"))
    for slug, (at, sent, failed) in sorted(finished.items()):
        out.write(f"F\t{at}\t{slug}\t{sent}\t{failed}\n".encode())
    return end


def _kept(entry: Entry, offset: int, finished: Finished, forgotten: dict[str, int]) -> bool:
    if entry.kind in "DF" and entry.fields[2 if entry.kind == "F" else 1] in finished:
        return False  # folded: one F line says it
    if entry.kind in "IF":
        return True
    if entry.kind == "L" and entry.fields[4] == "forgotten":
        return True  # the suppression's hash
    return offset > forgotten.get(entry.address, -1)  # nothing of theirs before a forget


def _forgotten(path: Path, end: int) -> dict[str, int]:
    """address hash -> where the last `forget` of them starts (the lines before it,
    `Journal.redact` blanks; one it did not finish is finished here)."""
    found: dict[str, int] = {}
    with path.open("rb") as handle:
        for start, line in lines_holding(handle, FORGOTTEN):
            if start >= end:
                break
            address = _forgotten_address(line)
            if address is not None:
                found[address] = start
    return found


def _forgotten_address(line: bytes) -> str | None:
    """The address hash of a `forget`'s L line, or None for any other line."""
    fields = line.split(b"\t")
    if fields[0] == b"L" and len(fields) == 5 and fields[4] == FORGOTTEN[1:]:
        return fields[3].decode("ascii", "replace")
    return None


def _append_tail(path: Path, end: int, successor: Journal) -> int:
    """The whole lines others appended after `end` (people's facts: no send runs),
    as they are, onto the folded copy, synced; a person forgotten among them is
    blanked there too. Returns the copy's size."""
    with path.open("rb") as handle:
        handle.seek(end)
        tail = handle.read()
    tail = tail[: tail.rfind(b"\n") + 1]  # a torn last line is not a fact
    with successor.path.open("ab") as out:
        out.write(tail)
        out.flush()
        os.fsync(out.fileno())
        size = out.tell()
    for line in tail.split(b"\n"):
        address = _forgotten_address(line)
        if address is not None:
            successor.redact(address)
    return size
