"""Benchmark: 1,000 RFC 8058 one-click unsubscribes while a send writes the same database.

    .venv/bin/python benchmarks/unsubscribe.py [--subscribers 1000] [--clients 8] [--threads 4]
    .venv/bin/python benchmarks/unsubscribe.py --during-import 1000000

With --during-import ROWS the writer is instead a real `newsletter subscribers
import` of ROWS new people (one transaction holding the database throughout):
the POSTs start once it holds the write lock; p50/p99 and the count of answers
other than 200 go to benchmarks/results/unsubscribe-during-import.json
(goal: 0 not 200, p99 under 1 s, and all N unsubscribed once the import commits).

    .venv/bin/python benchmarks/unsubscribe.py --mixed [--seconds 30] [--half-open 100]

With --mixed: 200 clients mixing page GETs, one-click POSTs and sign-ups while
100 half-open connections are held (see benchmarks/mixed_load.py); writes
benchmarks/results/unsubscribe-mixed.json.

A fresh project with N subscribers; `newsletter serve` runs as a subprocess on a
free loopback port; several client threads POST `List-Unsubscribe=One-Click`
once for every token (each on its own keep-alive connection) while a writer
works on the same SQLite file: a real `newsletter send SLUG --yes` into the
outbox when that command exists, otherwise a thread that commits per-message
`queued -> sending -> sent` moves on the deliveries table the way the sender's
ledger does, until the POSTs are done (always with --tight: a writer that
never pauses between commits, the worst case). Prints requests/s and p50/p99 latency,
asserts every POST got 200 and exactly N people are unsubscribed, and writes
benchmarks/results/unsubscribe.json (with --tight: unsubscribe-tight.json).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from statistics import quantiles
from urllib.parse import urlsplit

from newsletter.project import init_project, open_project

RESULTS = Path(__file__).parent / "results" / "unsubscribe.json"
ONE_CLICK = b"List-Unsubscribe=One-Click"


def newsletter(project: Path, *args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsletter", *args],
        env={**os.environ, "NEWSLETTER_PROJECT": str(project)},
        capture_output=True,
        text=True,
        **kwargs,
    )


def make_project(root: Path, count: int) -> tuple[Path, list[str]]:
    project = root / "bench"
    init_project(project, "Benchmark News")
    with open_project(project) as (_config, store), store.write():
        tokens = [
            store.add_subscriber(f"reader{i}@example.org", name=f"Reader {i}").subscriber.token
            for i in range(count)
        ]
    return project, tokens


def start_serve(project: Path, threads: int) -> tuple[subprocess.Popen[str], str, int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "serve", "--port", "0", "--threads", str(threads)],
        env={**os.environ, "NEWSLETTER_PROJECT": str(project), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        # Ctrl-C handling even when this script runs in the background (SIGINT ignored).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    line = process.stdout.readline()  # type: ignore[union-attr]
    if "http://" not in line:
        process.kill()
        raise SystemExit(f"serve did not start: {line!r}")
    url = urlsplit(line[line.index("http://") :].strip())
    return process, url.hostname or "127.0.0.1", url.port or 0


class RealSend:
    """`newsletter send SLUG --yes` into the outbox, as a subprocess."""

    kind = "real `newsletter send` into the outbox"

    def __init__(self, project: Path) -> None:
        self.project = project
        self.process: subprocess.Popen[str] | None = None
        self.started = self.ended = 0.0

    @staticmethod
    def available(project: Path) -> bool:
        if newsletter(project, "send", "--help").returncode != 0:
            return False
        example = Path(__file__).resolve().parent.parent / "examples" / "issues" / "2026-12.en.md"
        (project / "issues" / "bench.md").write_text(example.read_text(encoding="utf-8"))
        return True

    def start(self) -> None:
        """Start the send and return once it has delivered its first message."""
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "newsletter", "send", "bench", "--yes"],
            env={**os.environ, "NEWSLETTER_PROJECT": str(self.project)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        conn = sqlite3.connect(self.project / "newsletter.db", timeout=30)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            sent = conn.execute(
                "SELECT count(*) FROM deliveries WHERE issue_slug = 'bench' AND status = 'sent'"
            ).fetchone()[0]
            if sent:
                break
            time.sleep(0.01)
        conn.close()
        self.delivering_after = time.perf_counter() - self.started

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def finish(self) -> dict[str, object]:
        assert self.process is not None
        _out, err = self.process.communicate(timeout=600)
        self.ended = time.perf_counter()
        with open_project(self.project) as (_config, store):
            counts = dict(
                store.conn.execute(
                    "SELECT status, count(*) FROM deliveries WHERE issue_slug = 'bench'"
                    " GROUP BY status"
                ).fetchall()
            )
        return {
            "exit_code": self.process.returncode,
            "seconds": round(self.ended - self.started, 3),
            "first_delivery_after_seconds": round(self.delivering_after, 3),
            "deliveries": counts,
            "stderr_tail": err.strip().splitlines()[-2:],
        }


class SimulatedSend:
    """Per-message short write transactions on deliveries, like the sender's ledger."""

    kind = "simulated send: per-message BEGIN IMMEDIATE commits on deliveries"

    def __init__(self, project: Path, tight: bool = False) -> None:
        self.path = project / "newsletter.db"
        self.outbox = project / "outbox-simulated"
        self.outbox.mkdir()
        self.message = b"X" * 6000
        self.tight = tight
        if tight:
            self.kind += "; tight loop, no work between commits (worst case)"
        else:
            self.kind += "; a 6 KB file written per message between the two commits"
        self.stop = threading.Event()
        self.commits = 0
        self.thread = threading.Thread(target=self._run)
        self.started = self.ended = 0.0

    def start(self) -> None:
        self.started = time.perf_counter()
        self.thread.start()

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute(
            "INSERT INTO issues (slug, subject, content_hash, created_at, started_at)"
            " VALUES ('bench', 'Benchmark', 'x', datetime('now'), datetime('now'))"
        )
        conn.execute(
            "INSERT INTO deliveries (issue_slug, subscriber_id, status)"
            " SELECT 'bench', id, 'queued' FROM subscribers ORDER BY id"
        )
        ids = [row[0] for row in conn.execute("SELECT id FROM deliveries ORDER BY id")]
        while not self.stop.is_set():
            for delivery_id in ids:
                if self.stop.is_set():
                    break
                self._move(conn, delivery_id, "sending")
                if not self.tight:  # the message itself: bytes written to the outbox
                    (self.outbox / f"{delivery_id}.eml").write_bytes(self.message)
                self._move(conn, delivery_id, "sent")
            conn.execute("UPDATE deliveries SET status = 'queued'")
        conn.close()

    def running(self) -> bool:
        return self.thread.is_alive()

    def _move(self, conn: sqlite3.Connection, delivery_id: int, status: str) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "UPDATE deliveries SET status = ?, attempts = attempts + 1,"
            " updated_at = datetime('now') WHERE id = ?",
            [status, delivery_id],
        )
        conn.execute("COMMIT")
        self.commits += 1

    def finish(self) -> dict[str, object]:
        self.stop.set()
        self.thread.join(timeout=60)
        self.ended = time.perf_counter()
        return {"commits": self.commits, "seconds": round(self.ended - self.started, 3)}


