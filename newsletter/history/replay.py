"""Bring a database up to what the journal knows, through the domain's own doors.

A database restored from an older copy, rebuilt empty, or that missed a write
(an unsubscribe journalled while an import held it) is behind its journal. The
facts it lacks are applied here by the functions every command uses:
`Store.unsubscribe`, `Store.mark_bounced`, `Store.erase` (a journalled forget),
and the ledger's `move_forward`; so each rule exists once.
"""

from __future__ import annotations

from newsletter.db.journal import Entry, Journal
from newsletter.db.recovery import DELIVERED
from newsletter.history.facts import Facts, mark_applied, unapplied_facts
from newsletter.subscribers.store import Store


def catch_up(store: Store, *, sent_here: str | None = None) -> int:
    """Apply what the journal holds beyond this database; returns the facts read.
    (`sent_here`: see `unapplied_facts`.)"""
    journal = store.journal
    if journal is None:
        return 0
    with store.write():
        journal.follow()  # a compaction may have replaced the file since it was opened
        facts = unapplied_facts(store.conn, journal, sent_here=sent_here)
        if facts is None:
            return 0
        unplaced = False
        if facts.issues or facts.deliveries:
            unplaced = _apply_issues_and_deliveries(store, journal, facts)
        _apply_people(store, journal, facts)
        mark_applied(store.conn, journal, facts.end, unplaced=unplaced)
    return facts.read


def attach(store: Store) -> Store:
    """Let the import and the send catch up after holding the database, and a send
    that finished an issue compact the journal (they sit below this layer, so they
    are handed these rather than importing them)."""
    store.catch_up = lambda sent_here=None: catch_up(store, sent_here=sent_here)
    store.compact = lambda newest: _compact(store, newest)
    return store


def _compact(store: Store, newest: str) -> object:
    # imported here: opening a project (`status`) loads neither it nor `secrets`
    from newsletter.history.compaction import compact

    return compact(store, newest)


def _apply_issues_and_deliveries(store: Store, journal: Journal, facts: Facts) -> bool:
    """True when some delivery lines name no row here (see `unplaced_from`)."""
    from newsletter.sending.ledger import Ledger  # here: `status` opens without the send's code

    ledger = Ledger(store)
    for entry in facts.issues:
        if entry.kind == "F":  # finished, its delivery lines folded (history.compaction)
            ledger.settle_folded(slug=entry.fields[2], at=entry.fields[1])
            continue
        _kind, at, slug, content_hash, subject = entry.fields
        ledger.know_issue(slug, subject, content_hash, at)
    deliveries = list(facts.deliveries.values())
    here = store.ids_matching({e.subscriber_id: e.address for e in deliveries}, journal.hash)
    ledger.move_forward(
        [(e.fields[1], e.subscriber_id, e.fields[2]) for e in deliveries if e.subscriber_id in here]
    )
    ledger.close()
    return any(e.subscriber_id not in here and e.fields[2] in DELIVERED for e in deliveries)


def _apply_people(store: Store, journal: Journal, facts: Facts) -> None:
    """Whoever left, by the journal's last word on them, leaves again (or is
    suppressed when this database does not hold them); who came back is unsuppressed."""
    leaving = [entry for entry in facts.people.values() if entry.kind == "L"]
    here = store.ids_matching({e.subscriber_id: e.address for e in leaving}, journal.hash)
    elsewhere = {e.address for e in leaving if e.subscriber_id not in here}
    found = store.ids_by_hash(elsewhere, journal.hash) if facts.whole and elsewhere else {}
    for entry in leaving:
        subscriber_id = (
            found.get(entry.address) if entry.address in elsewhere else entry.subscriber_id
        )
        if subscriber_id is None:
            reason = "forgotten" if entry.fields[4] == "forgotten" else "left"
            store.suppress_hash(entry.address, reason, entry.fields[1])
        else:
            _leave(store, subscriber_id, entry)
    store.unsuppress_hashes([e.address for e in facts.people.values() if e.kind == "B"])


def _leave(store: Store, subscriber_id: int, entry: Entry) -> None:
    _kind, at, _id, _hash, via = entry.fields
    if via == "forgotten":  # erased at their request: a restored copy must not bring them back
        subscriber = store.get_by_id(subscriber_id)
        if subscriber is not None:
            store.erase(subscriber)
    elif via == "bounce":
        store.mark_bounced(subscriber_id, journaled=True)
    else:
        store.unsubscribe(
            subscriber_id, via, detail=f"at {at}, replayed from the journal", journaled=True
        )
