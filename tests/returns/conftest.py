"""Fixtures for the return mailbox: a real Postfix writing real DSNs, a real Dovecot.

Both are session-scoped (started once, about 3 s for Postfix, a blink for
Dovecot) and skipped with a reason on a machine without the Debian packages.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from support.mailservers import Dovecot, FinalMx, Postfix
from support.render import fill_in
from support.returns import SLUG, enable_returns, sent_to
from support.smtp import add_subscribers, start_server

IMAP_USER, IMAP_PASSWORD = "bounces@example.org", "imap-secret"


@pytest.fixture
def sent(project: Path, store, cli):  # noqa: ANN001, ANN201
    """An issue sent to the outbox with VERP on; returns its deliveries by address."""
    enable_returns(project)
    add_subscribers(store, 8)
    cli("issue", "new", SLUG, "--subject", "Co-pro Newsletter, December")
    fill_in(project, SLUG)
    result = cli("send", SLUG, "--yes")
    assert result.exit_code == 0, result.output
    return sent_to(project, SLUG)


@pytest.fixture(scope="session")
def final_mx():
    """The far side of the relay: recipients' servers and the bounce mailbox."""
    maildir = Path(tempfile.mkdtemp(prefix="newsletter-returns-"))
    controller, server = start_server(FinalMx(maildir=maildir / "returns"))
    yield server
    controller.stop()
    shutil.rmtree(maildir, ignore_errors=True)


@pytest.fixture(scope="session")
def postfix(final_mx):
    if shutil.which("postfix") is None or os.geteuid() != 0:
        pytest.skip("needs Debian's postfix and root (the CI machine has both)")
    server = Postfix(relay_port=final_mx.port)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dovecot(certificate):
    if shutil.which("dovecot") is None:
        pytest.skip("needs Debian's dovecot-imapd (the CI machine has it)")
    cert, key = certificate
    server = Dovecot(cert, key, IMAP_USER, IMAP_PASSWORD)
    server.start()
    yield server
    server.stop()
