"""Fixtures for the sending tests: relays that refuse the way real ones do."""

from __future__ import annotations

import pytest

from support.faults import GreetingRefuser, ScriptedSink
from support.smtp import start_server


@pytest.fixture
def scripted_server():
    """aiosmtpd answering from a script (see support/faults.py): set its
    `handler.rcpt_all`, `handler.data_all`, `handler.rcpt[...]`, `handler.silent_after`."""
    controller, server = start_server(ScriptedSink())
    yield server
    controller.stop()


@pytest.fixture
def greeting_refuser():
    refuser = GreetingRefuser()
    yield refuser
    refuser.close()


@pytest.fixture(scope="module")
def shared_scripted_server():
    """One scripted relay for a whole module (hypothesis runs many examples on it)."""
    controller, server = start_server(ScriptedSink())
    yield server
    controller.stop()
