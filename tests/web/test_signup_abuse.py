"""Sign-up abuse (issue 26): +tags and Gmail dots count as one mailbox, a form from
another site is refused, a stamp works once, and a clock stepped back between
the form and its answer shows the form again instead of dropping the sign-up."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs

from newsletter.project import open_project
from newsletter.subscribers.addresses import mailbox_key
from newsletter.subscribers.signups import form_secret
from newsletter.web.form_guard import StampSigner

from support.joining import STAMP, confirmation_tokens, outbox_messages, signup_body
from support.web import URLENCODED, Server


def mails_to(project: Path, mailbox: str) -> int:
    return sum(
        len(confirmation_tokens([message], str(message["To"])))
        for message in outbox_messages(project)
        if mailbox_key(message["To"].addresses[0].addr_spec) == mailbox
    )


def requests_and_signups(project: Path) -> int:
    with open_project(project) as (_config, store):
        return len(list(store.query("SELECT id FROM signups"))) + len(
            list(store.query("SELECT id FROM signup_requests"))
        )


def stamp_of(body: bytes) -> str:
    return parse_qs(body.decode())["stamp"][0]


def post(client: Server, body: bytes, **headers: str) -> int:
    return client.request(
        "POST", "/subscribe", body, {"Content-Type": URLENCODED, **headers}
    ).status


def test_plus_tags_of_one_mailbox_get_at_most_the_per_address_limit(
    in_process, project: Path
) -> None:  # noqa: ANN001
    client = in_process()  # per_address_per_day = 3
    answers = [post(client, signup_body(project, f"victim+{n}@example.org")) for n in range(20)]
    assert set(answers) == {200}
    client.app.app.worker.drain()
    assert mails_to(project, "victim@example.org") == 3


def test_gmail_dots_and_googlemail_are_one_mailbox(in_process, project: Path) -> None:  # noqa: ANN001
    client = in_process()
    for address in ("nia.jones@gmail.com", "niajones@gmail.com", "n.i.a.jones+x@googlemail.com",
                    "Nia.Jones@Gmail.com", "niajones+news@gmail.com"):  # fmt: skip
        assert post(client, signup_body(project, address)) == 200
    client.app.app.worker.drain()
    assert mails_to(project, "niajones@gmail.com") == 3


def test_a_post_from_another_site_is_refused(in_process, project: Path) -> None:  # noqa: ANN001
    client = in_process('[subscribe]\nallowed_origins = ["https://www.copro.example"]')
    refused = post(client, signup_body(project, "a@example.org"), Origin="https://evil.example")
    assert refused == 403
    by_referer = post(
        client, signup_body(project, "b@example.org"), Referer="https://evil.example/page"
    )
    assert by_referer == 403
    sandboxed = post(client, signup_body(project, "c@example.org"), Origin="null")
    assert sandboxed == 403
    assert requests_and_signups(project) == 0
    assert (
        post(client, signup_body(project, "d@example.org"), Origin="https://www.copro.example")
        == 200
    )
    own = f"http://127.0.0.1:{client.port}"
    assert post(client, signup_body(project, "e@example.org"), Origin=own) == 200
    assert post(client, signup_body(project, "f@example.org")) == 200  # no page sent it: curl
    client.app.app.worker.drain()
    assert requests_and_signups(project) == 3


def test_the_refusal_page_says_why(in_process, project: Path) -> None:  # noqa: ANN001
    client = in_process()
    reply = client.request(
        "POST", "/subscribe", signup_body(project, "a@example.org"),
        {"Content-Type": URLENCODED, "Origin": "https://evil.example"},
    )  # fmt: skip
    assert reply.status == 403
    assert "<h1>Form not accepted</h1>" in reply.text
    assert "can only be sent from the newsletter's own pages" in reply.text


def test_a_replayed_stamp_is_refused(in_process, project: Path) -> None:  # noqa: ANN001
    client = in_process()
    body = signup_body(project, "once@example.org")
    assert post(client, body) == 200
    replay = signup_body(project, "twice@example.org", stamp=stamp_of(body))
    assert post(client, replay) == 200  # the same page: nothing tells a bot it failed
    client.app.app.worker.drain()
    assert mails_to(project, "once@example.org") == 1
    assert mails_to(project, "twice@example.org") == 0


def test_a_clock_stepped_back_shows_the_form_again(in_process, project: Path) -> None:  # noqa: ANN001
    """The form was made, then the clock went back ten minutes: its stamp is from the
    future. The answer is the form again, filled in, asking to send it once more."""
    client = in_process()
    with open_project(project) as (_config, store):
        secret = form_secret(store)
    future = StampSigner(secret, clock=lambda: time.time() + 600).stamp(3)
    reply = client.post("/subscribe", signup_body(project, "late@example.org", stamp=future))
    assert reply.status == 200
    assert "Please check your details and press Subscribe." in reply.text
    assert 'value="late@example.org"' in reply.text
    client.app.app.worker.drain()
    assert requests_and_signups(project) == 0
    again = STAMP.search(reply.text).group(1)
    signer = client.app.app.joining.signer  # the person reads the line: 2 s pass (minimum 1 s)
    signer.clock = lambda: time.time() + 2
    assert (
        client.post("/subscribe", signup_body(project, "late@example.org", stamp=again)).status
        == 200
    )
    client.app.app.worker.drain()
    assert mails_to(project, "late@example.org") == 1


def test_subscribe_form_refuses_a_language_the_project_does_not_have(cli) -> None:  # noqa: ANN001
    result = cli("subscribe-form", "--language", "xx")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "error: --language 'xx' is not a language of this project" in result.stderr
    assert "its languages: en" in result.stderr


def test_subscribe_form_says_which_setting_lets_another_site_send_it(cli) -> None:  # noqa: ANN001
    result = cli("subscribe-form")
    assert result.exit_code == 0
    assert "[subscribe] allowed_origins" in result.stderr
    assert "allowed_origins" not in result.stdout


def test_the_snippet_posted_from_an_allowed_site_reaches_the_own_form(
    in_process, project: Path
) -> None:  # noqa: ANN001
    """The pasted snippet has no stamp: from a listed site, its first press shows the
    project's own form filled in, to be sent with one more press."""
    client = in_process('[subscribe]\nallowed_origins = ["https://www.copro.example"]')
    body = signup_body(project, "nia@example.org", stamp="")
    reply = client.request(
        "POST", "/subscribe", body,
        {"Content-Type": URLENCODED, "Origin": "https://www.copro.example"},
    )  # fmt: skip
    assert reply.status == 200 and 'value="nia@example.org"' in reply.text
    assert "Please check your details and press Subscribe." in reply.text
