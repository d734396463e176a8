"""The envelope sender (Return-Path) of every message, and reading it back.

With `bounces.verp` the envelope sender names what it was sent for:
`bounces+1234-5c0ffee123@example.org` is delivery 1234, `bounces+p56-…@` is
probe 56. The tag is an HMAC under a secret kept only in the database
(`return_keys`), never in the journal or the config, which may be shared: a
bounce or complaint that carries a valid tag was caused by mail we sent.
`rotate_key` makes a new key; the old ones still read back for `KEY_GRACE`,
so bounces of mail already sent are not lost. Whatever the mail systems on
the way do to the case of the local part, it reads back.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from newsletter.config import Config
from newsletter.subscribers.addresses import ascii_address
from newsletter.subscribers.store import Store

KEY_GRACE = timedelta(days=30)  # a retired key still reads back: late DSNs, slow complaints
_CODE = re.compile(
    r"^(?P<base>[^+@]+)\+(?P<kind>p?)(?P<id>\d{1,18})-(?P<tag>[0-9a-f]{10})@(?P<domain>.+)$"
)


@dataclass(frozen=True)
class Named:
    """What a VERP address names: a delivery or a probe, by id."""

    kind: str  # "delivery" | "probe"
    id: int


class ReturnPath:
    def __init__(self, address: str, *, verp: bool, keys: list[bytes]) -> None:
        """`keys`: the signing key first, then the retired ones still accepted."""
        self.address = address
        self.verp = verp
        self._keys = keys
        local, _, domain = address.rpartition("@")
        self._local, self._domain = local.lower(), domain.lower()

    def for_delivery(self, delivery_id: int) -> str:
        """MAIL FROM for one delivery."""
        return self._tagged("", delivery_id) if self.verp else self.address

    def for_probe(self, probe_id: int) -> str:
        """MAIL FROM for a probe: always VERP, since only its own bounce may confirm one."""
        return self._tagged("p", probe_id)

    def delivery_of(self, address: str) -> int | None:
        """The delivery a VERP address names; None for any other address or a forged tag."""
        named = self.named_by(address)
        return named.id if named is not None and named.kind == "delivery" else None

    def named_by(self, address: str) -> Named | None:
        """The delivery or probe a VERP address names, if its tag is ours."""
        match = _CODE.match(address.strip().strip("<>").lower())
        if not match or match["base"] != self._local or match["domain"] != self._domain:
            return None
        kind, number = match["kind"], int(match["id"])
        if not any(
            hmac.compare_digest(match["tag"], _tag(key, kind, number)) for key in self._keys
        ):
            return None
        return Named("probe" if kind else "delivery", number)

    def _tagged(self, kind: str, number: int) -> str:
        local, _, domain = self.address.rpartition("@")
        return f"{local}+{kind}{number}-{_tag(self._keys[0], kind, number)}@{domain}"


def _tag(key: bytes, kind: str, number: int) -> str:
    return hmac.new(key, f"{kind}{number}".encode(), hashlib.sha256).hexdigest()[:10]


def return_path_for(config: Config, store: Store) -> ReturnPath:
    """The project's return path, with the keys the database holds (signing key first)."""
    since = (datetime.fromisoformat(store.clock()) - KEY_GRACE).isoformat(timespec="seconds")
    rows = store.query(
        "SELECT secret FROM return_keys WHERE retired_at IS NULL OR retired_at > ?"
        " ORDER BY retired_at IS NOT NULL, id DESC",
        [since],
    )
    keys = [bytes.fromhex(row["secret"]) for row in rows]
    return ReturnPath(ascii_address(config.return_address), verp=config.bounces.verp, keys=keys)


def rotate_key(store: Store) -> None:
    """A new signing key; the current one is retired and still read back for KEY_GRACE."""
    now = store.clock()
    with store.write():
        store.conn.execute("UPDATE return_keys SET retired_at = ? WHERE retired_at IS NULL", [now])
        store.conn.execute(
            "INSERT INTO return_keys (secret, created_at) VALUES (?, ?)",
            [secrets.token_hex(32), now],
        )
