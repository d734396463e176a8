"""WSGI middleware that logs each request without ever logging a token."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
ACCESS_LOG = logging.getLogger("newsletter.web.access")

_TOKENISH = re.compile(r"[A-Za-z0-9_-]{16,}")
_METHOD = re.compile(r"[A-Z]{1,16}")


def redact_path(path: str) -> str:
    """A path fit for a log: no token, no control characters, bounded length."""
    if path.startswith("/u/"):
        return "/u/<redacted>"
    cleaned = _TOKENISH.sub("<redacted>", path)[:120]
    return cleaned.encode("unicode_escape").decode("ascii")


class AccessLog:
    """WSGI middleware: method, redacted path, status and duration of each request.

    The query string is never logged, and a token never reaches the log.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.config = app.config

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        status = ["-"]

        def recording_start_response(line: str, headers: Any, exc_info: Any = None) -> Any:
            status[0] = line.split(" ", 1)[0]
            return start_response(line, headers, exc_info)

        try:
            return self.app(environ, recording_start_response)
        finally:
            method = str(environ.get("REQUEST_METHOD", ""))
            ACCESS_LOG.info(
                "%s %s %s %.1fms",
                method if _METHOD.fullmatch(method) else "?",
                redact_path(str(environ.get("PATH_INFO", ""))),
                status[0],
                (time.perf_counter() - started) * 1000,
            )

    def close(self) -> None:
        self.app.close()
