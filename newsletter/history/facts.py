"""What the journal holds beyond what a database has applied, read for the replay.

A database restored from an older copy remembers an older offset, so
`unapplied_facts` returns everything recorded since; `replay.catch_up` applies
it, and `mark_applied` records how far the database now is.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from newsletter.db.journal import Entry, Journal
from newsletter.db.recovery import meta_value, set_applied


@dataclass
class Facts:
    """What the journal holds beyond what a database has applied, each fact's last word."""

    people: dict[str, Entry] = field(default_factory=dict)  # by address hash
    deliveries: dict[tuple[str, int], Entry] = field(default_factory=dict)  # (slug, id)
    issues: list[Entry] = field(default_factory=list)  # I and F lines, in order
    read: int = 0  # entries read
    end: int = 0  # the offset after the last one
    whole: bool = False  # read from the start: ids cannot be trusted, hashes are matched


def unapplied_facts(
    db: sqlite3.Connection, journal: Journal, *, sent_here: str | None = None
) -> Facts | None:
    """The facts since this database's offset (None: it has them all).

    `sent_here`: an issue whose delivery lines beyond the offset this process wrote
    itself, each with a database change that succeeded: they are skipped unread.
    """
    known = meta_value(db, "journal_id") == journal.id
    start = int(meta_value(db, "journal_offset") or 0) if known else 0
    if start > journal.size():
        start = 0  # the journal was cut short: read all that is left
    if known and start == journal.size():
        return None
    skip = journal.delivery_prefix(sent_here) if sent_here is not None and known else None
    facts = Facts(end=start, whole=not known or start == 0)
    for end, entry in journal.entries(start, skip=skip):
        facts.end = end
        if entry is None:  # skipped unread: already in the database
            continue
        facts.read += 1
        if entry.kind in "LB":
            facts.people[entry.address] = entry
        elif entry.kind in "IF":
            facts.issues.append(entry)
        else:
            facts.deliveries[(entry.fields[1], entry.subscriber_id)] = entry
    return facts


def mark_applied(
    db: sqlite3.Connection, journal: Journal, offset: int, *, unplaced: bool = False
) -> None:
    """This database now holds everything the journal says up to `offset`;
    `unplaced`: but for delivery lines of people it holds under no matching id."""
    set_applied(db, journal, offset)
    if unplaced:
        db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('journal_unplaced', ?)", [journal.id]
        )
