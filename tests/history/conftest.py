"""Fixtures for the journal, backup and restore tests."""

from __future__ import annotations

import pytest

from support.smtp import add_subscribers


@pytest.fixture
def members(store) -> list[str]:
    """Five subscribers, the store closed afterwards so the CLI owns the project."""
    emails = add_subscribers(store, 5)
    store.close()
    return emails
