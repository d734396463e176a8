"""Running the real send (send_issue) from a test, with quick retries."""

from __future__ import annotations

from pathlib import Path

from newsletter.project import open_project
from newsletter.sending.campaign import send_issue
from newsletter.sending.deliveries import DELIVERY_STATUSES
from newsletter.sending.ledger import Ledger
from newsletter.sending.run import SendSettings
from newsletter.sending.transport import plan_transport

from support.smtp import simple_builder

SLUG = "2026-12"
FAST = {"backoff_base": 0.01, "backoff_max": 0.05}


def send(
    project: Path, *, hash_: str = "h1", settings: dict | None = None, slug: str = SLUG, **options
):  # noqa: ANN201
    """Run the real send_issue with the tiny builder; returns (report, status)."""
    build = options.pop("build", None) or simple_builder()
    context = options.pop("ssl_context", None)
    with open_project(project) as (config, store):
        transport = plan_transport(config, ssl_context=context)
        tuned = SendSettings.from_config(config, transport.connections, transport.rate)
        tuned = SendSettings(**{**tuned.__dict__, **FAST, **(settings or {})})
        _plan, report = send_issue(
            config, store, slug, "Subject", hash_, build, transport,
            confirm=lambda plan: True, settings=tuned, **options,
        )  # fmt: skip
        return report, Ledger(store).status(slug)


def counts_by_rows(db, slug: str) -> dict[str, dict[str, int]]:  # noqa: ANN001
    """What `status` must show by language, counted straight from the delivery rows
    (the query `status` ran before the counts were kept: see migration 0006)."""
    found: dict[str, dict[str, int]] = {}
    for language, status, n in db.execute(
        "SELECT coalesce(d.language, s.language, ''), d.status, count(*)"
        " FROM deliveries d LEFT JOIN subscribers s ON s.id = d.subscriber_id"
        " WHERE d.issue_slug = ? GROUP BY 1, 2",
        [slug],
    ):
        found.setdefault(language, dict.fromkeys(DELIVERY_STATUSES, 0))[status] = n
    return found


def assert_counts_match_rows(store) -> None:  # noqa: ANN001
    """The counts the triggers keep equal a COUNT(*) over the rows, for every issue,
    and so does what `status` reports by language."""
    db = store.conn
    grouped = (
        "SELECT issue_slug, status, coalesce(language, ''), language IS NULL, count(*)"
        " FROM deliveries GROUP BY 1, 2, 3, 4"
    )
    kept = "SELECT issue_slug, status, language, unfrozen, n FROM delivery_counts WHERE n != 0"
    assert sorted(db.execute(kept).fetchall()) == sorted(db.execute(grouped).fetchall())
    ledger = Ledger(store)
    try:
        for (slug,) in db.execute("SELECT slug FROM issues").fetchall():
            status = ledger.status(slug)
            assert status is not None and status.by_language == counts_by_rows(db, slug)
    finally:
        ledger.close()
