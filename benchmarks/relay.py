"""A whole send through a relay that limits its rate, against the time that rate allows.

    .venv/bin/python benchmarks/relay.py [--rate 50] [--n 1000] [--connections 2]
        [--before DIR] [--max-runs 30]

A loopback relay (aiosmtpd, in its own process) takes at most RATE messages a
second (a token bucket one second deep, as providers meter) and answers MAIL
above it with `451 4.7.0`. The project does not know the limit (`rate = 0`).
The real `newsletter send SLUG --yes` runs against it until the issue is
finished, as many times as it takes (a run that stops is run again at once, as
a coordinator would), and the total time is set beside N / RATE (DESIGN.md:
within 1.5x). `--before DIR`: the same with the code of another checkout (e.g.
`git worktree add /tmp/relay-before main`), run as `python -P -m newsletter`
with PYTHONPATH set to it. Writes benchmarks/results/relay.json.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
send_bench = importlib.import_module("send")  # the project maker

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "relay.json"

RELAY = r"""
import sys, os, threading, time
from aiosmtpd.controller import Controller

RATE = float(sys.argv[1])

class Limited:
    accepted = refused = 0
    tokens, at = RATE, time.monotonic()
    async def handle_MAIL(self, server, session, envelope, address, options):
        now = time.monotonic()
        Limited.tokens = min(RATE, Limited.tokens + (now - Limited.at) * RATE)
        Limited.at = now
        if Limited.tokens < 1:
            Limited.refused += 1
            return "451 4.7.0 Too many messages, slow down and try again later"
        Limited.tokens -= 1
        envelope.mail_from = address
        return "250 OK"
    async def handle_DATA(self, server, session, envelope):
        Limited.accepted += 1
        return "250 OK"

class C(Controller):
    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()

c = C(Limited(), hostname="127.0.0.1", port=0)
c.start()
print(c.port, flush=True)
sys.stdin.read()          # the parent closes stdin when it is done
print(Limited.accepted, Limited.refused, flush=True)
os._exit(0)
"""


def start_relay(rate: float) -> tuple[subprocess.Popen, int]:
    relay = subprocess.Popen(
        [sys.executable, "-c", RELAY, str(rate)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    return relay, int(relay.stdout.readline())  # type: ignore[union-attr]


def stop_relay(relay: subprocess.Popen) -> tuple[int, int]:
    out, _ = relay.communicate("", timeout=60)
    accepted, refused = out.split()
    return int(accepted), int(refused)


def send_until_finished(project: Path, tree: Path | None, max_runs: int) -> dict:
    """`newsletter send` again and again until it exits 0; the runs and the total time."""
    if tree is None:
        command, env = [str(Path(sys.executable).parent / "newsletter")], dict(os.environ)
    else:
        command = [sys.executable, "-P", "-m", "newsletter"]
        env = {**os.environ, "PYTHONPATH": str(tree)}
    command += ["send", send_bench.SLUG, "--yes", "--project", str(project)]
    started, exits = time.perf_counter(), []
    for _run in range(max_runs):
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        exits.append(done.returncode)
        if done.returncode == 0:
            break
    last_error = [line for line in done.stdout.splitlines() if line.startswith("error:")]
    return {
        "seconds": time.perf_counter() - started,
        "runs": len(exits),
        "exit_codes": exits,
        "finished": exits[-1] == 0,
        "first_stop": last_error[0] if last_error else None,
    }


def one(label: str, tree: Path | None, options: argparse.Namespace, work: Path) -> dict:
    relay, port = start_relay(options.rate)
    try:
        project = work / label
        send_bench.child("make", str(project), str(options.n), str(port), str(options.connections))
        result = send_until_finished(project, tree, options.max_runs)
    finally:
        accepted, refused = stop_relay(relay)
    allowed = options.n / options.rate
    result |= {"accepted": accepted, "refused": refused, "allowed_seconds": allowed}
    result["ratio_to_allowed"] = result["seconds"] / allowed
    print(
        f"{label}: {accepted} delivered in {result['seconds']:.1f} s over {result['runs']} run(s)"
        f" ({result['ratio_to_allowed']:.2f}x the {allowed:.0f} s the relay's rate allows;"
        f" goal <= 1.5x), {refused} tries refused with 451",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="the relay's limit, messages/s")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--before", type=Path, help="another checkout, run the same way")
    parser.add_argument("--max-runs", type=int, default=30)
    options = parser.parse_args()
    results = {"rate": options.rate, "n": options.n, "connections": options.connections}
    with tempfile.TemporaryDirectory(prefix="bench-relay-") as tmp:
        results["now"] = one("now", None, options, Path(tmp))
        if options.before:
            results["before"] = one("before", options.before.resolve(), options, Path(tmp))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
