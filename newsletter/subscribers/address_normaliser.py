"""`normalise_address` at import speed: each domain is validated once, not once per row.

email-validator spends most of its time on the domain (UTS-46 checks on every
character), and a file of 100,000 addresses has a few thousand domains. So an
address whose local part is a plain ASCII dot-atom (RFC 5322) and whose domain
already passed full validation in this run is put together here; every other
address goes through `normalise_address`. The results are identical, which
tests/subscribers/test_importer.py checks with hypothesis against the installed
email-validator (so a change in its rules shows up as a failing test).
"""

from __future__ import annotations

import re

from newsletter.subscribers.addresses import normalise_address

MAX_DOMAINS = 20_000  # keeps memory flat for a file in which every domain differs
EMAIL_MAX_LENGTH = 254  # RFC 5321's path limit less the angle brackets (RFC 3696 errata)
_ATEXT = r"[a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~]"
DOT_ATOM_TEXT = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*\Z")  # RFC 5322 3.2.3
# RFC 2142's role mailboxes: email-validator lower-cases these local parts.
ROLE_MAILBOXES = frozenset(
    [
        "info",
        "marketing",
        "sales",
        "support",
        "abuse",
        "noc",
        "security",
        "postmaster",
        "hostmaster",
        "usenet",
        "news",
        "webmaster",
        "www",
        "uucp",
        "ftp",
    ]
)


class AddressNormaliser:
    """A callable like `normalise_address`, remembering the ASCII domains it has validated."""

    def __init__(self) -> None:
        self._domains: dict[str, str] = {}  # domain as written -> normalised (lower-case) domain

    def __call__(self, text: str) -> str:
        candidate = text.strip()
        local, at, domain = candidate.rpartition("@")
        known = self._domains.get(domain) if at else None
        if known is not None and _plain_local(local) and len(candidate) <= EMAIL_MAX_LENGTH:
            return f"{local}@{known}"  # ASCII, and as long as the candidate
        normalised = normalise_address(text)
        self._remember(candidate, normalised)
        return normalised

    def _remember(self, candidate: str, normalised: str) -> None:
        domain = candidate.rpartition("@")[2]
        checked = normalised.rpartition("@")[2]
        if domain.isascii() and checked.isascii() and len(self._domains) < MAX_DOMAINS:
            self._domains[domain] = checked


def _plain_local(local: str) -> bool:
    """ASCII dot-atom: email-validator accepts it as it is, with no normalisation."""
    return DOT_ATOM_TEXT.match(local) is not None and local.lower() not in ROLE_MAILBOXES
