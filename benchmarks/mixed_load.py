"""The web handler under mixed load, for `benchmarks/unsubscribe.py --mixed`.

`newsletter serve` (a real process, default settings) on loopback. For
`--seconds` (default 30), 200 client threads, each on its own keep-alive
connection, mix unsubscribe-page GETs, RFC 8058 one-click POSTs (each token
once) and sign-up POSTs (new addresses, genuine aged form stamps), while 100
half-open connections (a request line and one header, then silence) are held
the whole time: one the server closes is opened again at once, as a slowloris
would. A probe opens a fresh connection for GET /healthz every half second:
"a normal request". Afterwards, sign-ups for each kind of address (new,
active, unsubscribed, bounced) are timed side by side, as a client sees them.
Prints and writes benchmarks/results/unsubscribe-mixed.json.
"""

from __future__ import annotations

import http.client
import itertools
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from statistics import median, quantiles
from typing import Any
from urllib.parse import urlencode

from newsletter.project import open_project
from newsletter.subscribers.signups import form_secret
from newsletter.web.form_guard import StampSigner

ONE_CLICK = b"List-Unsubscribe=One-Click"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
LOAD_CONFIG = """
[subscribe]
per_client_per_hour = 100000   # every benchmark client shares 127.0.0.1
per_address_per_day = 100
"""


def prepare(project: Path) -> None:
    with (project / "newsletter.toml").open("a", encoding="utf-8") as handle:
        handle.write(LOAD_CONFIG)


def signup_body(signer: StampSigner, email: str) -> bytes:
    return urlencode(
        {"stamp": signer.stamp(3), "lang": "en", "email": email, "name": "Load Test",
         "organisation": "", "language": "en", "website": ""}
    ).encode()  # fmt: skip


class HalfOpen:
    """Holds `count` half-open connections until stopped, reopening any the server closes."""

    def __init__(self, host: str, port: int, count: int) -> None:
        self.address = (host, port)
        self.count = count
        self.reopened = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self) -> socket.socket:
        conn = socket.create_connection(self.address, timeout=5)
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        conn.setblocking(False)
        return conn

    def _run(self) -> None:
        held = [self._open() for _ in range(self.count)]
        try:
            while not self.stop.wait(0.5):
                for index, conn in enumerate(held):
                    if _closed_by_peer(conn):
                        conn.close()
                        held[index] = self._open()
                        self.reopened += 1
        finally:
            for conn in held:
                conn.close()


def _closed_by_peer(conn: socket.socket) -> bool:
    try:
        return conn.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


PROBE = """
import http.client, sys, time
host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    time.sleep(0.5)
    began = time.perf_counter()
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", "/healthz")
        status = conn.getresponse().status
    except OSError:
        status = 0
    finally:
        conn.close()
    print(status, time.perf_counter() - began, flush=True)
"""


class Probe:
    """A fresh connection for GET /healthz every half second, from a process of its own
    (so the load's client threads do not slow the measurement): what a newcomer gets."""

    def __init__(self, host: str, port: int, seconds: float) -> None:
        self.command = [sys.executable, "-c", PROBE, host, str(port), str(seconds)]
        self.results: list[tuple[int | None, float]] = []
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, text=True)

    def finish(self) -> None:
        assert self.process is not None
        out, _err = self.process.communicate(timeout=120)
        for line in out.splitlines():
            status, seconds = line.split()
            self.results.append((int(status) or None, float(seconds)))


