"""A recording TCP relay on loopback between an SMTP client and server, and a reading
of what it saw: did the client wait for each reply before its next command?

The relay logs each chunk before it passes it on, in one list per connection, so
the log's order is causal: a reply is logged before the client can have read it,
and anything the client wrote after reading it is logged after it.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from support.listener import LoopbackListener

FROM_CLIENT, FROM_SERVER = "client", "server"


class Wiretap(LoopbackListener):
    """Listens on 127.0.0.1:`port`, relays every connection to `upstream_port`;
    `connections` holds one log of (direction, chunk) per connection."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.connections: list[list[tuple[str, bytes]]] = []
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        super().__init__()

    def handle(self, client: socket.socket) -> None:
        server = socket.create_connection((self.host, self.upstream_port), timeout=10)
        log: list[tuple[str, bytes]] = []
        with self._lock:
            self.connections.append(log)
            self._sockets += [client, server]
        for source, target, direction in ((client, server, FROM_CLIENT),
                                          (server, client, FROM_SERVER)):  # fmt: skip
            pump = threading.Thread(
                target=self._pump, args=(source, target, direction, log), daemon=True
            )
            pump.start()

    def _pump(
        self, source: socket.socket, target: socket.socket, direction: str, log: list
    ) -> None:
        source.settimeout(None)
        while True:
            try:
                chunk = source.recv(65536)
            except OSError:
                chunk = b""
            with self._lock:
                if chunk:
                    log.append((direction, chunk))  # before passing it on: causal order
            if not chunk:
                with contextlib.suppress(OSError):
                    target.shutdown(socket.SHUT_WR)
                return
            try:
                target.sendall(chunk)
            except OSError:
                return

    def close(self) -> None:
        super().close()
        with self._lock:
            for sock in self._sockets:
                sock.close()


def most_commands_ahead(log: list[tuple[str, bytes]]) -> int:
    """The most commands (a message's content counts as one) a client had written and
    not yet seen answered when it began the next one: 0 for a client that waits for
    every reply, 3 or more for one that pipelines (content, MAIL, RCPT, then DATA)."""
    client, replies = _ClientStream(), _Replies()
    most = 0
    for direction, chunk in log:
        if direction == FROM_SERVER:
            replies.feed(chunk)
            continue
        for _started in client.feed(chunk):
            answered = replies.count - 1  # the first reply is the greeting
            most = max(most, client.started - 1 - answered)
    return most


class _ClientStream:
    """Splits what a client wrote into commands and message contents."""

    def __init__(self) -> None:
        self.started = 0
        self._open = False  # a command or content has begun and not ended
        self._pending = b""  # the unfinished command (or the content's last bytes)
        self._in_content = False

    def feed(self, chunk: bytes):  # noqa: ANN204
        """Yields once for each command or content that begins in `chunk`."""
        position = 0
        while position < len(chunk):
            if not self._open:
                self.started, self._open = self.started + 1, True
                yield
            end = b"\r\n.\r\n" if self._in_content else b"\r\n"
            tail = self._pending[-(len(end) - 1) :]
            found = (tail + chunk[position:]).find(end)
            if found < 0:
                self._pending += chunk[position:]
                if self._in_content:
                    self._pending = self._pending[-4:]
                return
            stop = position + found + len(end) - len(tail)
            unit, position = self._pending + chunk[position:stop], stop
            self._in_content = not self._in_content and unit.strip().upper() == b"DATA"
            self._pending, self._open = b"", False


class _Replies:
    """Counts complete replies (the last line of a multi-line reply has a space)."""

    def __init__(self) -> None:
        self.count = 0
        self._line = b""

    def feed(self, chunk: bytes) -> None:
        self._line += chunk
        *lines, self._line = self._line.split(b"\r\n")
        self.count += sum(1 for line in lines if line[3:4] in (b" ", b""))
