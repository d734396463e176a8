"""A real DNS server for tests: Debian's dnsmasq on 127.0.0.1, on a free port,
serving only the records a test gives it (no system config, no upstream)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field

import dns.resolver

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


@dataclass
class Zone:
    """Records by name. TXT values longer than 255 characters are split into strings."""

    txt: dict[str, list[str]] = field(default_factory=dict)  # name -> records
    mx: dict[str, str] = field(default_factory=dict)  # domain -> mail host
    a: dict[str, str] = field(default_factory=dict)  # name -> IPv4
    local: list[str] = field(default_factory=lambda: ["example", "test"])  # answered here only

    def add_txt(self, name: str, value: str) -> None:
        self.txt.setdefault(name, []).append(value)

    def options(self) -> list[str]:
        options = [f"--local=/{domain}/" for domain in self.local]
        for name, records in self.txt.items():
            for record in records:
                strings = [record[i : i + 255] for i in range(0, len(record), 255)] or [""]
                if any("," in part for part in strings):
                    raise ValueError("dnsmasq cannot serve a TXT string with a comma")
                options.append(f"--txt-record={name},{','.join(strings)}")
        options += [f"--mx-host={domain},{host},10" for domain, host in self.mx.items()]
        options += [f"--host-record={name},{address}" for name, address in self.a.items()]
        return options


def dnsmasq_command(zone: Zone, port: int, address: str = "127.0.0.1") -> list[str]:
    return [
        DNSMASQ,
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--no-poll",
        "--bind-interfaces",
        f"--listen-address={address}",
        f"--port={port}",
        "--pid-file=",
        "--cache-size=0",
        *zone.options(),
    ]


class DnsServer:
    """dnsmasq serving `zone` on 127.0.0.1:port until stop()."""

    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        self.process: subprocess.Popen | None = None
        self.port = 0
        for _attempt in range(5):  # a free port can be taken between the check and the bind
            self.port = _free_port()
            self.process = subprocess.Popen(
                dnsmasq_command(zone, self.port),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            if self._answers():
                return
            self.stop()
        raise RuntimeError("dnsmasq did not start")

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _answers(self) -> bool:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers, resolver.port, resolver.lifetime = ["127.0.0.1"], self.port, 1.0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.process and self.process.poll() is None:
            try:
                resolver.resolve("probe.example", "A")
            except dns.resolver.NXDOMAIN:
                return True  # the server is up and answers for its local domains
            except dns.exception.DNSException:
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process is not None and self.process.stderr:
            self.process.stderr.close()


def _free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (dnsmasq serves both)."""
    for _attempt in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            try:
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue  # taken for TCP: try another
        return port
    raise RuntimeError("no free port for dnsmasq")
