"""Fixtures for the web handler's tests: people with tokens, the app served or called
in-process, its log (the browser is in tests/conftest.py)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from newsletter.project import open_project
from newsletter.web.access_log import AccessLog
from newsletter.web.app import create_app
from newsletter.web.server import make_server

from support.web import InProcess, People, Records, Server, stop_waitress


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
def serve(project: Path) -> Iterator[Callable[..., Server]]:
    """serve(config_text="", **waitress_options): waitress serving the project's app on
    a free loopback port, in a thread; `config_text` is appended to newsletter.toml
    first. The Server's `app` is the WSGI app (its `.app.worker` the mail worker,
    woken at once and retrying after 0.3 s here). Stopped at teardown."""
    running = []

    def start(config_text: str = "", **options: object) -> Server:
        app = project_app(project, config_text)
        waitress_server = make_server(app, "127.0.0.1", 0, threads=4, **options)
        thread = threading.Thread(target=waitress_server.run, daemon=True)
        thread.start()
        running.append((waitress_server, thread, app))
        return Server("127.0.0.1", waitress_server.effective_port, app, waitress=waitress_server)

    yield start
    for waitress_server, thread, app in running:
        try:
            stop_waitress(waitress_server, thread)
        finally:
            app.close()


@pytest.fixture
def in_process(project: Path) -> Iterator[Callable[..., InProcess]]:
    """in_process(config_text=""): the app `serve` serves, called directly in the test's
    thread (no waitress, no socket): for what pages say and do. Closed at teardown."""
    apps: list[AccessLog] = []

    def start(config_text: str = "") -> InProcess:
        apps.append(project_app(project, config_text))
        return InProcess(app=apps[-1])

    yield start
    for app in apps:
        app.close()


@pytest.fixture
def client(in_process: Callable[..., InProcess], people: People) -> InProcess:
    """The project's app with its default settings, called in-process, with `people` in it."""
    return in_process()


def project_app(project: Path, config_text: str) -> AccessLog:
    """`config_text` appended to newsletter.toml, then the app with its mail worker
    started (woken at once, retrying after 0.3 s)."""
    if config_text:
        with (project / "newsletter.toml").open("a", encoding="utf-8") as handle:
            handle.write("\n" + config_text + "\n")
    app = create_app(project, mail_worker=False)
    app.app.worker.poll_seconds = 0.2
    app.app.worker.retry_seconds = 0.3
    app.app.worker.start()
    return app


@pytest.fixture
def server(serve: Callable[..., Server], people: People) -> Server:
    """The project's app served with its default settings, with `people` in it."""
    return serve()


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
