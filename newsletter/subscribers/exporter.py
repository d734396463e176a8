"""Subscribers -> CSV that `import` reads back to the same data.

The columns are the import's own names (see `columns.EXPORT_COLUMNS`) followed
by one column per attribute key, so export -> edit in a spreadsheet -> import
is a safe round trip: the status column keeps people who left from being
activated again. Tokens are credentials and are never exported. Rows stream
from the database, so memory stays flat for any list size.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import Any, TextIO

from newsletter.errors import InputError
from newsletter.subscribers.columns import EXPORT_COLUMNS
from newsletter.subscribers.consent import latest_consent
from newsletter.subscribers.formulas import guard_cell
from newsletter.subscribers.model import Subscriber
from newsletter.subscribers.store import Store


def export_csv(store: Store, out: TextIO, status: str | None = None) -> int:
    """Write the subscribers (of `status`, or all) to `out`; returns how many."""
    subscribers = store.list_subscribers(status)
    first = next(subscribers, None)  # an unknown status fails here, before any output
    keys = store.attribute_keys(status)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*EXPORT_COLUMNS, *keys])
    count = 0
    for subscriber in chain([first] if first else [], subscribers):
        writer.writerow(_row(subscriber, keys))
        count += 1
    return count


JSON_FIELDS = (
    "id",
    "email",
    "name",
    "organisation",
    "language",
    "attributes",
    "status",
    "source",
    "subscribed_at",
    "unsubscribed_at",
    "left_via",
    "bounce_count",
)


def json_records(
    store: Store, status: str | None = None, search: str | None = None
) -> Iterator[dict[str, Any]]:
    """Every field but the token, and the latest consent record (null when there is none:
    people who came by import or `add`)."""
    for subscriber in store.list_subscribers(status, search):
        record = {name: getattr(subscriber, name) for name in JSON_FIELDS}
        consent = latest_consent(store, subscriber.id)
        record["consent"] = consent.as_json() if consent else None
        yield record


def export_json(
    store: Store, out: TextIO, status: str | None = None, search: str | None = None
) -> int:
    """A JSON array, one subscriber a line, streamed so memory stays flat; returns how many."""
    records = json_records(store, status, search)
    first = next(records, None)  # an unknown status fails here, before any output
    out.write("[")
    count = 0
    for record in chain([first] if first else [], records):
        out.write(",\n" if count else "\n")
        out.write(json.dumps(record, ensure_ascii=False))
        count += 1
    out.write("\n]\n")
    return count


def export_file(
    store: Store, path: Path, status: str | None = None, *, as_json: bool = False
) -> int:
    """Export into `path` (CSV, or JSON; checked by `Config.output_file`), replaced
    only when complete.

    CSV is UTF-8 with a BOM, so a spreadsheet opened by double-click shows `ŵ`
    and `â` rather than mojibake; `import` reads either form.
    """
    partial = path.with_name(f".{path.name}.partial")
    try:
        encoding = "utf-8" if as_json else "utf-8-sig"
        with partial.open("w", encoding=encoding, newline="") as handle:
            write = export_json if as_json else export_csv
            count = write(store, handle, status)
        os.replace(partial, path)
    except OSError as error:
        raise InputError(f"cannot write {path}: {error.strerror}") from None
    finally:
        partial.unlink(missing_ok=True)
    return count


def _row(subscriber: Subscriber, keys: list[str]) -> list[str]:
    """One subscriber's cells, each safe to open in a spreadsheet (see `formulas`)."""
    attributes = subscriber.attributes
    cells = [
        subscriber.email,
        subscriber.name,
        subscriber.organisation,
        subscriber.language,
        subscriber.status,
        subscriber.source,
        subscriber.subscribed_at or "",
        *("" if attributes.get(key) is None else str(attributes[key]) for key in keys),
    ]
    return [guard_cell(cell) for cell in cells]
