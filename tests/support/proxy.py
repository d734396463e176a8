"""A reverse proxy on loopback, as Caddy or nginx sit in front of `newsletter serve`.

It forwards each request to the upstream over a fresh connection and sets
`X-Forwarded-For` to the address the request came from (nginx's
`proxy_set_header X-Forwarded-For $remote_addr`), replacing whatever the
client sent. Clients are told apart by their loopback source address
(127.0.0.2, 127.0.0.3, ...: the whole 127/8 is loopback on Linux and Windows).
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "host"}


def _handler(upstream: tuple[str, int]) -> type[BaseHTTPRequestHandler]:
    class Forward(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self._forward()

        def do_POST(self) -> None:  # noqa: N802
            self._forward()

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers.pop("X-Forwarded-For", None)
            headers["X-Forwarded-For"] = self.client_address[0]
            conn = http.client.HTTPConnection(*upstream, timeout=10)
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                reply = conn.getresponse()
                data = reply.read()
                self.send_response(reply.status)
                for name, value in reply.getheaders():
                    if name.lower() not in HOP_BY_HOP | {"content-length", "server", "date"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            finally:
                conn.close()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    return Forward


@contextmanager
def loopback_proxy(upstream_port: int) -> Iterator[int]:
    """A proxy on 127.0.0.1 in front of 127.0.0.1:upstream_port; yields its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(("127.0.0.1", upstream_port)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
