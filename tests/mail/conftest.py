"""Fixtures for the DKIM tests: one RSA key per session, a project that signs with it."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from support.dkim import enable_signing


@pytest.fixture(scope="session")
def dkim_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def dkim_pem(dkim_key: rsa.RSAPrivateKey) -> bytes:
    return dkim_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture
def signing_project(project: Path, dkim_pem: bytes) -> Path:
    """The project, signing as newsletter._domainkey.example.org with the session key."""
    enable_signing(project, dkim_pem)
    return project
