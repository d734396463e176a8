"""A bare TCP server on a free loopback port, for servers the tests write by hand."""

from __future__ import annotations

import socket
import threading


class LoopbackListener:
    """Accepts connections on 127.0.0.1 in a thread and hands each to `handle`."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self._socket = socket.create_server((self.host, 0))
        self._socket.settimeout(0.2)
        self.port = self._socket.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def handle(self, client: socket.socket) -> None:
        raise NotImplementedError

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _address = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.handle(client)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._socket.close()
