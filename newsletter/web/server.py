"""The production WSGI server behind `newsletter serve`: waitress."""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Any

import waitress

from newsletter.errors import NewsletterError
from newsletter.web.access_log import AccessLog


def make_server(app: AccessLog, host: str, port: int, threads: int = 4) -> Any:
    """A waitress server for the app, bound but not yet running.

    `asyncore_use_poll` asks for poll() where the system has it (no limit on
    how many connections it watches); waitress itself falls back to select()
    where `select.poll` does not exist, as on Windows.
    """
    _resolve(host, port)
    try:
        return waitress.create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="newsletter",
            max_request_body_size=64 * 1024,
            asyncore_use_poll=True,
        )
    except ValueError:  # waitress's word for a host it cannot resolve
        raise _bad_host(host, port, "the address cannot be used") from None
    except OSError as error:
        raise NewsletterError(
            f"cannot listen on {host}:{port}: {error.strerror or error}",
            hint="choose another --port or --host",
        ) from None


def _resolve(host: str, port: int) -> None:
    """Refuse a host that is not an address of this machine's kind, in one line."""
    if re.fullmatch(r"[\d.]+", host):  # looks like IPv4: checked here, never looked up
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise _bad_host(host, port, "not a valid IPv4 address") from None
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as error:
        reason = getattr(error, "strerror", None) or "not a valid address or host name"
        raise _bad_host(host, port, reason) from None


def _bad_host(host: str, port: int, reason: str) -> NewsletterError:
    return NewsletterError(
        f"cannot listen on {host}:{port}: {reason}",
        hint="--host takes an address of this machine: 127.0.0.1 (behind a reverse proxy),"
        " ::1, or 0.0.0.0 for every interface",
    )
