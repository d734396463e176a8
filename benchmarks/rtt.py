"""Messages/s per connection at a real distance: bare smtplib vs newsletter, RTT 0-50 ms.

    .venv/bin/python benchmarks/rtt.py [--rtt 0 10 25 50] [--messages 60] [--servers aiosmtpd postfix]

Between the client and the server runs a TCP proxy on loopback (its own
process) that holds every chunk, in each direction, for RTT/2 and forwards
them in order. Servers: aiosmtpd offering PIPELINING (its own process), and
Debian's Postfix (a private instance on a free port, discard transport, set up
and torn down here; needs root and the postfix package). One connection each:
- bare: smtplib's `sendmail` in a loop (four round trips per message);
- newsletter send: the real send path (`send_issue`, ledger, MessageFactory,
  SmtpTransport) on a project whose [smtp] points at the proxy, connections = 1;
- pipelined: newsletter.sending.pipelining.PipelinedSession over the same
  smtplib connection handling, the ledger claiming each message as the loop does.
The same message bytes (the example issue, ~13 KB) everywhere. Writes
benchmarks/results/rtt.json. Goal (issue 15): at 25 ms, >= 3x the bare loop.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "rtt.json"
sys.path.insert(0, str(ROOT / "tests"))
from support.mailservers import free_port, wait_for_port  # noqa: E402 - the tests' own probes

SLUG = "2026-12"

PROXY = r"""
import asyncio, sys, time
delay = float(sys.argv[1]) / 2000  # one way: RTT/2, in seconds
upstream = int(sys.argv[2])

async def pump(reader, writer):
    queue = asyncio.Queue()
    async def forward():
        while True:
            due, chunk = await queue.get()
            if chunk is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(chunk)
            await writer.drain()
        writer.close()
    sender = asyncio.create_task(forward())
    try:
        while chunk := await reader.read(65536):
            queue.put_nowait((time.monotonic() + delay, chunk))
    except ConnectionError:
        pass
    queue.put_nowait((0, None))
    try:
        await sender
    except ConnectionError:
        pass

async def client(reader, writer):
    up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream)
    await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

async def main():
    server = await asyncio.start_server(client, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"""

SINK = r"""
import os, sys
from aiosmtpd.controller import Controller

class Sink:
    n = 0
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]
    async def handle_DATA(self, server, session, envelope):
        Sink.n += 1
        return "250 OK"

class C(Controller):
    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()

c = C(Sink(), hostname="127.0.0.1", port=0)
c.start()
print(c.port, flush=True)
sys.stdin.read()
print(Sink.n, flush=True)
os._exit(0)
"""

POSTFIX_MAIN = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = relay.test
mydomain = relay.test
myorigin = relay.test
mydestination =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
default_transport = discard:benchmark
relay_transport = discard:benchmark
local_transport = discard:benchmark
alias_maps =
alias_database =
biff = no
smtpd_tls_security_level = none
maillog_file_prefixes = {root}
maillog_file = {root}/maillog
"""
POSTFIX_MASTER = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
proxymap  unix  - - n - - proxymap
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class Postfix:
    """A private Postfix instance on a free loopback port that discards everything."""

    def __init__(self) -> None:
        if shutil.which("postfix") is None:
            raise SystemExit("postfix is not installed: apt-get install postfix")
        self.root = Path(tempfile.mkdtemp(prefix="bench-postfix-"))
        self.root.chmod(0o755)
        self.port = free_port()
        self.config = self.root / "etc"
        for folder in ("etc", "queue", "data"):
            (self.root / folder).mkdir()
        shutil.chown(self.root / "data", "postfix")
        (self.config / "main.cf").write_text(POSTFIX_MAIN.format(root=self.root))
        (self.config / "master.cf").write_text(POSTFIX_MASTER.format(port=self.port))

    def __enter__(self) -> Postfix:
        self._postfix("start")
        wait_for_port(self.port)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._postfix("stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def _postfix(self, command: str) -> None:
        done = subprocess.run(
            ["postfix", "-c", str(self.config), command], capture_output=True, text=True, timeout=60
        )
        if done.returncode != 0:
            raise SystemExit(f"postfix {command} failed: {done.stderr}")


class Aiosmtpd:
    def __enter__(self) -> Aiosmtpd:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SINK], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.port = int(self.process.stdout.readline())  # type: ignore[union-attr]
        return self

    def __exit__(self, *_exc: object) -> None:
        self.process.communicate("", timeout=60)


