"""The unsubscribe handler: its pages called in-process (`client`), and over real HTTP
(waitress on 127.0.0.1, raw requests: `server`) for what the server takes part in."""

from __future__ import annotations

import signal
import socket
import sqlite3
import threading
from pathlib import Path

import pytest

from newsletter.errors import TemplateError
from newsletter.project import open_project
from newsletter.web.access_log import redact_path
from newsletter.web.app import create_app, mask_address
from newsletter.web.forms import MAX_BODY_BYTES

from support.web import (
    ONE_CLICK_MULTIPART_AS_PRINTED,
    ONE_CLICK_URLENCODED,
    URLENCODED,
    People,
    Server,
    start_serve,
    subscriber_state,
)

SECURITY = {
    "content-security-policy": "default-src 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
    "x-frame-options": "DENY",
}


def subscriber(project: Path, subscriber_id: int):
    with open_project(project) as (_config, store):
        return store.get_by_id(subscriber_id), store.events_for(subscriber_id)


# --- GET shows, never changes ----------------------------------------------------


def test_get_names_the_list_and_masked_address_and_changes_nothing(
    client: Server, people: People, project: Path
) -> None:
    before = subscriber_state(project)
    reply = client.request("GET", f"/u/{people.active.token}")
    assert reply.status == 200
    assert "Co-pro Newsletter" in reply.text
    assert "r***@example.org" in reply.text
    assert "rosa@example.org" not in reply.text
    assert '<form method="post">' in reply.text and ">Unsubscribe</button>" in reply.text
    assert "<script" not in reply.text.lower()
    assert subscriber_state(project) == before


def test_head_answers_like_get_without_a_body_and_changes_nothing(
    server: Server, people: People, project: Path
) -> None:
    before = subscriber_state(project)
    get = server.request("GET", f"/u/{people.active.token}")
    head = server.request("HEAD", f"/u/{people.active.token}")
    assert head.status == 200 and head.body == b""
    assert head.headers["content-length"] == get.headers["content-length"]
    assert subscriber_state(project) == before


def test_get_for_someone_who_left_offers_resubscribe(client: Server, people: People) -> None:
    reply = client.request("GET", f"/u/{people.unsubscribed.token}")
    assert reply.status == 200
    assert "already unsubscribed" in reply.text
    assert 'name="action" value="resubscribe"' in reply.text
    assert "o***@example.org" in reply.text


def test_bounced_address_is_told_why_and_offered_a_way_back(
    client: Server, people: People, project: Path
) -> None:
    reply = client.request("GET", f"/u/{people.bounced.token}")
    assert reply.status == 200
    assert "not receiving" in reply.text
    assert "The mail server said: <code>550 no such user</code>" in reply.text
    assert 'name="action" value="resubscribe"' in reply.text
    back = client.post(f"/u/{people.bounced.token}", b"action=resubscribe")
    assert back.status == 200 and "Check your inbox" in back.text
    assert subscriber(project, people.bounced.id)[0].status == "bounced"  # until confirmed


# --- POST unsubscribes -------------------------------------------------------------


def test_one_click_urlencoded_exactly_as_rfc_8058_unsubscribes(
    server: Server, people: People, project: Path
) -> None:
    reply = server.post(f"/u/{people.active.token}", ONE_CLICK_URLENCODED, URLENCODED)
    assert reply.status == 200
    assert "You have been unsubscribed" in reply.text
    assert "set-cookie" not in reply.headers and "location" not in reply.headers
    person, events = subscriber(project, people.active.id)
    assert (person.status, person.left_via) == ("unsubscribed", "one-click")
    assert person.unsubscribed_at
    assert [(e["kind"], e["source"]) for e in events][-1] == ("unsubscribed", "one-click")


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data; boundary=---FormBoundaryjWmhtjORrn", ONE_CLICK_MULTIPART_AS_PRINTED),
        ("multipart/form-data; boundary=-FormBoundaryjWmhtjORrn", ONE_CLICK_MULTIPART_AS_PRINTED),
        (
            "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
            b"------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n"
            b'Content-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
            b"One-Click\r\n"
            b"------WebKitFormBoundary7MA4YWxkTrZu0gW--\r\n",
        ),
    ],
    ids=["rfc-as-printed", "rfc-erratum", "browser-style"],
)
def test_one_click_multipart_unsubscribes(
    client: Server, people: People, project: Path, content_type: str, body: bytes
) -> None:
    reply = client.post(f"/u/{people.active.token}", body, content_type)
    assert reply.status == 200
    person, _events = subscriber(project, people.active.id)
    assert (person.status, person.left_via) == ("unsubscribed", "one-click")


