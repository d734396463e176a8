"""`forget` erases a person from every table and from the journal's lines about
them, and no restore brings them back: the test reads the schema, so a table
added later is searched too."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path

from newsletter.config import load_config
from newsletter.db.journal import Journal
from newsletter.project import open_project
from newsletter.sending.mail_queue import enqueue
from newsletter.subscribers.consent import register_wording
from newsletter.subscribers.signups import SignupRequest, confirm, open_signup, queue_request
from newsletter.web.joining_mail import JoiningMail

from support.render import fill_in
from support.smtp import add_subscribers

EMAIL = "Gwen.Jones@Example.org"
NAME = "Gwen Jones"
IP = "203.0.113.77"
SLUG = "2026-12"


def join_with_consent(store, project: Path) -> str:  # noqa: ANN001
    """Gwen joins through the form (consent kept with her IP), gets a welcome mail
    queued, then asks to join again (a pending sign-up, a queued request)."""
    wording = register_wording(store, "en", "I agree.")
    request = SignupRequest(EMAIL, name=NAME, wording_id=wording.id, client_ip=IP)
    with store.write():
        invitation = open_signup(store, request, valid_for=timedelta(days=2), per_address=5)
    person = confirm(store, invitation.token, wording.id, client_ip=IP)
    with store.write():
        again = open_signup(store, request, valid_for=timedelta(days=2), per_address=5)
        message = JoiningMail(load_config(project)).confirmation(again)
        enqueue(store, "confirmation", EMAIL, message, again.signup.expires_at)
    queue_request(store, request)
    return person.token


def traces(database: Path, needles: list[str]) -> list[str]:
    """Every (table, column) of the schema whose values hold one of the needles."""
    found = []
    with closing(sqlite3.connect(database)) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            cursor = db.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from the schema
            columns = [c[0] for c in cursor.description]
            for row in cursor:
                for column, value in zip(columns, row, strict=True):
                    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                    found += [f"{table}.{column}: {needle}" for needle in needles if needle in text]
    return found


def test_forget_leaves_no_trace_in_any_table_even_after_restoring_an_older_backup(
    project, store, cli
):
    add_subscribers(store, 3)
    token = join_with_consent(store, project)
    address_hash = store.journal.hash(EMAIL.lower())
    store.close()
    assert cli("issue", "new", SLUG, "--subject", "December").exit_code == 0
    fill_in(project, SLUG)
    assert cli("send", SLUG, "--yes").exit_code == 0  # the outbox: 4 delivered, journalled
    older = project / "older.db"
    assert cli("backup", str(older)).exit_code == 0
    needles = [EMAIL, EMAIL.lower(), NAME, IP, token]
    assert len(traces(older, needles)) >= 5  # she is everywhere before

    forgotten = cli("subscribers", "forget", EMAIL, "--yes")
    assert forgotten.exit_code == 0, forgotten.output
    assert traces(project / "newsletter.db", needles) == []
    restored = cli("restore", str(older), "--yes")
    assert restored.exit_code == 0, restored.output
    assert traces(project / "newsletter.db", needles) == []
    with open_project(project) as (_config, reopened):
        assert reopened.is_suppressed(EMAIL)  # only the suppression hash is kept
    journal = Journal.open(project / "newsletter.journal")
    about_her = [
        e for _end, e in journal.entries() if e and e.kind != "I" and e.address == address_hash
    ]
    assert [(e.kind, e.fields[4]) for e in about_her] == [("L", "forgotten")]
    assert address_hash.encode() in journal.path.read_bytes()  # the one suppression line
    assert journal.path.read_bytes().count(address_hash.encode()) == 1
