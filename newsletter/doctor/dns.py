"""DNS look-ups for the doctor, through dnspython, against the system's resolver or
the one named by --nameserver (split-horizon networks, tests)."""

from __future__ import annotations

import ipaddress
import socket

import dns.exception
import dns.resolver

from newsletter.errors import InputError

TIMEOUT = 5.0  # seconds for one question, retries included


class DnsFailure(Exception):
    """The question got no usable answer (timeout, SERVFAIL, refused): not the same
    as "no such record", which is an empty answer."""


class Dns:
    def __init__(self, resolver: dns.resolver.Resolver) -> None:
        self.resolver = resolver

    def records(self, name: str, kind: str) -> list:
        """The answer's records; [] when the name or the record does not exist."""
        try:
            return list(self.resolver.resolve(name, kind, search=False))
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.DNSException as error:
            raise DnsFailure(f"{kind} {name}: {_describe(error)}") from None

    def exists(self, name: str) -> bool:
        """Whether the name exists at all (it may hold no SOA: that still counts)."""
        try:
            self.resolver.resolve(name, "SOA", search=False)
        except dns.resolver.NXDOMAIN:
            return False
        except dns.resolver.NoAnswer:
            return True
        except dns.exception.DNSException as error:
            raise DnsFailure(f"SOA {name}: {_describe(error)}") from None
        return True

    def txt(self, name: str) -> list[str]:
        """Each TXT record as one string (its character-strings joined)."""
        return [
            b"".join(record.strings).decode("utf-8", "replace")
            for record in self.records(name, "TXT")
        ]


def _describe(error: Exception) -> str:
    if isinstance(error, dns.exception.Timeout):
        return "no answer in time"
    if isinstance(error, dns.resolver.NoNameservers):
        return "the name servers failed to answer (SERVFAIL or refused)"
    return str(error) or type(error).__name__


def make_dns(nameserver: str | None = None, timeout: float = TIMEOUT) -> Dns:
    """The system's resolver, or HOST[:PORT] (an IPv6 address in brackets with a port)."""
    if nameserver is None:
        try:
            resolver = dns.resolver.Resolver()
        except dns.exception.DNSException:
            raise InputError(
                "cannot read this machine's DNS settings",
                hint="name a DNS server with --nameserver HOST[:PORT]",
            ) from None
    else:
        host, port = parse_nameserver(nameserver)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host]
        resolver.port = port
    resolver.lifetime = timeout
    resolver.timeout = min(resolver.timeout, timeout)
    return Dns(resolver)


def parse_nameserver(text: str) -> tuple[str, int]:
    """'1.2.3.4', '1.2.3.4:5353', '[::1]:53', '::1' or a host name -> (address, port)."""
    host, port = text.strip(), "53"
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        port = rest.removeprefix(":") or "53"
    elif host.count(":") == 1:
        host, port = host.split(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--nameserver: {text!r} has a bad port", hint="use HOST or HOST:PORT")
    try:
        return str(ipaddress.ip_address(host)), int(port)
    except ValueError:
        pass
    try:
        return str(socket.getaddrinfo(host, int(port), type=socket.SOCK_DGRAM)[0][4][0]), int(port)
    except (OSError, UnicodeError):
        raise InputError(
            f"--nameserver: cannot find {host!r}", hint="give its IP address"
        ) from None
