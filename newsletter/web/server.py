"""The production WSGI server behind `newsletter serve`: waitress, tuned to hold up.

waitress's defaults let 100 open connections (`connection_limit`) stop it
accepting anything more, so 100 half-open or idle keep-alive connections (a
slowloris, or just a busy morning) shut everyone else out for up to two minutes
(`channel_timeout`). Here the limit is set by what the process may open (file
descriptors), a connection that sends nothing for CHANNEL_TIMEOUT seconds is
closed, and that is checked every CLEANUP_INTERVAL seconds. README ("Under
load") says what this withstands alone and what the reverse proxy is for.
"""

from __future__ import annotations

from typing import Any

import waitress

from newsletter.errors import NewsletterError
from newsletter.web.access_log import AccessLog

CONNECTION_LIMIT = 1000  # open connections at once; the rest wait in the listen backlog
CHANNEL_TIMEOUT = 15  # seconds a connection may stay silent (idle keep-alive, stalled request)
CLEANUP_INTERVAL = 5  # how often silent connections are looked for
BACKLOG = 2048  # connections the kernel queues while all slots are taken
RESERVED_DESCRIPTORS = 64  # for the database, logs and the mail worker's SMTP session


def make_server(app: AccessLog, host: str, port: int, threads: int = 4, **overrides: Any) -> Any:
    """A waitress server for the app, bound but not yet running."""
    settings = {
        "connection_limit": connection_limit(),
        "channel_timeout": CHANNEL_TIMEOUT,
        "cleanup_interval": CLEANUP_INTERVAL,
        "backlog": BACKLOG,
        **overrides,
    }
    try:
        return waitress.create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="newsletter",
            max_request_body_size=64 * 1024,
            asyncore_use_poll=True,
            **settings,
        )
    except OSError as error:
        raise NewsletterError(
            f"cannot listen on {host}:{port}: {error.strerror or error}",
            hint="choose another --port or --host",
        ) from None


def connection_limit(wanted: int = CONNECTION_LIMIT) -> int:
    """As many connections as the process may open files for, up to `wanted`.

    On POSIX the soft limit on open files is raised towards the hard one first
    (often 1024 -> 4096 or more); Windows has no such limit to raise.
    """
    try:
        import resource
    except ImportError:  # Windows
        return wanted
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