class RealImport:
    """`newsletter subscribers import` of a large generated CSV, as a subprocess: one
    transaction that holds the database for its whole length (tens of seconds)."""

    def __init__(self, project: Path, rows: int) -> None:
        self.project, self.rows = project, rows
        self.kind = f"real `newsletter subscribers import` of {rows:,} new rows (one transaction)"
        self.csv = project / "big.csv"
        self.process: subprocess.Popen[str] | None = None
        self.started = self.held_after = 0.0

    def start(self) -> None:
        """Start the import and return once it holds the database's write lock."""
        with self.csv.open("w", encoding="utf-8") as file:
            file.write("Email,Name\n")
            for n in range(self.rows):
                file.write(f"member{n:07d}@example.net,Member {n}\n")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "newsletter", "subscribers", "import", str(self.csv)],
            env={**os.environ, "NEWSLETTER_PROJECT": str(self.project)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and self.process.poll() is None:
            if _write_lock_held(self.project / "newsletter.db"):
                break
            time.sleep(0.01)
        self.held_after = time.perf_counter() - self.started

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def finish(self) -> dict[str, object]:
        assert self.process is not None
        out, err = self.process.communicate(timeout=1800)
        return {
            "exit_code": self.process.returncode,
            "seconds": round(time.perf_counter() - self.started, 3),
            "held_the_database_after_seconds": round(self.held_after, 3),
            "summary": out.strip().splitlines()[-1:],
            "stderr_tail": err.strip().splitlines()[-2:],
        }


def _write_lock_held(path: Path) -> bool:
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()


def post_all(host: str, port: int, tokens: list[str], clients: int) -> list[tuple[int, float]]:
    """Each token POSTed exactly once, split over `clients` threads with keep-alive."""
    results: list[tuple[int, float]] = []
    lock = threading.Lock()

    def client(chunk: list[str]) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        mine = []
        for token in chunk:
            began = time.perf_counter()
            try:
                conn.request(
                    "POST",
                    f"/u/{token}",
                    body=ONE_CLICK,
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):  # no answer within 60 s: counted as 0
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=60)
                status = 0
            mine.append((status, time.perf_counter() - began))
        conn.close()
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=client, args=(tokens[i::clients],)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    return results


