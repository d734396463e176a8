"""The handler under a slowloris on loopback: bounded, and it stops by itself.

Half-open connections (a request line and a header, then nothing) are what a
slowloris holds open; with waitress's default connection_limit of 100 they
shut every other client out. These tests hold 150 of them for a few seconds,
check that a normal request is still answered, and close them all.
"""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from support.waiting import wait_for
from support.web import Server

HALF_OPEN = 150


@contextmanager
def half_open_connections(server: Server, count: int = HALF_OPEN) -> Iterator[list[socket.socket]]:
    """`count` connections that each sent part of a request and then went quiet."""
    held: list[socket.socket] = []
    try:
        for _ in range(count):
            conn = socket.create_connection((server.host, server.port), timeout=5)
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
            held.append(conn)
        listening = server.waitress  # until it has accepted all, or as many as it will take
        wait_for(
            lambda: listening.in_connection_overflow or len(listening.active_channels) >= count
        )
        yield held
    finally:
        for conn in held:
            conn.close()


def health_check(server: Server, timeout: float) -> int | None:
    """The status of GET /healthz, or None when no answer came within `timeout`."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    try:
        conn.request("GET", "/healthz")
        status = conn.getresponse().status
    except (TimeoutError, OSError):
        status = None
    finally:
        conn.close()
    return status


def test_a_normal_request_is_answered_while_half_open_connections_are_held(serve) -> None:  # noqa: ANN001
    server = serve()
    with half_open_connections(server):
        answers = [health_check(server, timeout=10) for _ in range(5)]
    assert answers == [200] * 5


def test_with_waitress_defaults_the_same_connections_shut_everyone_out(serve) -> None:  # noqa: ANN001
    """The check above can fail: waitress's own limits fail it (why they are changed)."""
    server = serve(connection_limit=100, channel_timeout=120, cleanup_interval=30)
    with half_open_connections(server):
        status = health_check(server, timeout=2)
        full = server.waitress.in_connection_overflow  # why there is no answer: not just slow
    assert (status, full) == (None, True)


def test_a_connection_that_stays_silent_is_closed(serve) -> None:  # noqa: ANN001
    server = serve(channel_timeout=2, cleanup_interval=1)
    with socket.create_connection((server.host, server.port), timeout=10) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\n")
        try:  # closed after channel_timeout (2 s), not waitress's default 120 s
            closed = conn.recv(1024) == b""
        except ConnectionResetError:
            closed = True
        assert closed


@pytest.mark.parametrize("count", [300])
def test_many_idle_keep_alive_clients_do_not_starve_a_new_one(serve, count: int) -> None:  # noqa: ANN001
    server = serve()
    clients = []
    try:
        for _ in range(count):  # each made one request and keeps its connection open
            conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
            conn.request("GET", "/healthz")
            assert conn.getresponse().read() == b"ok\n"
            clients.append(conn)
        status = health_check(server, timeout=10)
    finally:
        for conn in clients:
            conn.close()
    assert status == 200
