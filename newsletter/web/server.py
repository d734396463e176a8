"""The production WSGI server behind `newsletter serve`: waitress, tuned to hold up.

waitress's defaults let 100 open connections (`connection_limit`) stop it
accepting anything more, so 100 half-open or idle keep-alive connections (a
slowloris, or just a busy morning) shut everyone else out for up to two minutes
(`channel_timeout`). Here the limit is set by what the process may open (file
descriptors), a connection that sends nothing for CHANNEL_TIMEOUT seconds is
closed, and that is checked every CLEANUP_INTERVAL seconds. docs/serve.md ("Under
load") says what this withstands alone and what the reverse proxy is for;
`proxy_settings` lets the proxy name the real client.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Any

from waitress.server import create_server

from newsletter.errors import NewsletterError
from newsletter.web.access_log import AccessLog

CONNECTION_LIMIT = 1000  # open connections at once; the rest wait in the listen backlog
CHANNEL_TIMEOUT = 15  # seconds a connection may stay silent (idle keep-alive, stalled request)
CLEANUP_INTERVAL = 5  # how often silent connections are looked for
BACKLOG = 2048  # connections the kernel queues while all slots are taken
WINDOWS_SELECT_LIMIT = 512  # CPython's FD_SETSIZE on Windows
RESERVED_DESCRIPTORS = 64  # for the database, logs and the mail worker's SMTP session


def make_server(app: AccessLog, host: str, port: int, threads: int = 4, **overrides: Any) -> Any:
    """A waitress server for the app, bound but not yet running.

    `asyncore_use_poll` asks for poll() where the system has it (no limit on
    how many connections it watches); waitress itself falls back to select()
    where `select.poll` does not exist, as on Windows. `overrides` replace the
    load settings above (the tests compare them with waitress's defaults).
    """
    _resolve(host, port)
    settings = {
        "connection_limit": connection_limit(),
        "channel_timeout": CHANNEL_TIMEOUT,
        "cleanup_interval": CLEANUP_INTERVAL,
        "backlog": BACKLOG,
        **proxy_settings(app.config.serve.trusted_proxy),
        **overrides,
    }
    try:
        return create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="newsletter",
            max_request_body_size=64 * 1024,
            asyncore_use_poll=True,
            **settings,
        )
    except ValueError:  # waitress's word for a host it cannot resolve
        raise _bad_host(host, port, "the address cannot be used") from None
    except OSError as error:
        raise NewsletterError(
            f"cannot listen on {host}:{port}: {error.strerror or error}",
            hint="choose another --port or --host",
        ) from None


def proxy_settings(trusted_proxy: str) -> dict[str, Any]:
    """Behind a reverse proxy every request comes from the proxy's address, so the
    sign-up limit per client would be one limit for everyone. waitress takes the
    client from the last X-Forwarded-For entry (the one the proxy added) as
    REMOTE_ADDR, only for requests from `trusted_proxy`; from anyone else the
    header is dropped, so a client cannot name itself."""
    if not trusted_proxy:
        return {}
    return {
        "trusted_proxy": trusted_proxy,
        "trusted_proxy_count": 1,
        "trusted_proxy_headers": {"x-forwarded-for"},
    }


def connection_limit(wanted: int = CONNECTION_LIMIT) -> int:
    """As many connections as the process may open files for, up to `wanted`.

    On POSIX the soft limit on open files is raised towards the hard one first
    (often 1024 -> 4096 or more); on Windows select() sets the limit.
    """
    try:
        import resource
    except ImportError:  # Windows: waitress uses select(), which watches at most 512 sockets
        return min(wanted, WINDOWS_SELECT_LIMIT - RESERVED_DESCRIPTORS)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted + RESERVED_DESCRIPTORS
    if soft != resource.RLIM_INFINITY and soft < target:
        raised = target if hard == resource.RLIM_INFINITY else min(target, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(10, min(wanted, soft - RESERVED_DESCRIPTORS))


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
