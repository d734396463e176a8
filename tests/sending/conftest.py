"""Fixtures for the sending tests: relays that refuse the way real ones do."""

from __future__ import annotations

import pytest

from support.faults import GreetingRefuser, PipeliningScriptedSink, ScriptedSink
from support.pipelined import PipeliningSink, StallingSink
from support.render import fill_in
from support.smtp import Server, start_server
from support.wiretap import Wiretap


@pytest.fixture
def issue(cli, project) -> str:
    """Issue 2026-12, written and ready to send (it passes the checks)."""
    assert cli("issue", "new", "2026-12", "--subject", "December").exit_code == 0
    fill_in(project, "2026-12")
    return "2026-12"


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


@pytest.fixture(params=["plain", "pipelining"])
def either_scripted_server(request):  # noqa: ANN001, ANN201
    """scripted_server twice: as it is, and offering PIPELINING."""
    handler = ScriptedSink() if request.param == "plain" else PipeliningScriptedSink()
    controller, server = start_server(handler)
    yield server
    controller.stop()


@pytest.fixture(scope="module")
def shared_scripted_server():
    """One scripted relay for a whole module (hypothesis runs many examples on it)."""
    controller, server = start_server(ScriptedSink())
    yield server
    controller.stop()


def _tapped(handler: PipeliningSink):  # noqa: ANN202
    controller, server = start_server(handler)
    tap = Wiretap(server.port)
    yield Server(server.handler, tap.port), tap
    tap.close()
    controller.stop()


@pytest.fixture
def tapped_pipelining_server():
    """A relay offering PIPELINING, reached through a wiretap (support/wiretap.py) that
    logs what client and server wrote, in order: (Server at the tap's port, Wiretap)."""
    yield from _tapped(PipeliningSink())


@pytest.fixture
def tapped_stalling_server():
    """As tapped_pipelining_server, with a StallingSink (support/pipelined.py): set
    `handler.stall_after`; `handler.release()` lets it answer again."""
    yield from _tapped(StallingSink())