@pytest.mark.parametrize("body", [b"", b"action=unsubscribe"], ids=["empty", "button-field"])
def test_button_post_unsubscribes_via_web(
    client: Server, people: People, project: Path, body: bytes
) -> None:
    reply = client.post(f"/u/{people.active.token}", body)
    assert reply.status == 200
    person, _events = subscriber(project, people.active.id)
    assert (person.status, person.left_via) == ("unsubscribed", "web")


def test_repeated_post_answers_200_and_records_one_event(
    client: Server, people: People, project: Path
) -> None:
    path = f"/u/{people.active.token}"
    first = client.post(path, ONE_CLICK_URLENCODED)
    second = client.post(path, ONE_CLICK_URLENCODED)
    assert (first.status, second.status) == (200, 200)
    _person, events = subscriber(project, people.active.id)
    assert [e["kind"] for e in events].count("unsubscribed") == 1


# --- bad tokens, paths, methods, bodies -----------------------------------------------

BOGUS_TOKENS = [
    "AAAAAAAAAAAAAAAAAAAAAAAA",  # well formed, unknown
    "short",
    "../../../etc/passwd",
    "..%2F..%2Fnewsletter.db",
    "%27%20OR%20%271%27%3D%271",
    "x%27%3B%20DROP%20TABLE%20subscribers%3B--",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "A" * 10240,
    "%00",
    "AAAAAAAAAAAAAAAAAAAAAAA%00",
]


@pytest.mark.parametrize("bogus", BOGUS_TOKENS, ids=range(len(BOGUS_TOKENS)))
def test_bogus_tokens_get_the_same_404_and_change_nothing(
    client: Server, people: People, project: Path, bogus: str
) -> None:
    before = subscriber_state(project)
    reference = client.request("GET", "/u/AAAAAAAAAAAAAAAAAAAAAAAA")
    for reply in (
        client.request("GET", f"/u/{bogus}"),
        client.post(f"/u/{bogus}", ONE_CLICK_URLENCODED),
    ):
        assert reply.status == 404
        assert reply.body == reference.body
        for fragment in ("script", "DROP", "passwd", "AAAAAAAAAAAAAAAAAAAAAAAA"):
            assert fragment not in reply.text
    assert subscriber_state(project) == before


def test_bogus_tokens_through_waitress_get_the_same_404(server: Server) -> None:
    """The same paths as sent on the wire: waitress decodes them before the app sees them."""
    reference = server.request("GET", "/u/AAAAAAAAAAAAAAAAAAAAAAAA")
    assert reference.status == 404
    for bogus in BOGUS_TOKENS:
        reply = server.request("GET", f"/u/{bogus}")
        assert (reply.status, reply.body) == (404, reference.body), bogus


def test_a_valid_token_with_anything_appended_is_404(client: Server, people: People) -> None:
    token = people.active.token
    for path in (f"/u/{token}/", f"/u/{token}x", f"/u/{token}%00", f"/u/{token.lower()}x"):
        assert client.request("GET", path).status == 404


@pytest.mark.parametrize("path", ["/", "/u", "/u/", "/favicon.ico", "/healthz/", "/admin"])
def test_other_paths_are_404(client: Server, path: str) -> None:
    reply = client.request("GET", path)
    assert reply.status == 404
    assert "Link not found" in reply.text


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
def test_wrong_methods_are_405_with_allow_and_change_nothing(
    client: Server, people: People, project: Path, method: str
) -> None:
    before = subscriber_state(project)
    reply = client.request(method, f"/u/{people.active.token}", ONE_CLICK_URLENCODED)
    assert reply.status == 405
    assert reply.headers["allow"] == "GET, HEAD, POST"
    assert client.request(method, "/healthz").headers["allow"] == "GET, HEAD"
    assert subscriber_state(project) == before


def test_post_to_healthz_is_405(client: Server) -> None:
    assert client.post("/healthz", b"").status == 405


def test_body_over_the_limit_is_413_and_changes_nothing(
    client: Server, people: People, project: Path
) -> None:
    before = subscriber_state(project)
    padding = b"&pad=" + b"x" * MAX_BODY_BYTES
    reply = client.post(f"/u/{people.active.token}", ONE_CLICK_URLENCODED + padding)
    assert reply.status == 413
    assert subscriber_state(project) == before