class Proxy:
    def __init__(self, rtt_ms: float, upstream: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", PROXY, str(rtt_ms), str(upstream)],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = int(self.process.stdout.readline())  # type: ignore[union-attr]

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


def child(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the children ------------------------------------------------------------------


def make_project(directory: Path, n: int) -> dict:
    from newsletter.project import init_project, open_project

    init_project(directory, name="Benchmark News")
    example = ROOT / "examples" / "issues" / f"{SLUG}.en.md"  # the English edition
    (directory / "issues" / f"{SLUG}.md").write_text(example.read_text(encoding="utf-8"))
    with open_project(directory) as (_config, store), store.write():
        for i in range(n):
            store.insert_subscriber(
                f"reader{i:06d}@example.org", {"name": f"Reader {i}"}, {}, "benchmark"
            )
    return {"subscribers": n}


def _issue(directory: Path, port: int, label: str):  # noqa: ANN202
    """A fresh copy of the issue, and the project's config pointed at `port`."""
    from newsletter.issue.rendering import prepare_issue
    from newsletter.project import open_project

    config_path = directory / "newsletter.toml"
    text = config_path.read_text(encoding="utf-8").split("\n[smtp]")[0]
    config_path.write_text(
        text
        + f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\nconnections = 1\nrate = 0\n'
        "messages_per_connection = 0\n",
        encoding="utf-8",
    )
    slug = f"{SLUG}-{label}"
    source = directory / "issues" / f"{SLUG}.md"
    (directory / "issues" / f"{slug}.md").write_text(source.read_text(encoding="utf-8"))
    opened = open_project(directory)
    config, store = opened.__enter__()
    return opened, config, store, slug, prepare_issue(config, slug)


def run_send(directory: Path, port: int, label: str) -> dict:
    """The real send path over one connection."""
    from newsletter.mail.builder import MessageFactory
    from newsletter.sending.campaign import send_issue
    from newsletter.sending.transport import plan_transport

    opened, config, store, slug, prepared = _issue(directory, port, label)
    build = MessageFactory(config, prepared).build
    started = time.perf_counter()
    _plan, report = send_issue(
        config, store, slug, prepared.subject, prepared.content_hash, build, plan_transport(config),
        confirm=lambda plan: True,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    opened.__exit__(None, None, None)
    assert report is not None and report.stopped is None and report.failed == 0, report
    return {"sent": report.sent, "seconds": elapsed, "rate": report.sent / elapsed}


def run_pipelined(directory: Path, port: int, label: str) -> dict:
    """PipelinedSession on a session opened by SmtpTransport, claiming through the ledger."""
    from newsletter.mail.builder import MessageFactory
    from newsletter.sending.ledger import Ledger
    from newsletter.sending.pipelining import PipelinedSession, offers_pipelining
    from newsletter.sending.smtp import SmtpTransport

    opened, config, store, slug, prepared = _issue(directory, port, label)
    build = MessageFactory(config, prepared).build
    ledger = Ledger(store)
    started = time.perf_counter()
    ledger.begin(slug, prepared.subject, prepared.content_hash)
    transport = SmtpTransport(config.smtp)
    transport.open()
    smtp = transport._session  # noqa: SLF001 - until the loop drives PipelinedSession itself
    assert smtp is not None and offers_pipelining(smtp), "the server does not offer PIPELINING"
    session = PipelinedSession(smtp)
    sent = []
    after = 0
    while batch := ledger.queued_after(slug, after, 200):
        for delivery in batch:
            message = build(delivery.subscriber)  # type: ignore[arg-type]

            def done(taken: bool, error: Exception | None, delivery_id: int = delivery.id) -> None:
                assert taken, error
                ledger.mark_sent(delivery_id)
                sent.append(delivery_id)

            session.submit(
                message, lambda d=delivery.id, m=message.message_id: ledger.claim(d, m), done
            )
        after = batch[-1].id
    session.close()
    elapsed = time.perf_counter() - started
    opened.__exit__(None, None, None)
    return {"sent": len(sent), "seconds": elapsed, "rate": len(sent) / elapsed}


def run_bare(directory: Path, port: int, n: int) -> dict:
    import smtplib

    from newsletter.issue.rendering import prepare_issue
    from newsletter.mail.builder import MessageFactory
    from newsletter.project import open_project

    with open_project(directory) as (config, store):
        prepared = prepare_issue(config, SLUG)
        subscriber = next(iter(store.list_subscribers(status="active")))
        message = MessageFactory(config, prepared).build(subscriber)
    started = time.perf_counter()
    session = smtplib.SMTP("127.0.0.1", port, local_hostname="bench")
    for _ in range(n):
        session.sendmail(message.sender, [message.recipient], message.data)
    session.quit()
    elapsed = time.perf_counter() - started
    return {"sent": n, "seconds": elapsed, "rate": n / elapsed, "bytes": len(message.data)}


# --- the parent ------------------------------------------------------------------------


def measure(server_port: int, rtt: float, n: int, project: Path, label: str) -> dict:
    proxy = Proxy(rtt, server_port)
    try:
        bare = child("bare", str(project), str(proxy.port), str(n))
        send = child("send", str(project), str(proxy.port), f"{label}-s")
        piped = child("piped", str(project), str(proxy.port), f"{label}-p")
    finally:
        proxy.close()
    return {"rtt_ms": rtt, "bare": bare, "send": send, "pipelined": piped}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt", type=float, nargs="+", default=[0, 10, 25, 50])
    parser.add_argument("--messages", type=int, default=60, help="per run at RTT > 0")
    parser.add_argument("--messages-at-0", type=int, default=1000)
    parser.add_argument("--servers", nargs="+", default=["aiosmtpd", "postfix"])
    options = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-rtt-") as tmp:
        for server_name in options.servers:
            for rtt in options.rtt:
                n = options.messages_at_0 if rtt == 0 else options.messages
                project = Path(tmp) / f"{server_name}-{rtt:g}"
                child("make", str(project), str(n))
                server = Aiosmtpd() if server_name == "aiosmtpd" else Postfix()
                with server:
                    row = measure(server.port, rtt, n, project, f"{server_name}-{rtt:g}")
                row["server"] = server_name
                rows.append(row)
                print(
                    f"{server_name:>8} RTT {rtt:>4g} ms, {n} messages, 1 connection:"
                    f" bare smtplib {row['bare']['rate']:7.1f}/s,"
                    f" newsletter send {row['send']['rate']:7.1f}/s"
                    f" ({row['send']['rate'] / row['bare']['rate']:.2f}x),"
                    f" pipelined {row['pipelined']['rate']:7.1f}/s"
                    f" ({row['pipelined']['rate'] / row['bare']['rate']:.2f}x)",
                    flush=True,
                )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"runs": rows}, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


def child_main(argv: list[str]) -> None:
    kind, directory = argv[0], Path(argv[1])
    if kind == "make":
        result = make_project(directory, int(argv[2]))
    elif kind == "bare":
        result = run_bare(directory, int(argv[2]), int(argv[3]))
    elif kind == "send":
        result = run_send(directory, int(argv[2]), argv[3])
    else:
        result = run_pipelined(directory, int(argv[2]), argv[3])
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("make", "bare", "send", "piped"):
        child_main(sys.argv[1:])
    else:
        main()
