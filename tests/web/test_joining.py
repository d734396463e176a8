"""Joining: the form, double opt-in, consent, no enumeration, abuse limits.

The project's app runs with its mail worker; its pages are called in-process,
or served by waitress on loopback where the server takes part (the client's
address, a whole journey, a relay that holds the worker). Confirmations land in
the outbox Maildir (or a real aiosmtpd server) and the links in them are
followed like a person would.
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from newsletter.project import open_project
from newsletter.web.app import create_app

from support.joining import (
    STAMP,
    confirm_link,
    confirmation_tokens,
    mail_queue,
    outbox_messages,
    sign_up,
)
from support.mailservers import free_port
from support.smtp import Sink
from support.waiting import wait_for
from support.web import InProcess, People, Server, subscriber_state


def tokens_for(project: Path, email: str, count: int = 1) -> list[str]:
    try:
        return wait_for(
            lambda: (
                len(confirmation_tokens(outbox_messages(project), email)) >= count
                and confirmation_tokens(outbox_messages(project), email)
            ),
            what=f"{count} confirmation(s) to {email}",
        )
    except AssertionError as error:  # say where the sign-up got stuck
        with open_project(project) as (_config, store):
            state = {
                table: list(store.query(f"SELECT * FROM {table}"))
                for table in ("signup_requests", "signups", "mail_queue")
            }
        files = sorted(str(p.relative_to(project)) for p in (project / "outbox").rglob("*"))
        raise AssertionError(f"{error}; database: {state}; outbox: {files}") from None


def person(project: Path, email: str):
    with open_project(project) as (_config, store):
        return store.get_subscriber(email)


def records(cli) -> list[dict]:  # noqa: ANN001
    result = cli("subscribers", "list", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


# --- the form ---------------------------------------------------------------------------


def test_subscribe_form_is_a_plain_form_with_the_consent_wording(in_process) -> None:  # noqa: ANN001
    client = in_process("[subscribe]\nmin_fill_seconds = 3\n")
    reply = client.request("GET", "/subscribe")
    assert reply.status == 200
    for field in ("email", "name", "organisation", "stamp", "wording", "website"):
        assert f'name="{field}"' in reply.text
    assert 'method="post"' in reply.text and "<script" not in reply.text.lower()
    assert "I agree to receive Co-pro Newsletter by email" in reply.text
    assert 'class="hp" aria-hidden="true"' in reply.text and 'tabindex="-1"' in reply.text


def test_the_journey_makes_the_person_active_with_a_consent_record(
    serve, project: Path, cli
) -> None:  # noqa: ANN001
    server = serve()
    sent = sign_up(server, project, "nia@example.org", organisation="Cwmni Da")
    assert sent.status == 200 and "Check your inbox" in sent.text
    [token] = tokens_for(project, "nia@example.org")
    assert person(project, "nia@example.org") is None  # nothing before the confirmation
    page, done = confirm_link(server, token)
    assert page.status == 200 and "Confirm my subscription</button>" in page.text
    assert "I agree to receive Co-pro Newsletter" in page.text
    assert done.status == 200 and "You are subscribed" in done.text
    joined = person(project, "nia@example.org")
    assert (joined.status, joined.name, joined.organisation, joined.source) == (
        "active", "Nia Jones", "Cwmni Da", "web-form",
    )  # fmt: skip
    [record] = [r for r in records(cli) if r["email"] == "nia@example.org"]
    consent = record["consent"]
    assert consent["source"] == "web-form" and consent["client_ip"] is None
    assert consent["wording"].startswith("I agree to receive Co-pro Newsletter by email")
    assert consent["at"] and consent["language"] == "en" and len(consent["wording_digest"]) == 32


def test_confirmation_get_changes_nothing_and_the_link_works_once(
    in_process, project: Path
) -> None:  # noqa: ANN001
    client = in_process()
    sign_up(client, project, "once@example.org")
    [token] = tokens_for(project, "once@example.org")
    for _ in range(3):
        assert client.request("GET", f"/confirm/{token}").status == 200
    assert person(project, "once@example.org") is None
    _page, first = confirm_link(client, token)
    assert first.status == 200
    second = client.post(f"/confirm/{token}", b"")
    assert second.status == 404 and "no longer valid" in second.text


def test_client_ip_is_kept_only_when_the_project_turns_it_on(serve, project: Path, cli) -> None:  # noqa: ANN001
    server = serve("[subscribe]\nrecord_ip = true\n")
    sign_up(server, project, "ip@example.org")
    [token] = tokens_for(project, "ip@example.org")
    confirm_link(server, token)
    [record] = [r for r in records(cli) if r["email"] == "ip@example.org"]
    assert record["consent"]["client_ip"] == "127.0.0.1"


def test_a_wrong_field_shows_the_form_again_filled_in(in_process, project: Path) -> None:  # noqa: ANN001
    client = in_process()
    reply = sign_up(client, project, "not an address", name="Nia <b>")
    assert reply.status == 400
    assert "Please enter your email address" in reply.text
    assert 'value="Nia &lt;b&gt;"' in reply.text and "<b>" not in reply.text
    client.app.app.worker.drain()
    assert outbox_messages(project) == []


# --- no enumeration ----------------------------------------------------------------------


def _normalised(text: str, email: str) -> str:
    """The body with its per-request values (the stamp, the typed address) taken out."""
    return STAMP.sub("", text.replace(email, "EMAIL"))


def test_the_answer_is_the_same_whoever_the_address_belongs_to(
    in_process,
    project: Path,
    people: People,
    cli,  # noqa: ANN001
) -> None:
    with open_project(project) as (_config, store):
        store.add_subscriber("gone@example.org")
        store.forget("gone@example.org")
    client = in_process()
    sign_up(client, project, "pending@example.org")
    tokens_for(project, "pending@example.org")
    kinds = {
        "new": "new@example.org",
        "pending": "pending@example.org",
        "active": people.active.email,
        "unsubscribed": people.unsubscribed.email,
        "bounced": people.bounced.email,
        "forgotten": "gone@example.org",
    }
    answers = {kind: sign_up(client, project, email) for kind, email in kinds.items()}
    statuses = {kind: reply.status for kind, reply in answers.items()}
    assert set(statuses.values()) == {200}, statuses
    bodies = {_normalised(reply.text, kinds[kind]) for kind, reply in answers.items()}
    assert len(bodies) == 1
    headers = {
        kind: {k: v for k, v in reply.headers.items() if k not in ("date", "content-length")}
        for kind, reply in answers.items()
    }
    assert len({json.dumps(h, sort_keys=True) for h in headers.values()}) == 1
    # Behind the page: everyone is sent a link (a bounced address too: once a day).
    for kind in ("new", "active", "unsubscribed", "bounced", "forgotten"):
        tokens_for(project, kinds[kind])
    tokens_for(project, "pending@example.org", count=2)


def test_a_sign_up_runs_the_same_statements_for_every_kind_of_address(
    project: Path, people: People
) -> None:
    """Timing a client could see comes from what the request does; it does the same."""
    app = create_app(project, mail_worker=False)
    try:
        store = app.app.store()
        statements: list[str] = []
        store.conn.set_trace_callback(statements.append)
        shapes = {}
        for email in ("new@example.org", people.active.email, people.unsubscribed.email,
                      people.bounced.email):  # fmt: skip
            statements.clear()
            assert sign_up(InProcess(app=app), project, email).status == 200
            shapes[email] = [re.sub(r"'[^']*'|\b\d+\b", "?", sql) for sql in statements]
        assert len({tuple(shape) for shape in shapes.values()}) == 1, shapes
        assert not any("subscribers" in sql for sql in next(iter(shapes.values())))
    finally:
        app.close()


# --- bots and limits -----------------------------------------------------------------------


def test_a_filled_honeypot_is_answered_like_a_person_and_mails_nobody(
    in_process,
    project: Path,  # noqa: ANN001
) -> None:
    client = in_process()
    bot = sign_up(client, project, "bot@example.org", website="http://spam.example")
    human = sign_up(client, project, "human@example.org")
    assert bot.status == human.status == 200
    assert _normalised(bot.text, "bot@example.org") == _normalised(human.text, "human@example.org")
    tokens_for(project, "human@example.org")
    client.app.app.worker.drain()  # a whole round after both: the bot's would be sent by now
    assert confirmation_tokens(outbox_messages(project), "bot@example.org") == []


def test_a_form_sent_back_too_fast_mails_nobody(in_process, project: Path) -> None:  # noqa: ANN001
    client = in_process()
    form = client.request("GET", "/subscribe").text
    stamp = STAMP.search(form).group(1)
    reply = sign_up(client, project, "quick@example.org", stamp=stamp)  # at once: a machine
    assert reply.status == 200 and "Check your inbox" in reply.text
    sign_up(client, project, "slow@example.org")
    tokens_for(project, "slow@example.org")
    client.app.app.worker.drain()  # a whole round after both: the quick one's would be sent by now
    assert confirmation_tokens(outbox_messages(project), "quick@example.org") == []


def test_a_form_without_a_valid_stamp_comes_back_filled_in_to_be_sent_again(
    in_process,
    project: Path,  # noqa: ANN001
) -> None:
    client = in_process()
    for stamp in ("", "1.3.forged", "0.0.0"):
        reply = sign_up(client, project, "snippet@example.org", stamp=stamp)
        assert reply.status == 200 and "Please check your details and press Subscribe" in reply.text
        assert 'value="snippet@example.org"' in reply.text
    client.app.app.worker.drain()
    assert outbox_messages(project) == []


def test_the_limit_per_address_stops_mail_without_saying_so(in_process, project: Path) -> None:  # noqa: ANN001
    client = in_process("[subscribe]\nper_address_per_day = 2\n")
    replies = [sign_up(client, project, "again@example.org") for _ in range(5)]
    assert {r.status for r in replies} == {200}
    assert len({_normalised(r.text, "again@example.org") for r in replies}) == 1
    tokens = tokens_for(project, "again@example.org", count=2)
    client.app.app.worker.drain()
    assert len(confirmation_tokens(outbox_messages(project), "again@example.org")) == 2
    # Only the newest link works.
    statuses = sorted(client.request("GET", f"/confirm/{t}").status for t in tokens)
    assert statuses == [200, 404]


def test_the_limit_per_client_answers_429_whatever_the_address(
    in_process, project: Path, people: People
) -> None:  # noqa: ANN001
    client = in_process("[subscribe]\nper_client_per_hour = 3\n")
    for email in ("a@example.org", people.active.email, "b@example.org"):
        assert sign_up(client, project, email).status == 200
    over = [sign_up(client, project, email) for email in ("c@example.org", people.active.email)]
    assert [r.status for r in over] == [429, 429]
    assert over[0].text == over[1].text and over[0].headers["retry-after"] == "3600"


# --- expiry, coming back, forgetting --------------------------------------------------------


def test_an_expired_link_does_nothing_and_the_sign_up_is_deleted(in_process, project: Path) -> None:  # noqa: ANN001
    client = in_process("[subscribe]\nconfirm_hours = 1\n")
    sign_up(client, project, "late@example.org")
    [token] = tokens_for(project, "late@example.org")
    with open_project(project) as (_config, store), store.write():  # two hours pass
        store.conn.execute("UPDATE signups SET expires_at = '2000-01-01T00:00:00+00:00'")
    assert client.request("GET", f"/confirm/{token}").status == 404
    reply = client.post(f"/confirm/{token}", b"")
    assert reply.status == 404 and "fill in the form again" in reply.text
    assert person(project, "late@example.org") is None
    client.app.app.worker.wake()

    def pending() -> int:
        with open_project(project) as (_config, store):
            return store.one("SELECT count(*) AS n FROM signups")["n"]

    wait_for(lambda: pending() == 0, what="the expired sign-up to be deleted")


def test_the_resubscribe_button_mails_a_link_and_only_the_link_brings_them_back(
    client: Server,
    project: Path,
    people: People,
    cli,  # noqa: ANN001
) -> None:
    before = subscriber_state(project)
    reply = client.post(f"/u/{people.unsubscribed.token}", b"action=resubscribe")
    assert reply.status == 200 and "Check your inbox" in reply.text
    assert "o***@example.org" in reply.text
    [token] = tokens_for(project, people.unsubscribed.email)
    assert subscriber_state(project) == before  # still unsubscribed
    confirm_link(client, token)
    back = person(project, people.unsubscribed.email)
    assert (back.status, back.left_via, back.token) == ("active", None, people.unsubscribed.token)
    [record] = [r for r in records(cli) if r["email"] == people.unsubscribed.email]
    assert record["consent"]["source"] == "web-resubscribe"


def test_a_forgotten_person_comes_back_only_by_confirming_and_forget_erases_consent(
    in_process,
    project: Path,
    cli,  # noqa: ANN001
) -> None:
    client = in_process()
    sign_up(client, project, "erase@example.org")
    confirm_link(client, tokens_for(project, "erase@example.org")[0])
    assert cli("subscribers", "forget", "erase@example.org", "--yes").exit_code == 0
    with open_project(project) as (_config, store):
        assert store.one("SELECT count(*) AS n FROM consents")["n"] == 0
        assert store.is_suppressed("erase@example.org")
    sign_up(client, project, "erase@example.org")
    tokens = tokens_for(project, "erase@example.org", count=2)
    assert person(project, "erase@example.org") is None
    confirm_link(client, tokens[-1])
    assert person(project, "erase@example.org").status == "active"
    with open_project(project) as (_config, store):
        assert not store.is_suppressed("erase@example.org")


def test_welcome_mail_is_sent_after_confirming_when_turned_on(in_process, project: Path) -> None:  # noqa: ANN001
    client = in_process("[subscribe]\nwelcome = true\n")
    sign_up(client, project, "hello@example.org")
    confirm_link(client, tokens_for(project, "hello@example.org")[0])
    welcome = wait_for(
        lambda: [m for m in outbox_messages(project) if m["Subject"].startswith("Welcome")],
        what="the welcome mail",
    )
    text = welcome[0].get_body(preferencelist=("plain",)).get_content()
    assert "/u/" in text and welcome[0]["Auto-Submitted"] == "auto-generated"


# --- the relay ---------------------------------------------------------------------------------


def test_sign_ups_while_the_relay_is_down_are_all_mailed_when_it_is_back(
    in_process,
    project: Path,  # noqa: ANN001
) -> None:
    port = free_port()
    client = in_process(
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\ntimeout = 5\n'
    )
    emails = [f"patient{n}@example.org" for n in range(3)]
    for email in emails:
        assert sign_up(client, project, email).status == 200
    wait_for(
        lambda: len(mail_queue(project)) == 3 and all(m["attempts"] for m in mail_queue(project)),
        what="three mails waiting after failed tries",
    )
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        wait_for(lambda: len(sink.messages) == 3, timeout=30, what="the relay to get all three")
    finally:
        controller.stop()
    assert sorted(m.rcpt_to for m in sink.messages) == emails
    client.app.app.worker.drain()  # the relay has them before the worker deletes its rows
    assert mail_queue(project) == []


def test_a_relay_that_never_answers_does_not_hold_up_the_form(serve, project: Path) -> None:  # noqa: ANN001
    with socket.socket() as silent:  # takes the mail worker's connection, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        silent.settimeout(20)
        port = silent.getsockname()[1]
        server = serve(
            f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\ntimeout = 30\n'
        )
        assert sign_up(server, project, "first@example.org").status == 200
        held, _ = silent.accept()  # the worker is waiting for a greeting that never comes
        with held:
            for n in range(3):
                assert sign_up(server, project, f"wait{n}@example.org").status == 200
            assert server.request("GET", "/healthz").status == 200
            held.setblocking(False)
            with pytest.raises(BlockingIOError):  # still waiting: it neither wrote nor gave up
                held.recv(1)


def test_subscribe_form_command_prints_a_snippet_that_posts_here(cli) -> None:  # noqa: ANN001
    result = cli("subscribe-form")
    assert result.exit_code == 0, result.output
    html = result.output
    assert '<form method="post" action="https://news.example.org/subscribe"' in html
    for field in ("email", "name", "organisation", "language", "website"):
        assert f'name="{field}"' in html
    assert "I agree to receive" in html and "<script" not in html


def test_serve_starts_without_the_smtp_password_and_the_mail_waits_for_it(
    serve,
    project: Path,
    people: People,
    monkeypatch,
    web_log,  # noqa: ANN001
) -> None:
    monkeypatch.delenv("NEWSLETTER_TEST_PASSWORD", raising=False)
    server = serve(
        '[smtp]\nhost = "127.0.0.1"\nport = 2525\nsecurity = "none"\nusername = "u"\n'
        'password_env = "NEWSLETTER_TEST_PASSWORD"\n'
    )
    assert any("NEWSLETTER_TEST_PASSWORD" in line for line in web_log)
    assert server.post(f"/u/{people.active.token}", b"List-Unsubscribe=One-Click").status == 200
    assert sign_up(server, project, "later@example.org").status == 200
    waiting = wait_for(lambda: [m for m in mail_queue(project) if m["attempts"]], what="a try")
    assert "NEWSLETTER_TEST_PASSWORD" in waiting[0]["last_error"]


def test_a_bounced_address_comes_back_through_the_form_mailed_once_a_day(
    in_process,
    project: Path,
    people: People,  # noqa: ANN001
) -> None:
    """Someone a forged (or passing) bounce marked is not locked out: the form mails
    them a confirmation, at most once a day, and the link brings them back."""
    client = in_process()
    victim = people.bounced.email
    assert sign_up(client, project, victim).status == 200
    assert sign_up(client, project, victim).status == 200
    client.app.app.worker.drain()
    (token,) = confirmation_tokens(outbox_messages(project), victim)
    _page, done = confirm_link(client, token)
    assert done.status == 200
    assert person(project, victim).status == "active"
