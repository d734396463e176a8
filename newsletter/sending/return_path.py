"""The envelope sender (Return-Path) of every message, and reading it back.

With `bounces.verp` the envelope sender names its delivery:
`bounces+1234-5c0ffee123@example.org` is delivery 1234, and the tag (an HMAC
of the id under a key kept in the database) stops a forged bounce from
naming someone else's delivery. Whatever the mail systems on the way do to
the case of the local part, it reads back.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from newsletter.config import Config
from newsletter.subscribers.addresses import ascii_address
from newsletter.subscribers.store import Store

_CODE = re.compile(r"^(?P<base>[^+@]+)\+(?P<id>\d{1,18})-(?P<tag>[0-9a-f]{10})@(?P<domain>.+)$")


class ReturnPath:
    def __init__(self, address: str, *, verp: bool, key: bytes) -> None:
        self.address = address
        self.verp = verp
        self._key = key
        local, _, domain = address.rpartition("@")
        self._local, self._domain = local.lower(), domain.lower()

    def for_delivery(self, delivery_id: int) -> str:
        """MAIL FROM for one delivery."""
        if not self.verp:
            return self.address
        local, _, domain = self.address.rpartition("@")
        return f"{local}+{delivery_id}-{self._tag(delivery_id)}@{domain}"

    def delivery_of(self, address: str) -> int | None:
        """The delivery a VERP address names; None for any other address or a forged tag."""
        match = _CODE.match(address.strip().strip("<>").lower())
        if not match or match["base"] != self._local or match["domain"] != self._domain:
            return None
        delivery_id = int(match["id"])
        return delivery_id if hmac.compare_digest(match["tag"], self._tag(delivery_id)) else None

    def _tag(self, delivery_id: int) -> str:
        return hmac.new(self._key, str(delivery_id).encode(), hashlib.sha256).hexdigest()[:10]


def return_path_for(config: Config, store: Store) -> ReturnPath:
    """The project's return path; the VERP key is derived from the database's own
    secret salt, so it travels with the database and no config holds it."""
    salt = store.one("SELECT value FROM meta WHERE key = 'suppression_salt'")
    key = hashlib.sha256(f"verp:{salt['value'] if salt else ''}".encode()).digest()
    return ReturnPath(ascii_address(config.return_address), verp=config.bounces.verp, key=key)
