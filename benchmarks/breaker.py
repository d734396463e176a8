"""How long each relay fault takes to stop a send, with the default settings.

    .venv/bin/python benchmarks/breaker.py [--n 2000] [--connections 2] [--only NAME]

For each fault a loopback relay (aiosmtpd, or a bare socket for the greeting)
answers the way real ones do; a project with N subscribers, its recipient list
already frozen (a resumed send, so the loop meets the fault rather than the
connection check), runs the real CLI, `newsletter send SLUG --yes`, as a child
process with the default `[smtp]` and `[sending]` settings (timeout 30 s,
5 attempts, backoff 2 s doubling). Printed and written to
benchmarks/results/breaker.json: seconds to stop, exit code, the error line, and
the ledger and subscribers afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller

from newsletter.project import init_project, open_project
from newsletter.sending.ledger import Ledger

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "breaker.json"
SLUG = "2026-12"

FAULTS = {
    "o365-quota (DATA)": ("data", "554 5.2.0 STOREDRV.Submission.Exception:"
                          "SubmissionQuotaExceededException; Failed to process message"),
    "ses-not-verified (DATA)": ("data", "554 Message rejected: Email address is not verified."),
    "exim-relay-denied (RCPT)": ("rcpt", "550 relay not permitted"),
    "552 5.2.3 too big (DATA)": ("data", "552 5.2.3 message size exceeds fixed maximum"),
    "552 5.7.0 gmail security (DATA)": ("data", "552 5.7.0 This message was blocked because"
                                        " its content presents a potential security issue"),
    "452 to every RCPT": ("rcpt", "452 4.3.1 Insufficient system storage"),
    "421 at the greeting": ("greeting", "421 4.3.2 Service not available, closing channel"),
    "silent after 100 messages": ("silent", "100"),
}  # fmt: skip


class Relay:
    """Answers RCPT or DATA from the script; or, silent, hangs at MAIL after N messages."""

    def __init__(self, where: str, reply: str) -> None:
        self.where, self.reply, self.accepted = where, reply, 0

    async def handle_MAIL(self, server, session, envelope, address, options):  # noqa: ANN001, ANN201
        if self.where == "silent" and self.accepted >= int(self.reply):
            await asyncio.sleep(600)
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: ANN001, ANN201
        if self.where == "rcpt":
            return self.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201
        if self.where == "data":
            return self.reply
        self.accepted += 1
        return "250 OK"


class _Controller(Controller):
    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def greeting_refuser(line: str) -> tuple[int, threading.Event]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            with client:
                client.sendall(line.encode() + b"\r\n")
        server.close()

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1], done


def project_with(folder: Path, n: int, port: int, connections: int) -> Path:
    project = folder / "project"
    init_project(project, "Bench")
    with (project / "newsletter.toml").open("a") as file:
        file.write(f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
                   f"connections = {connections}\nrate = 0\n")  # fmt: skip
    with open_project(project) as (_config, store), store.write():
        for k in range(n):
            store.insert_subscriber(f"reader{k:05d}@example.org", {"name": f"R {k}"}, {}, "b")
    example = Path(__file__).resolve().parent.parent / "examples" / "issues" / "2026-12.en.md"
    (project / "issues" / f"{SLUG}.md").write_text(example.read_text(encoding="utf-8"))
    with open_project(project) as (_config, store):
        Ledger(store).begin(SLUG, "December", "frozen-by-an-earlier-run")
    return project


def run_cli(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "newsletter", *args, "--project", str(project)],
        capture_output=True, text=True, timeout=3600,
    )  # fmt: skip


def measure(name: str, n: int, connections: int) -> dict:
    where, reply = FAULTS[name]
    controller = stop_greeting = None
    if where == "greeting":
        port, stop_greeting = greeting_refuser(reply)
    else:
        controller = _Controller(Relay(where, reply), hostname="127.0.0.1", port=0)
        controller.start()
        port = controller.port
    with tempfile.TemporaryDirectory() as folder:
        project = project_with(Path(folder), n, port, connections)
        # the content hash differs from the frozen placeholder: allow it
        started = time.monotonic()
        result = run_cli(project, "send", SLUG, "--yes", "--allow-changes")
        elapsed = time.monotonic() - started
        with open_project(project) as (_config, store):
            counts = Ledger(store).status(SLUG).counts
            bounced = store.count_by_status()["bounced"]
    if controller is not None:
        controller.stop()
    if stop_greeting is not None:
        stop_greeting.set()
    error = next((line for line in result.stderr.splitlines() if line.startswith("error:")), "")
    return {
        "fault": name, "seconds": round(elapsed, 2), "exit": result.returncode,
        "error": error[:160], "queued": counts["queued"], "sent": counts["sent"],
        "failed": counts["failed"], "uncertain": counts["sending"], "bounced": bounced,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--only", action="append", help="a fault name (repeatable)")
    options = parser.parse_args()
    rows = []
    for name in options.only or FAULTS:
        row = measure(name, options.n, options.connections)
        rows.append(row)
        print(
            f"{row['fault']:<34} {row['seconds']:>7.1f} s  exit {row['exit']}  queued"
            f" {row['queued']}  sent {row['sent']}  failed {row['failed']}  bounced"
            f" {row['bounced']}\n    {row['error']}",
            flush=True,
        )
    RESULTS.write_text(
        json.dumps({"n": options.n, "connections": options.connections, "faults": rows}, indent=2)
        + "\n"
    )
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
