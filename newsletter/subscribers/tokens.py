"""Unsubscribe tokens: random, stored, never derived from the address."""

from __future__ import annotations

import re

TOKEN_BYTES = 18  # 144 bits; 24 URL-safe characters, no padding
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{24}")


def new_token() -> str:
    import secrets  # here: commands that make no token (`status`) start without it

    return secrets.token_urlsafe(TOKEN_BYTES)


def looks_like_token(text: str) -> bool:
    """Cheap shape check before any database lookup."""
    return TOKEN_PATTERN.fullmatch(text) is not None


def unsubscribe_url(base_url: str, token: str) -> str:
    """Short on purpose: it must fit a List-Unsubscribe header line unfolded."""
    return f"{base_url}/u/{token}"
