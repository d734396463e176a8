"""Fixtures for the unsubscribe handler: subscribers, a real waitress server, raw HTTP,
and the same requests answered in-process.

The server is the real thing (waitress on 127.0.0.1, port 0) started in a
thread and stopped at teardown; requests go over a real socket with
http.client, so paths are sent byte for byte as the test writes them.
`InProcess` answers the same requests by calling the WSGI app directly: for
what a page says and does, without a server, a socket or a thread.
"""

from __future__ import annotations

import http.client
import io
import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes
from wsgiref.util import setup_testing_defaults
from wsgiref.validate import validator

from newsletter.project import open_project

from support.process import interruptible

# RFC 8058 section 8.1 and 8.3, byte for byte (8.3 as printed: its delimiter lines
# are the bare boundary, hence Content-Length 124; the erratum fixes the parameter).
ONE_CLICK_URLENCODED = b"List-Unsubscribe=One-Click"
ONE_CLICK_MULTIPART_AS_PRINTED = (
    b"---FormBoundaryjWmhtjORrn\r\n"
    b'Content-Disposition: form-data; name="List-Unsubscribe"\r\n'
    b"\r\n"
    b"One-Click\r\n"
    b"---FormBoundaryjWmhtjORrn--"
)
URLENCODED = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class People:
    """Tokens and ids of the fixture's subscribers, one per status."""

    active: Any
    unsubscribed: Any
    bounced: Any


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


@dataclass
class Server:
    host: str
    port: int
    app: Any = None  # the WSGI app, when served in-process by the `serve` fixture
    source: str | None = None  # the loopback address requests come from (127.0.0.N)
    waitress: Any = None  # waitress's server object, when served by the `serve` fixture

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """One request on a fresh connection; the path goes out exactly as given."""
        source = (self.source, 0) if self.source else None
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10, source_address=source)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return Reply(
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read(),
            )
        finally:
            conn.close()

    def post(self, path: str, body: bytes = b"", content_type: str = URLENCODED) -> Reply:
        return self.request("POST", path, body, {"Content-Type": content_type})


@dataclass
class InProcess(Server):
    """`Server`'s requests answered by calling the WSGI app in the test's thread.

    The environ is the one waitress builds (PEP 3333: PATH_INFO percent-decoded,
    as latin-1; the Host header http.client sends), and wsgiref's validator checks
    the app keeps to PEP 3333. What waitress adds is done here too: HEAD drops the
    body, and a Content-Length must match the body. What it does on its own (paths
    it normalises, X-Forwarded-For, connections, timeouts) needs the `serve` fixture.
    No socket is opened: the port only names the site in Host.
    """

    host: str = "127.0.0.1"
    port: int = 8080

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """One call of the app; the iterable it returns is read whole and closed."""
        started: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(status: str, response_headers: Any, exc_info: Any = None) -> Any:
            started.append((status, response_headers))
            return lambda _data: None

        environ = self.environ(method, path, body, headers or {})
        result = validator(self.app)(environ, start_response)
        try:
            answer = b"".join(result)
        finally:
            getattr(result, "close", lambda: None)()
        status, response_headers = started[-1]
        reply = Reply(int(status[:3]), {k.lower(): v for k, v in response_headers}, answer)
        if method == "HEAD":
            reply.body = b""
        elif "content-length" in reply.headers:
            assert int(reply.headers["content-length"]) == len(answer), (method, path)
        return reply

    def environ(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> dict[str, Any]:
        """What waitress would pass the app for this request from http.client."""
        target, _, query = path.partition("?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(target).decode("latin-1"),
            "QUERY_STRING": query,
            "SERVER_NAME": self.host,
            "SERVER_PORT": str(self.port),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": self.source or "127.0.0.1",
            "HTTP_HOST": f"{self.host}:{self.port}",
            "wsgi.input": io.BytesIO(body or b""),
        }
        sent = {name.lower(): value for name, value in headers.items()}
        if body is not None or method in ("POST", "PUT", "PATCH"):  # as http.client does
            sent.setdefault("content-length", str(len(body or b"")))
        for name, value in sent.items():
            key = name.upper().replace("-", "_")
            environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
        setup_testing_defaults(environ)  # the wsgi.* keys
        return environ


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def stop_waitress(waitress_server: Any, thread: Any) -> None:
    """Close every socket from inside the loop's own thread; the loop then ends.

    Stopping waitress from another thread is racy (Pylons/waitress#468); if the
    trigger's pipe is already gone, empty the map: the loop ends within its 1 s
    poll timeout.
    """
    from waitress import wasyncore

    try:
        waitress_server.trigger.pull_trigger(
            lambda: wasyncore.close_all(waitress_server._map, ignore_all=True)
        )
    except OSError:
        wasyncore.close_all(waitress_server._map, ignore_all=True)
    thread.join(timeout=10)
    waitress_server.task_dispatcher.shutdown(timeout=5)
    assert not thread.is_alive(), "the waitress loop did not stop"


def subscriber_state(project: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every subscriber row and every event: a snapshot to prove nothing changed."""
    with open_project(project) as (_config, store):
        rows = list(store.query("SELECT * FROM subscribers ORDER BY id"))
        events = list(store.query("SELECT * FROM events ORDER BY id"))
    return rows, events


@dataclass
class ServeProcess:
    process: subprocess.Popen[str]
    url: str

    def stop(self, sig: int = signal.SIGINT) -> tuple[int, str, str]:
        """Send a signal; (exit code, rest of stdout, stderr)."""
        self.process.send_signal(sig)
        out, err = self.process.communicate(timeout=15)
        return self.process.returncode, out, err


def start_serve(project: Path, *args: str) -> ServeProcess:
    """`newsletter serve --port 0` as a real process; waits for its listening line."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NEWSLETTER_PROJECT": str(project)}
    process = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=interruptible,
    )
    assert process.stdout is not None
    first = process.stdout.readline()  # blocks until the server has bound its port
    if "http://" not in first:
        process.kill()
        out, err = process.communicate(timeout=10)
        raise AssertionError(f"serve did not start: {first}{out}{err}")
    return ServeProcess(process, first[first.index("http://") :].strip())
