"""Sending throughput against a bare smtplib loop, and peak memory at 1k vs 100k.

    /work/venv/bin/python benchmarks/send.py [--n 5000] [--connections 2]
        [--rounds 3] [--rss-small 1000] [--rss-large 100000] [--skip-rss]

A loopback aiosmtpd sink runs in its own process (it must not share the GIL
with the sender). The sender runs in a child process too: the real path
(`send_issue`: ledger, claim/commit per message, MessageFactory, SMTP
sessions), on a real project database, once unsigned and once DKIM-signed
(2048-bit RSA), side by side in each round. The bare loop sends the same
(unsigned) message bytes N times over the same number of smtplib sessions. Peak RSS is the send
child's own maximum (the project is prepared in another process first).
Writes benchmarks/results/send.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "send.json"
SLUG = "2026-12"

SINK = r"""
import asyncio, sys, threading, os
from aiosmtpd.controller import Controller

class Count:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        Count.n += 1
        return "250 OK"

class C(Controller):
    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()

c = C(Count(), hostname="127.0.0.1", port=0)
c.start()
print(c.port, flush=True)
sys.stdin.read()          # the parent closes stdin when it is done
print(Count.n, flush=True)
os._exit(0)
"""


def start_sink() -> tuple[subprocess.Popen, int]:
    sink = subprocess.Popen(
        [sys.executable, "-c", SINK], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    return sink, int(sink.stdout.readline())  # type: ignore[union-attr]


def stop_sink(sink: subprocess.Popen) -> int:
    out, _ = sink.communicate("", timeout=60)
    return int(out.strip() or 0)


def child(*args: str) -> dict:
    """Run this script in a child process and return its JSON line."""
    done = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the children ------------------------------------------------------------------


def make_project(directory: Path, n: int, port: int, connections: int) -> dict:
    """A project with n active subscribers, the example issue, SMTP to the sink."""
    from newsletter.project import init_project, open_project

    init_project(directory, name="Benchmark News")
    example = ROOT / "examples" / "issues" / f"{SLUG}.en.md"  # the English edition
    (directory / "issues" / f"{SLUG}.md").write_text(example.read_text(encoding="utf-8"))
    with (directory / "newsletter.toml").open("a", encoding="utf-8") as config:
        config.write(
            f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
            f"connections = {connections}\nrate = 0\n"
        )
    from cryptography.hazmat.primitives.asymmetric import rsa

    from newsletter.mail.dkim_keys import write_private_key

    # dkim/newsletter.pem for the signed runs alone: `dkim keygen` would also name it in
    # newsletter.toml, and every run (command.py's too) would then sign
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    write_private_key(directory / "dkim" / "newsletter.pem", key)
    with open_project(directory) as (_config, store), store.write():
        for i in range(n):
            store.insert_subscriber(
                f"reader{i:06d}@example.org",
                {"name": f"Reader {i}", "organisation": f"Org {i % 300}"},
                {},
                "benchmark",
            )
    return {"subscribers": n}


def run_sender(directory: Path, round_: int = 0, signed: int = 0) -> dict:
    """The real send path (issue copy number `round_`, DKIM-signed when `signed`);
    its rate and this process's peak RSS."""
    import resource
    from dataclasses import replace

    from newsletter.config import DkimConfig
    from newsletter.issue.rendering import prepare_issue
    from newsletter.mail.builder import MessageFactory
    from newsletter.project import open_project
    from newsletter.sending.campaign import send_issue
    from newsletter.sending.transport import plan_transport

    with open_project(directory) as (config, store):
        slug = f"{SLUG}-r{round_}{'-signed' if signed else ''}"
        if signed:
            key = directory / "dkim" / "newsletter.pem"
            config = replace(config, dkim=DkimConfig("newsletter", "example.org", key_file=key))
        source = config.issues_dir / f"{SLUG}.md"
        (config.issues_dir / f"{slug}.md").write_text(source.read_text(encoding="utf-8"))
        prepared = prepare_issue(config, slug)
        build = MessageFactory(config, prepared).build
        transport = plan_transport(config)
        started, cpu = time.perf_counter(), time.process_time()
        _plan, report = send_issue(
            config, store, slug, prepared.subject, prepared.content_hash, build, transport,
            confirm=lambda plan: True,
        )  # fmt: skip
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert report is not None and report.stopped is None, report
    return {
        "sent": report.sent,
        "seconds": elapsed,
        "cpu_us_per_message": cpu / report.sent * 1e6,
        "rate": report.sent / elapsed,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_bare(directory: Path, n: int, port: int, connections: int) -> dict:
    """n copies of one real message over `connections` smtplib sessions."""
    import smtplib

    from newsletter.issue.rendering import prepare_issue
    from newsletter.mail.builder import MessageFactory
    from newsletter.project import open_project

    with open_project(directory) as (config, store):
        prepared = prepare_issue(config, SLUG)
        subscriber = next(iter(store.list_subscribers(status="active")))
        message = MessageFactory(config, prepared).build(subscriber)

    def loop(count: int) -> None:
        session = smtplib.SMTP("127.0.0.1", port, local_hostname="bench")
        for _ in range(count):
            session.sendmail(message.sender, [message.recipient], message.data)
        session.quit()

    shares = [n // connections + (1 if i < n % connections else 0) for i in range(connections)]
    threads = [threading.Thread(target=loop, args=(share,)) for share in shares]
    started, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "sent": n,
        "seconds": elapsed,
        "cpu_us_per_message": cpu / n * 1e6,
        "rate": n / elapsed,
        "bytes": len(message.data),
    }


# --- the parent ------------------------------------------------------------------------


def throughput(n: int, connections: int, rounds: int, work: Path) -> dict:
    """Bare loop and sender alternately, `rounds` times each, on one project.

    The machine may be shared, so each side keeps its best round and the pairs
    are reported too; the sink counts every message it accepted.
    """
    sink, port = start_sink()
    pairs = []
    try:
        project = work / f"speed-{n}"
        child("make", str(project), str(n), str(port), str(connections))
        for round_ in range(rounds):
            bare = child("bare", str(project), str(n), str(port), str(connections))
            sender = child("send", str(project), str(round_), "0")
            signed = child("send", str(project), str(round_), "1")
            pairs.append(
                {
                    "bare": bare,
                    "sender": sender,
                    "signed": signed,
                    "ratio": sender["rate"] / bare["rate"],
                    "signed_ratio": signed["rate"] / bare["rate"],
                }
            )
    finally:
        received = stop_sink(sink)
    assert received == 3 * n * rounds, f"the sink received {received}, expected {3 * n * rounds}"
    best_bare = max((pair["bare"] for pair in pairs), key=lambda result: result["rate"])
    best_sender = max((pair["sender"] for pair in pairs), key=lambda result: result["rate"])
    best_signed = max((pair["signed"] for pair in pairs), key=lambda result: result["rate"])
    return {
        "bare": best_bare,
        "sender": best_sender,
        "signed": best_signed,
        "ratio": best_sender["rate"] / best_bare["rate"],
        "signed_ratio": best_signed["rate"] / best_bare["rate"],
        "pair_ratios": [round(pair["ratio"], 3) for pair in pairs],
        "signed_pair_ratios": [round(pair["signed_ratio"], 3) for pair in pairs],
    }


def peak_rss(n: int, work: Path) -> dict:
    sink, port = start_sink()
    try:
        project = work / f"rss-{n}"
        child("make", str(project), str(n), str(port), "2")
        result = child("send", str(project), "0", "0")
    finally:
        stop_sink(sink)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rss-small", type=int, default=1000)
    parser.add_argument("--rss-large", type=int, default=100_000)
    parser.add_argument("--skip-rss", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-send-") as tmp:
        work = Path(tmp)
        speed = throughput(options.n, options.connections, options.rounds, work)
        print(
            f"N={options.n} C={options.connections}, best of {options.rounds}:"
            f" bare smtplib {speed['bare']['rate']:,.0f}/s ({speed['bare']['cpu_us_per_message']:.0f} us"
            f" CPU/message), newsletter send {speed['sender']['rate']:,.0f}/s"
            f" ({speed['sender']['cpu_us_per_message']:.0f} us CPU/message), ratio {speed['ratio']:.2f}"
            f" (goal >= 0.80; pairs {speed['pair_ratios']}; message {speed['bare']['bytes']:,} bytes)"
        )
        print(
            f"DKIM-signed send {speed['signed']['rate']:,.0f}/s"
            f" ({speed['signed']['cpu_us_per_message']:.0f} us CPU/message),"
            f" ratio to the bare loop (unsigned bytes) {speed['signed_ratio']:.2f}"
            f" (goal >= 0.80; pairs {speed['signed_pair_ratios']})"
        )
        results: dict = {
            "n": options.n,
            "connections": options.connections,
            "rounds": options.rounds,
            **speed,
        }
        if not options.skip_rss:
            small = peak_rss(options.rss_small, work)
            large = peak_rss(options.rss_large, work)
            growth = large["peak_rss_mb"] / small["peak_rss_mb"] - 1
            print(
                f"peak RSS of the send process: {small['peak_rss_mb']:.1f} MB at"
                f" N={options.rss_small:,} ({small['rate']:,.0f}/s), {large['peak_rss_mb']:.1f} MB"
                f" at N={options.rss_large:,} ({large['rate']:,.0f}/s): {growth:+.1%} (goal <= +20%)"
            )
            results["rss"] = {"small": small, "large": large, "growth": growth}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


def child_main(argv: list[str]) -> None:
    kind, directory = argv[0], Path(argv[1])
    numbers = [int(value) for value in argv[2:]]
    if kind == "make":
        result = make_project(directory, *numbers)
    elif kind == "bare":
        result = run_bare(directory, *numbers)
    else:
        result = run_sender(directory, *numbers)
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("make", "bare", "send"):
        child_main(sys.argv[1:])
    else:
        main()
