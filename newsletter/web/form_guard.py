"""What keeps bots off the subscribe form, without remembering anything per form.

- A time stamp, signed with the project's secret, goes out with every form;
  a form sent back sooner than its minimum fill time was filled by a machine.
  The stamp holds its own minimum, so the server keeps no state per form
  until it is used: then it is remembered (`used_stamps`) until it expires,
  so it works once.
- A POST from another web site (its Origin, else its Referer) is refused,
  unless `[subscribe] allowed_origins` names it (the form embedded there).
- A honeypot field people never see (hidden by CSS, skipped by keyboards and
  screen readers); a bot fills it.
- A limit per client (IP address) and hour, kept in memory. It depends only on
  who is asking, never on which address they type, so it reveals nothing.
  Behind a proxy the client is the one the proxy names (`[serve] trusted_proxy`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from newsletter.config.sections import origin_of

STAMP_VALID_FOR = 24 * 3600  # an older form is shown again, filled in, to be sent once more
HONEYPOT_FIELD = "website"
MAX_TRACKED_CLIENTS = 100_000


class StampSigner:
    """`issued.minimum.nonce.signature`: when a form was made, how long it must take,
    and a nonce, so that each form's stamp is its own and can be used once."""

    def __init__(self, secret: str, clock: Callable[[], float] = time.time) -> None:
        self.key = secret.encode("ascii")
        self.clock = clock

    def stamp(self, minimum: int) -> str:
        body = f"{int(self.clock())}.{minimum}.{secrets.token_hex(8)}"
        return f"{body}.{self._sign(body)}"

    def verdict(self, stamp: str) -> str:
        """'ok', 'fast' (a machine), or 'stale': missing, forged, a day old, or from
        the future (the clock was stepped back): the form is shown again, to send again."""
        body, _, signature = stamp.rpartition(".")
        issued, minimum, nonce = (body.split(".") + ["", "", ""])[:3]
        if not (issued.isdigit() and minimum.isdigit() and nonce) or not hmac.compare_digest(
            signature, self._sign(body)
        ):
            return "stale"
        age = self.clock() - int(issued)
        if age < 0 or age > STAMP_VALID_FOR:
            return "stale"
        return "fast" if age < int(minimum) else "ok"

    def _sign(self, body: str) -> str:
        return hmac.new(self.key, body.encode("ascii"), hashlib.sha256).hexdigest()[:32]


class ClientLimiter:
    """At most `limit` requests per client in a sliding `window` of seconds."""

    def __init__(
        self, limit: int, window: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        now = self.clock()
        with self._lock:
            times = self._seen.get(client)
            if times is None:
                if len(self._seen) >= MAX_TRACKED_CLIENTS:
                    self._forget_quiet(now)
                times = self._seen[client] = deque()
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= self.limit:
                return False
            times.append(now)
            return True

    def _forget_quiet(self, now: float) -> None:
        """Bounded memory: drop clients with nothing in the window (or, failing that, all)."""
        quiet = [
            key for key, times in self._seen.items() if not times or times[-1] <= now - self.window
        ]
        for key in quiet or list(self._seen):
            del self._seen[key]


def client_address(environ: dict[str, Any]) -> str:
    """The client's IP address, as the WSGI server found it. Behind a reverse proxy
    the server must take it from the proxy's X-Forwarded-For (`newsletter serve`
    does, for `[serve] trusted_proxy`; web/server.py), never the app from a header
    any client can send."""
    return str(environ.get("REMOTE_ADDR") or "unknown")


def from_allowed_site(environ: dict[str, Any], allowed: frozenset[str]) -> bool:
    """Was this POST sent by a page of this site or of an allowed one?

    Browsers send Origin with a form's POST (older ones at least a Referer);
    a request with neither came from no web page (curl, a script), which no
    other site can make a visitor's browser send. `allowed` holds origins as
    `origin_of` writes them; the request's own Host is this site too.
    """
    origin = str(environ.get("HTTP_ORIGIN") or "").strip()
    if not origin:
        referer = str(environ.get("HTTP_REFERER") or "").strip()
        if not referer:
            return True
        origin = referer
    if origin.lower() == "null":  # a sandboxed frame, a data: URL, a file
        return False
    host = str(environ.get("HTTP_HOST") or "").lower()
    own = origin_of(origin)
    return own in allowed or (bool(host) and own.partition("://")[2] == host)
