"""One connection, its write transactions, and the journal lines that commit with them.

`Store` (and through it the ledger, the import, the web handler) builds on this.
Everything goes through the plain sqlite3 connection: reads by `query` and
`one`, writes by `conn.execute` inside `write()`; sqlite-utils only migrates.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Self

from newsletter.db.journal import Journal
from newsletter.errors import DatabaseError


class DatabaseSession:
    def __init__(
        self, conn: sqlite3.Connection, clock: Callable[[], str], journal: Journal | None
    ) -> None:
        self.conn = conn
        self.clock = clock
        self.journal = journal
        self._unwritten: list[tuple[object, ...]] = []  # journal lines awaiting COMMIT
        # Applies what others journalled while this session held the database (an
        # unsubscribe during an import), and folds the journal after a send finishes
        # an issue: set by newsletter.history.replay.attach, which sits above the
        # import and the send that call them.
        self.catch_up: Callable[..., int] = _nothing_to_apply
        self.compact: Callable[[str], object] = lambda _newest: None

    def query(self, sql: str, params: list[Any] | None = None) -> Iterator[dict[str, Any]]:
        """Rows as dicts, read as they are iterated (as sqlite-utils' `Database.query`)."""
        cursor = self.conn.execute(sql, params or [])
        names = [column[0] for column in cursor.description]
        return (dict(zip(names, row, strict=True)) for row in cursor)

    def one(self, sql: str, params: list[Any] | None = None) -> dict[str, Any] | None:
        """The first row of a query, or None."""
        return next(self.query(sql, params), None)

    def row(self, sql: str, params: list[Any] | None = None) -> dict[str, Any]:
        """The first row of a query that always has one: a count, a meta key the
        schema writes, a row this connection has just written."""
        row = self.one(sql, params)
        if row is None:
            raise DatabaseError(
                f"the database lacks a row it must have: {sql}",
                hint="restore the newest good backup: `newsletter restore`",
            )
        return row

    def value(self, sql: str, params: list[Any] | None = None) -> Any:
        """The first column of `row(sql, params)`."""
        return next(iter(self.row(sql, params).values()))

    def close(self) -> None:
        self.conn.close()
        if self.journal is not None:
            self.journal.close()

    @contextmanager
    def write(self) -> Iterator[Self]:
        """One IMMEDIATE transaction; nested calls become savepoints."""
        if self.conn.in_transaction:
            mark = len(self._unwritten)
            self.conn.execute("SAVEPOINT store_write")
            try:
                yield self
            except BaseException:
                del self._unwritten[mark:]  # rolled back to the savepoint: so are they
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK TO store_write")
                    self.conn.execute("RELEASE store_write")
                raise
            self.conn.execute("RELEASE store_write")
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
            self._write_journal()  # before COMMIT: the journal never knows less
            self.conn.execute("COMMIT")
        except BaseException:
            self._unwritten.clear()
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    def journal_lines(self, records: list[tuple[object, ...]]) -> None:
        """Journal L/B lines: at once outside a transaction; inside one, when it commits
        (a dry run's rollback must not leave a journalled unsubscribe behind)."""
        if self.journal is None or not records:
            return
        if self.conn.in_transaction:
            self._unwritten.extend(records)
        else:
            self.journal.append(records, sync=True)

    def _write_journal(self) -> None:
        records, self._unwritten = self._unwritten, []
        if records and self.journal is not None:
            self.journal.append(records, sync=True)


def _nothing_to_apply(sent_here: str | None = None) -> int:
    return 0