def mixed(args: argparse.Namespace) -> None:
    """200 clients mixing GETs, one-click POSTs and sign-ups while half-open connections are held."""
    import mixed_load

    with tempfile.TemporaryDirectory() as tmp:
        project, tokens = make_project(Path(tmp), args.subscribers)
        mixed_load.prepare(project)
        signer = mixed_load.add_timing_people(project)
        serve, host, port = start_serve(project, args.threads)
        holder = mixed_load.HalfOpen(host, port, args.half_open)
        probe = mixed_load.Probe(host, port, args.seconds)
        try:
            holder.thread.start()
            time.sleep(1.0)
            probe.start()
            cpu_before = mixed_load.cpu_seconds(serve.pid)
            results = mixed_load.run_clients(host, port, tokens, signer, args.clients, args.seconds)
            serve_cpu = mixed_load.cpu_seconds(serve.pid) - cpu_before
            probe.finish()
            holder.stop.set()
            holder.thread.join(timeout=30)
            timing = mixed_load.signup_timing_by_kind(host, port, signer)
        finally:
            serve.send_signal(signal.SIGINT)
            serve_exit = serve.wait(timeout=60)
    figures = {
        "benchmark": "unsubscribe --mixed",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "subscribers": args.subscribers,
        "client_threads": args.clients,
        "serve_threads": args.threads,
        "half_open_connections_held": args.half_open,
        "half_open_reopened_after_server_closed_them": holder.reopened,
        "seconds": args.seconds,
        **mixed_load.summary(results, probe, args.seconds),
        "serve_cpu_seconds": round(serve_cpu, 2),
        "serve_cpu_ms_per_request": round(serve_cpu * 1000 / max(len(results), 1), 3),
        "load_average_1min_after": round(os.getloadavg()[0], 2),
        "signup_ms_by_kind_of_address": timing,
        "serve_exit_code": serve_exit,
    }
    print(json.dumps(figures, indent=2))
    path = RESULTS.with_name("unsubscribe-mixed.json")
    path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    probe_figures = figures["normal_request_probe"]
    print(
        f"{figures['requests_per_second']} requests/s, p50 {figures['latency_ms']['p50']} ms,"
        f" p99 {figures['latency_ms']['p99']} ms, errors {figures['errors']};"
        f" normal request: {probe_figures['answered']}/{probe_figures['tries']} answered,"
        f" max {probe_figures['latency_ms']['max']} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--threads", type=int, default=4, help="serve --threads")
    parser.add_argument(
        "--during-import",
        type=int,
        default=0,
        metavar="ROWS",
        help="the writer is an import of ROWS new subscribers (e.g. 1000000)",
    )
    parser.add_argument(
        "--tight",
        action="store_true",
        help="simulated writer only: commit in a tight loop (worst case, not a real send)",
    )
    parser.add_argument("--mixed", action="store_true", help="the mixed load (see above)")
    parser.add_argument("--seconds", type=float, default=30.0, help="--mixed: how long")
    parser.add_argument("--half-open", type=int, default=100, help="--mixed: connections held")
    args = parser.parse_args()
    if args.mixed:
        if args.clients == 8:
            args.clients = 200
        mixed(args)
        return

    with tempfile.TemporaryDirectory() as tmp:
        project, tokens = make_project(Path(tmp), args.subscribers)
        if args.during_import:
            writer: RealSend | SimulatedSend | RealImport = RealImport(project, args.during_import)
        elif not args.tight and RealSend.available(project):
            writer = RealSend(project)
        else:
            writer = SimulatedSend(project, tight=args.tight)
        serve, host, port = start_serve(project, args.threads)
        try:
            writer.start()
            began = time.perf_counter()
            results = post_all(host, port, tokens, args.clients)
            elapsed = time.perf_counter() - began
            writer_still_running = writer.running()
            writer_report = writer.finish()
        finally:
            serve.send_signal(signal.SIGINT)
            serve_exit = serve.wait(timeout=30)
        with open_project(project) as (_config, store):
            counts = store.count_by_status()
            one_click = store.conn.execute(
                "SELECT count(*) FROM subscribers WHERE left_via = 'one-click'"
            ).fetchone()[0]

    statuses = sorted({status for status, _ in results})
    not_200 = sum(1 for status, _ in results if status != 200)
    latencies = sorted(seconds * 1000 for _, seconds in results)
    cuts = quantiles(latencies, n=100, method="inclusive")
    figures = {
        "benchmark": "unsubscribe",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "subscribers": args.subscribers,
        "client_threads": args.clients,
        "serve_threads": args.threads,
        "concurrent_writer": writer.kind,
        "writer": writer_report,
        "writer_still_running_when_posts_ended": writer_still_running,
        "requests": len(results),
        "statuses": statuses,
        "not_200": not_200,
        "seconds": round(elapsed, 3),
        "requests_per_second": round(len(results) / elapsed, 1),
        "latency_ms": {
            "p50": round(cuts[49], 2),
            "p90": round(cuts[89], 2),
            "p99": round(cuts[98], 2),
            "max": round(latencies[-1], 2),
        },
        "unsubscribed_after": counts["unsubscribed"],
        "one_click_events": one_click,
        "serve_exit_code": serve_exit,
    }
    print(json.dumps(figures, indent=2))
    results_path = RESULTS.with_name("unsubscribe-tight.json") if args.tight else RESULTS
    if args.during_import:
        results_path = RESULTS.with_name("unsubscribe-during-import.json")
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    assert len(results) == args.subscribers, "not every token was POSTed"
    assert statuses == [200], f"some POSTs did not get 200: {statuses}"
    assert counts["unsubscribed"] == args.subscribers, counts
    assert one_click == args.subscribers, one_click
    if isinstance(writer, RealImport):
        assert writer_report["exit_code"] == 0, writer_report
        assert writer_still_running, "the import ended before the POSTs did: rerun with more rows"
        assert figures["latency_ms"]["p99"] < 1000, "goal: p99 under 1 s"  # type: ignore[index]
    assert serve_exit == 0, serve_exit
    if isinstance(writer, RealSend):
        assert writer_report["exit_code"] == 0, writer_report
        deliveries = writer_report["deliveries"]
        assert sum(deliveries.values()) == args.subscribers, deliveries  # type: ignore[union-attr]
    print(
        f"{figures['requests_per_second']} requests/s, p50 {figures['latency_ms']['p50']} ms,"
        f" p99 {figures['latency_ms']['p99']} ms; {not_200} not 200;"
        f" {counts['unsubscribed']} unsubscribed;"
        f" writer: {writer.kind}"
    )


if __name__ == "__main__":
    main()
