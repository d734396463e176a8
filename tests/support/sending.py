"""Running the real send (send_issue) from a test, with quick retries."""

from __future__ import annotations

from pathlib import Path

from newsletter.project import open_project
from newsletter.sending.campaign import send_issue
from newsletter.sending.ledger import Ledger
from newsletter.sending.loop import SendSettings
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