def test_body_exactly_at_the_limit_is_accepted(
    client: Server, people: People, project: Path
) -> None:
    body = ONE_CLICK_URLENCODED + b"&pad="
    body += b"x" * (MAX_BODY_BYTES - len(body))
    assert len(body) == MAX_BODY_BYTES
    assert client.post(f"/u/{people.active.token}", body).status == 200
    assert subscriber(project, people.active.id)[0].status == "unsubscribed"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (URLENCODED, b"action=%ff%fe"),
        (URLENCODED, b"action=delete"),
        ("application/json", b'{"List-Unsubscribe": "One-Click"}'),
        ("multipart/form-data; boundary=xyz", b"not multipart at all"),
        ("multipart/form-data", b"--\r\n\r\n--"),
        ("multipart/form-data; boundary=a", b"--a\r\nbroken"),
        (
            "multipart/form-data; boundary=a",
            b'--a\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Cl',
        ),
        (
            "multipart/form-data; boundary=---FormBoundaryjWmhtjORrn",
            ONE_CLICK_MULTIPART_AS_PRINTED.removesuffix(b"---FormBoundaryjWmhtjORrn--"),
        ),
    ],
    ids=[
        "bad-utf8",
        "unknown-action",
        "json",
        "no-parts",
        "no-boundary",
        "truncated-part",
        "truncated-value",
        "rfc-example-cut-before-its-end",
    ],
)
def test_malformed_bodies_are_400_and_change_nothing(
    client: Server, people: People, project: Path, content_type: str, body: bytes
) -> None:
    before = subscriber_state(project)
    reply = client.post(f"/u/{people.active.token}", body, content_type)
    assert reply.status == 400
    assert subscriber_state(project) == before


def test_every_response_carries_the_security_headers_and_no_cookie(
    client: Server, people: People
) -> None:
    replies = [
        client.request("GET", f"/u/{people.active.token}"),
        client.request("GET", "/u/nonsense"),
        client.request("PUT", "/u/nonsense"),
        client.post(f"/u/{people.active.token}", b"action=delete"),
        client.request("GET", "/healthz"),
    ]
    for reply in replies:
        for header, value in SECURITY.items():
            assert value in reply.headers[header], (reply.status, header)
        assert "set-cookie" not in reply.headers


def test_healthz_answers_ok(client: Server) -> None:
    reply = client.request("GET", "/healthz")
    assert (reply.status, reply.body) == (200, b"ok\n")
    assert reply.headers["content-type"].startswith("text/plain")


def test_access_log_never_contains_a_token(
    client: Server, people: People, web_log: list[str]
) -> None:
    token = people.active.token
    client.request("GET", f"/u/{token}")
    client.request("GET", f"/u/{token}?utm_source={token}")
    client.request("GET", f"/unsubscribe/{token}")
    client.post(f"/u/{token}", ONE_CLICK_URLENCODED)
    log = "\n".join(web_log)
    assert token not in log
    assert "GET /u/<redacted> 200" in log
    assert "POST /u/<redacted> 200" in log
    assert "GET /unsubscribe/<redacted> 404" in log


def test_redact_path_removes_tokens_and_control_characters() -> None:
    assert redact_path("/u/anything/at/all") == "/u/<redacted>"
    assert redact_path("/x/" + "B" * 24) == "/x/<redacted>"
    assert "\n" not in redact_path("/evil\nFORGED 200")


def test_mask_address_keeps_first_letter_and_domain() -> None:
    assert mask_address("rosa@example.org") == "r***@example.org"
    assert mask_address("é@bücher.example") == "é***@bücher.example"


# --- concurrency: the handler shares SQLite with a running send ---------------------


