"""`newsletter serve` behind a reverse proxy: the sign-up limit is per real client.

A small proxy on loopback stands in for Caddy or nginx; clients are told apart
by their loopback source address (127.0.0.2, ...), which the proxy passes on
in X-Forwarded-For.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from support.joining import signup_body
from support.proxy import loopback_proxy
from support.web import Server


@pytest.fixture(autouse=True)
def _many_loopback_addresses() -> None:
    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.2", 0))
    except OSError:
        pytest.skip(
            "this system has only 127.0.0.1 on loopback (macOS): Linux and Windows have 127/8"
        )


def sign_ups(client: Server, project: Path, count: int, name: str) -> list[int]:
    return [
        client.post("/subscribe", signup_body(project, f"{name}{n}@example.org")).status
        for n in range(count)
    ]


def test_twenty_sign_ups_from_one_client_limit_that_client_only(serve, project: Path) -> None:  # noqa: ANN001
    server = serve()  # [serve] trusted_proxy: loopback by default
    with loopback_proxy(server.port) as port:
        junk = Server("127.0.0.1", port, source="127.0.0.2")
        assert sign_ups(junk, project, 21, "junk") == [200] * 20 + [429]
        others = [Server("127.0.0.1", port, source=f"127.0.0.{n}") for n in range(3, 8)]
        assert [sign_ups(other, project, 1, f"real{n}")[0] for n, other in enumerate(others)] == [
            200
        ] * 5


def test_without_a_trusted_proxy_everyone_behind_it_shares_one_limit(serve, project: Path) -> None:  # noqa: ANN001
    """The behaviour of issue 26, kept for a project that trusts no proxy."""
    server = serve('[serve]\ntrusted_proxy = ""')
    with loopback_proxy(server.port) as port:
        junk = Server("127.0.0.1", port, source="127.0.0.2")
        assert sign_ups(junk, project, 21, "junk")[-1] == 429
        other = Server("127.0.0.1", port, source="127.0.0.3")
        assert sign_ups(other, project, 1, "real") == [429]


def test_a_client_cannot_name_itself_in_x_forwarded_for(serve, project: Path) -> None:  # noqa: ANN001
    """Only the trusted proxy's header counts: a client that sends its own, straight to
    serve, is still limited by its own address."""
    server = serve()
    direct = Server("127.0.0.1", server.port, source="127.0.0.2")
    answers = []
    for n in range(21):
        body = signup_body(project, f"spoof{n}@example.org")
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Forwarded-For": f"203.0.113.{n}",
        }
        answers.append(direct.request("POST", "/subscribe", body, headers).status)
    assert answers == [200] * 20 + [429]


def test_a_trusted_proxy_that_is_not_an_address_is_one_clear_error(project: Path, cli) -> None:  # noqa: ANN001
    with (project / "newsletter.toml").open("a") as handle:
        handle.write('\n[serve]\ntrusted_proxy = "my-proxy"\n')
    result = cli("status")
    assert result.exit_code != 0
    assert "'serve.trusted_proxy' must be an IP address, got 'my-proxy'" in result.output
    assert "Traceback" not in result.output
