"""Fixtures for the web handler's tests: people with tokens, a served app, its log."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from waitress import wasyncore

from newsletter.project import open_project
from newsletter.web.app import create_app
from newsletter.web.server import make_server

from support.browser import CHROMIUM, FLAGS
from support.web import People, Records, Server


@pytest.fixture
def people(project: Path) -> People:
    with open_project(project) as (_config, store):
        rosa = store.add_subscriber("rosa@example.org", name="Rosa").subscriber
        left = store.add_subscriber("olu@example.org", name="Olu").subscriber
        store.unsubscribe(left.id, "cli")
        gone = store.add_subscriber("bo@example.net", name="Bo").subscriber
        store.record_bounce(gone.id, "550 no such user", limit=1)
        return People(rosa, store.get_by_id(left.id), store.get_by_id(gone.id))


@pytest.fixture
def server(project: Path, people: People) -> Iterator[Server]:
    """waitress serving the project's app on a free loopback port, in a thread."""
    app = create_app(project)
    waitress_server = make_server(app, "127.0.0.1", 0, threads=4)
    thread = threading.Thread(target=waitress_server.run, daemon=True)
    thread.start()
    try:
        yield Server("127.0.0.1", waitress_server.effective_port)
    finally:
        # Close every socket from inside the loop's own thread; the loop then ends.
        # Stopping waitress from another thread is racy (Pylons/waitress#468); if
        # the trigger's pipe is already gone, empty the map: the loop ends within
        # its 1 s poll timeout.
        try:
            waitress_server.trigger.pull_trigger(
                lambda: wasyncore.close_all(waitress_server._map, ignore_all=True)
            )
        except OSError:
            wasyncore.close_all(waitress_server._map, ignore_all=True)
        thread.join(timeout=10)
        waitress_server.task_dispatcher.shutdown(timeout=5)
        app.close()
        assert not thread.is_alive(), "the waitress loop did not stop"


@pytest.fixture
def web_log() -> Iterator[list[str]]:
    """Every line the web app logs (access log and errors) during the test."""
    handler = Records()
    logger = logging.getLogger("newsletter.web")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's chromium driven by playwright, one per test module."""
    from playwright.sync_api import sync_playwright

    # launch() gives chromium a fresh temporary profile of its own (it refuses --user-data-dir)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()
