"""Fixtures for `newsletter doctor`: a real dnsmasq serving a good zone and broken
ones side by side (one domain each), and a loopback https health endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from newsletter.mail.dkim_keys import record_value

from support.dnsmasq import DnsServer, Zone
from support.https import HttpsServer

GOOD = "good.example"
BROKEN = ("nodmarc.example", "spfall.example", "wrongkey.example", "spfdeep.example")


@dataclass
class Zones:
    server: DnsServer
    pem: bytes  # the key every domain's record publishes (wrongkey.example: another)
    ed25519_pem: bytes  # published at newsletter-ed25519._domainkey.good.example


def _pem(key: rsa.RSAPrivateKey | Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def build_zone(published: str, other: str, ed25519: str) -> Zone:
    zone = Zone(local=["example"])
    zone.add_txt("example", "a top-level domain exists as in the real DNS")
    zone.add_txt(f"newsletter-ed25519._domainkey.{GOOD}", ed25519)
    for domain in (GOOD, "other.example", *BROKEN):
        spf = (
            "v=spf1 +all"
            if domain == "spfall.example"
            else f"v=spf1 ip4:127.0.0.1 include:_spf.{domain} -all"
        )
        zone.add_txt(domain, spf)
        zone.add_txt(f"_spf.{domain}", "v=spf1 ip4:127.0.0.2 ~all")
        if domain != "nodmarc.example":
            zone.add_txt(f"_dmarc.{domain}", f"v=DMARC1; p=quarantine; rua=mailto:dmarc@{domain}")
        key = other if domain == "wrongkey.example" else published
        zone.add_txt(f"newsletter._domainkey.{domain}", key)
        zone.mx[domain] = f"mx.{domain}"
        zone.a[f"mx.{domain}"] = "127.0.0.1"
    deep = " ".join(f"include:i{n}.spfdeep.example" for n in range(11))
    zone.txt["spfdeep.example"] = [f"v=spf1 {deep} -all"]
    for n in range(11):
        zone.add_txt(f"i{n}.spfdeep.example", "v=spf1 ip4:127.0.0.3 -all")
    return zone


@pytest.fixture(scope="module")
def zones() -> Zones:
    key, other = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    ed_key = Ed25519PrivateKey.generate()
    records = (record_value(k.public_key()) for k in (key, other, ed_key))
    server = DnsServer(build_zone(*records))
    yield Zones(server, _pem(key), _pem(ed_key))
    server.stop()


@pytest.fixture
def health(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> HttpsServer:
    """https://localhost:PORT/healthz, trusted through SSL_CERT_FILE as a user would."""
    cert, key = certificate
    server = HttpsServer(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    yield server
    server.stop()