def test_concurrent_posts_while_another_writer_holds_transactions(
    server: Server, project: Path
) -> None:
    with open_project(project) as (_config, store):
        tokens = [store.add_subscriber(f"p{i}@example.org").subscriber.token for i in range(40)]
    stop = threading.Event()

    def writer() -> None:
        conn = sqlite3.connect(project / "newsletter.db", timeout=30)
        while not stop.is_set():
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("UPDATE meta SET value = value WHERE key = 'suppression_salt'")
            conn.execute("COMMIT")
        conn.close()

    results: list[int] = []

    def client(chunk: list[str]) -> None:
        results.extend(server.post(f"/u/{t}", ONE_CLICK_URLENCODED).status for t in chunk)

    background = threading.Thread(target=writer)
    background.start()
    clients = [threading.Thread(target=client, args=(tokens[i::4],)) for i in range(4)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(timeout=60)
    stop.set()
    background.join(timeout=30)
    assert results == [200] * 40
    with open_project(project) as (_config, store):
        assert store.count_by_status()["unsubscribed"] == 40 + 1  # + the fixture's Olu


# --- templates ------------------------------------------------------------------------


def test_project_template_override_wins(in_process, people: People, project: Path) -> None:  # noqa: ANN001
    (project / "templates" / "web" / "unsubscribe.html").write_text(
        "Leave {{ newsletter_name }}, {{ masked_email }}?", encoding="utf-8"
    )
    body = in_process().request("GET", f"/u/{people.active.token}").text
    assert "Leave Co-pro Newsletter, r***@example.org?" in body
    assert '<html lang="en" dir="ltr">' in body


def test_whole_pages_copied_by_an_older_init_still_work(
    in_process,
    people: People,
    project: Path,  # noqa: ANN001
) -> None:
    (project / "templates" / "web" / "old.html").write_text(
        "<!doctype html><html><title>{% block title %}{% endblock %}</title>"
        "{% block content %}{% endblock %}</html>",
        encoding="utf-8",
    )
    (project / "templates" / "web" / "unsubscribe.html").write_text(
        '{% extends "web/old.html" %}{% block content %}Leave {{ newsletter_name }}, '
        "{{ masked_email }}?{% endblock %}",
        encoding="utf-8",
    )
    page = in_process().request("GET", f"/u/{people.active.token}")
    assert "Leave Co-pro Newsletter, r***@example.org?" in page.text


def test_broken_template_override_is_one_clear_error_before_serving(project: Path, cli) -> None:
    (project / "templates" / "web" / "page.html").write_text("{{ no_such_name }}", encoding="utf-8")
    with pytest.raises(TemplateError, match="web/page.html"):
        create_app(project)
    result = cli("serve", "--port", "0")
    assert result.exit_code == 1
    assert "no_such_name" in result.output and "Traceback" not in result.output


def test_a_misspelt_name_in_a_web_page_has_the_issue_templates_wording(project: Path) -> None:
    page = project / "templates" / "web" / "page.html"
    page.write_text("<p>\n{{ newsletter_nmae }}</p>", encoding="utf-8")
    with pytest.raises(TemplateError) as caught:
        create_app(project)
    assert caught.value.message == f"{page}:2: undefined name 'newsletter_nmae'"


# --- `newsletter serve` as a real process -------------------------------------------


def _http(url: str, method: str, path: str, body: bytes | None = None) -> tuple[int, str]:
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    headers = {"Content-Type": URLENCODED} if body is not None else {}
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    result = response.status, response.read().decode()
    conn.close()
    return result


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["int", "term"])
def test_serve_process_answers_and_stops_cleanly(
    project: Path, people: People, stop_signal: int
) -> None:
    serve = start_serve(project)
    try:
        path = f"/u/{people.active.token}"
        assert _http(serve.url, "GET", path)[0] == 200
        status, page = _http(serve.url, "POST", path, ONE_CLICK_URLENCODED)
        assert status == 200 and "You have been unsubscribed" in page
        assert _http(serve.url, "GET", "/healthz") == (200, "ok\n")
    finally:
        code, out, err = serve.stop(stop_signal)
    assert code == 0, err
    assert "Traceback" not in err
    assert people.active.token not in err
    assert "POST /u/<redacted> 200" in err
    assert "stopped" in out
    assert subscriber(project, people.active.id)[0].left_via == "one-click"


def test_serve_without_a_project_is_one_line_error(tmp_path: Path, cli) -> None:
    result = cli("serve", "--port", "0", project_dir=tmp_path)
    assert result.exit_code == 1
    assert "no newsletter.toml" in result.output


def test_serve_on_a_taken_port_is_one_line_error(project: Path, cli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = cli("serve", "--port", str(taken.getsockname()[1]))
    assert result.exit_code == 1
    assert "cannot listen on 127.0.0.1" in result.output


@pytest.mark.parametrize("host", ["999.1.1.1", "no..such.host"])  # refused without a DNS query
def test_serve_on_a_bad_host_is_one_line_with_a_hint(project: Path, cli, host: str) -> None:
    result = cli("serve", "--host", host, "--port", "0")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"error: cannot listen on {host}:0: ")
    assert lines[1].startswith("hint: --host takes an address of this machine")