def run_clients(
    host: str, port: int, tokens: list[str], signer: StampSigner, clients: int, seconds: float
) -> list[tuple[str, int, float]]:
    """`clients` threads mixing GET page / one-click POST / sign-up until time is up."""
    results: list[tuple[str, int, float]] = []
    lock = threading.Lock()
    pool = iter(tokens)
    addresses = itertools.count()
    deadline = time.monotonic() + seconds

    def request(conn: http.client.HTTPConnection, kind: str) -> tuple[str, int, float]:
        with lock:
            token = next(pool, None) if kind == "one-click" else random.choice(tokens)
            email = f"joiner{next(addresses)}@example.net"
        if token is None:
            kind, token = "page", random.choice(tokens)
        began = time.perf_counter()
        if kind == "page":
            conn.request("GET", f"/u/{token}")
        elif kind == "one-click":
            conn.request("POST", f"/u/{token}", body=ONE_CLICK, headers=FORM)
        else:
            conn.request("POST", "/subscribe", body=signup_body(signer, email), headers=FORM)
        response = conn.getresponse()
        response.read()
        return kind, response.status, time.perf_counter() - began

    def client(seed: int) -> None:
        rng = random.Random(seed)
        conn = http.client.HTTPConnection(host, port, timeout=30)
        mine = []
        while time.monotonic() < deadline:
            kind = rng.choices(("page", "one-click", "sign-up"), weights=(2, 1, 1))[0]
            try:
                mine.append(request(conn, kind))
            except OSError:
                mine.append((kind, 0, 0.0))
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
        conn.close()
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    return results


def signup_timing_by_kind(host: str, port: int, signer: StampSigner, rounds: int = 50) -> dict:
    """Median and p90 (ms) of POST /subscribe for each kind of address, interleaved."""
    kinds = {"new": None, "active": "active0@example.org",
             "unsubscribed": "left0@example.org", "bounced": "bounced0@example.org"}  # fmt: skip
    timings: dict[str, list[float]] = {kind: [] for kind in kinds}
    conn = http.client.HTTPConnection(host, port, timeout=30)
    for n in range(rounds):
        for kind, email in kinds.items():
            body = signup_body(signer, email or f"fresh{n}@example.net")
            began = time.perf_counter()
            conn.request("POST", "/subscribe", body=body, headers=FORM)
            conn.getresponse().read()
            timings[kind].append((time.perf_counter() - began) * 1000)
    conn.close()
    return {
        kind: {"p50": round(median(values), 2), "p90": round(quantiles(values, n=10)[8], 2)}
        for kind, values in timings.items()
    }


def add_timing_people(project: Path) -> StampSigner:
    """One active, one unsubscribed and one bounced address for the timing comparison."""
    with open_project(project) as (_config, store):
        store.add_subscriber("active0@example.org")
        left = store.add_subscriber("left0@example.org").subscriber
        store.unsubscribe(left.id, "cli")
        gone = store.add_subscriber("bounced0@example.org").subscriber
        store.record_bounce(gone.id, "550 5.1.1 no such user", limit=1)
        secret = form_secret(store)
    return StampSigner(secret, clock=lambda: time.time() - 30)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (psutil, a test dependency)."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def summary(results: list[tuple[str, int, float]], probe: Probe, seconds: float) -> dict[str, Any]:
    def figures(latencies: list[float]) -> dict[str, float]:
        ordered = sorted(ms * 1000 for ms in latencies)
        cuts = quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
        return {"p50": round(cuts[49], 2), "p99": round(cuts[98], 2), "max": round(ordered[-1], 2)}

    by_kind = {}
    for kind in ("page", "one-click", "sign-up"):
        mine = [r for r in results if r[0] == kind]
        by_kind[kind] = {
            "requests": len(mine),
            "errors": sum(1 for r in mine if r[1] != 200),
            "latency_ms": figures([r[2] for r in mine if r[1] == 200] or [0.0]),
        }
    probes = [seconds for status, seconds in probe.results if status == 200]
    return {
        "requests": len(results),
        "requests_per_second": round(len(results) / seconds, 1),
        "errors": sum(1 for r in results if r[1] != 200),
        "latency_ms": figures([r[2] for r in results if r[1] == 200] or [0.0]),
        "by_kind": by_kind,
        "normal_request_probe": {
            "tries": len(probe.results),
            "answered": len(probes),
            "latency_ms": figures(probes or [0.0]),
            "over_one_second": sum(1 for s in probes if s > 1.0),
        },
    }
