"""The production WSGI server behind `newsletter serve`: waitress."""

from __future__ import annotations

from typing import Any

import waitress

from newsletter.errors import NewsletterError
from newsletter.web.access_log import AccessLog


def make_server(app: AccessLog, host: str, port: int, threads: int = 4) -> Any:
    """A waitress server for the app, bound but not yet running."""
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
    except OSError as error:
        raise NewsletterError(
            f"cannot listen on {host}:{port}: {error.strerror or error}",
            hint="choose another --port or --host",
        ) from None
