"""Every command at 1,000,000 subscribers: import, freeze, fold, send memory, list, status, web.

    .venv/bin/python benchmarks/scale.py [--rows 1000000] [--small 1000] [--send-seconds 20]

One CSV of `--rows` people (the same generator as benchmarks/import.py) goes
through the real CLI into a fresh project, next to `sqlite-utils insert --csv`
of the same file. On that project, each a fresh process with its wall time and
peak RSS (wait4): `newsletter send` against a loopback SMTP sink stopped by
Ctrl-C after `--send-seconds` (its memory must not depend on the list; its
window includes the first run's backup and the freeze), freezing the list again
(the ledger's `begin`, as `send` does it), the journal folded after
that issue is finished (its size before and after, and the compaction's time),
`subscribers list`
as a paged table and as --json (to /dev/null), `status`, and the unsubscribe
handler (`newsletter serve`) answering 500 one-click POSTs. The same commands
on a `--small` project give the memory baseline. Writes benchmarks/results/scale.json.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import quantiles

sys.path.insert(0, str(Path(__file__).resolve().parent))
bench_import = importlib.import_module("import")  # benchmarks/import.py: CSV and timing helpers
send_bench = importlib.import_module("send")  # the loopback SMTP sink
web_bench = importlib.import_module("unsubscribe")  # `newsletter serve` and the POST clients

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "scale.json"
SLUG = "2026-12"

FREEZE = """
import sys, time
from pathlib import Path
from newsletter.project import open_project
from newsletter.sending.ledger import Ledger
with open_project(Path(sys.argv[1])) as (config, store):
    started = time.perf_counter()
    frozen = Ledger(store).begin("freeze-test", "Freeze test", "hash")
    print(frozen, time.perf_counter() - started)
"""

# The frozen issue's send as the journal has it (sending, then sent, per recipient),
# finished; then the compaction a later finished send runs, timed.
FOLD = """
import sys, time
from pathlib import Path
from newsletter.history.compaction import compact
from newsletter.project import open_project
from newsletter.sending.lock import send_lock
with open_project(Path(sys.argv[1])) as (config, store):
    journal, rows = store.journal, store.conn.execute(
        "SELECT d.subscriber_id, s.email_key FROM deliveries d JOIN subscribers s"
        " ON s.id = d.subscriber_id WHERE d.issue_slug = 'freeze-test'"
    )
    while batch := rows.fetchmany(10000):
        for state in ("sending", "sent"):
            journal.append([("D", "freeze-test", state, i, journal.hash(k)) for i, k in batch],
                           sync=False)
    with store.write():
        store.conn.execute("UPDATE deliveries SET status = 'sent' WHERE issue_slug = 'freeze-test'")
        store.conn.execute("UPDATE issues SET finished_at = '2026-12-06T10:00:00Z'"
                           " WHERE slug = 'freeze-test'")
    store.catch_up()
    before = journal.size()
    started = time.perf_counter()
    with send_lock(config.project_dir):
        done = compact(store, "freeze-again")
    print(before, done.after, time.perf_counter() - started)
"""


def newsletter(project: Path, *args: str) -> list[str]:
    return [bench_import.bin_path("newsletter"), *args, "--project", str(project)]


def measured(command: list[str], *, interrupt_after: float | None = None) -> dict:
    """Wall time and peak RSS of one process; output to /dev/null; Ctrl-C after a while."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = None if interrupt_after is None else started + interrupt_after
    while True:  # wait4 polled: it alone reports the child's own peak RSS
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if deadline is not None and time.perf_counter() > deadline:
            process.send_signal(signal.SIGINT)
            deadline = None
        time.sleep(0.05)
    process.returncode = os.waitstatus_to_exitcode(status)
    code = process.returncode
    errors = process.stderr.read().decode("utf-8", "replace")  # type: ignore[union-attr]
    if code not in (0, 130):
        raise SystemExit(f"{command[:3]} failed ({code}):\n{errors}")
    return {
        "seconds": round(time.perf_counter() - started, 3),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
    }


def make_project(root: Path, rows: int, port: int) -> tuple[Path, dict, dict]:
    """Import `rows` people through the CLI; also time sqlite-utils on the same CSV."""
    source = root / f"people-{rows}.csv"
    bench_import.write_csv(source, rows)
    project = root / f"project-{rows}"
    subprocess.run([bench_import.bin_path("newsletter"), "init", str(project)], check=True)
    example = ROOT / "examples" / "issues" / f"{SLUG}.en.md"  # the English edition
    (project / "issues" / f"{SLUG}.md").write_text(example.read_text(encoding="utf-8"))
    with (project / "newsletter.toml").open("a", encoding="utf-8") as config:
        config.write(f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\nrate = 0\n')
    ours = measured(newsletter(project, "subscribers", "import", str(source)))
    bench_import.check_imported(project / "newsletter.db", rows)
    plain = root / f"plain-{rows}.db"
    theirs = measured(
        [bench_import.bin_path("sqlite-utils"), "insert", str(plain), "rows", str(source), "--csv"]
    )
    plain.unlink()
    return project, ours, theirs


def freeze(project: Path) -> dict:
    result = measured([sys.executable, "-c", FREEZE, str(project)])
    done = subprocess.run(
        [sys.executable, "-c", FREEZE.replace("freeze-test", "freeze-again"), str(project)],
        capture_output=True,
        text=True,
        check=True,
    )
    frozen, seconds = done.stdout.split()
    return {**result, "rows": int(frozen), "begin_seconds": round(float(seconds), 3)}


def fold(project: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", FOLD, str(project)], capture_output=True, text=True, check=True
    )
    before, after, seconds = done.stdout.split()
    return {
        "before_bytes": int(before),
        "after_bytes": int(after),
        "seconds": round(float(seconds), 3),
    }


def web(project: Path, posts: int) -> dict:
    with sqlite3.connect(project / "newsletter.db") as db:
        tokens = [
            token
            for (token,) in db.execute(
                "SELECT token FROM subscribers WHERE status = 'active' ORDER BY random() LIMIT ?",
                [posts],
            )
        ]
    server, host, port = web_bench.start_serve(project, 4)
    try:
        results = web_bench.post_all(host, port, tokens, 4)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(30)
    assert all(status == 200 for status, _latency in results), "a POST did not get 200"
    latencies = [latency for _status, latency in results]
    cuts = quantiles(latencies, n=100)
    return {
        "posts": len(results),
        "p50_ms": round(cuts[49] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
    }


def run_all(root: Path, rows: int, send_seconds: float) -> dict:
    sink, port = send_bench.start_sink()
    try:
        project, ours, theirs = make_project(root, rows, port)
        result = {
            "rows": rows,
            "import": ours,
            "sqlite_utils_insert": theirs,
            "import_ratio": round(ours["seconds"] / theirs["seconds"], 2),
            # the send first, on the database as imported (as a first send finds it):
            # its window includes the first run's checked backup and the freeze
            "send": measured(
                newsletter(project, "send", SLUG, "--yes"), interrupt_after=send_seconds
            ),
            "freeze": freeze(project),
            "fold": fold(project),
            "list_table": measured(newsletter(project, "subscribers", "list")),
            "list_json": measured(newsletter(project, "subscribers", "list", "--json")),
            "status": measured(newsletter(project, "status")),
            "status_issue": measured(newsletter(project, "status", SLUG)),
            "web": web(project, 500),
        }
    finally:
        result_sent = send_bench.stop_sink(sink)
    result["send"]["sink_received"] = result_sent
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--send-seconds", type=float, default=20)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        small = run_all(Path(tmp), options.small, options.send_seconds)
        large = run_all(Path(tmp), options.rows, options.send_seconds)
    for label in ("import", "send", "list_table", "list_json", "status", "status_issue"):
        print(
            f"{label:>14}: {small['rows']:>9,} rows {small[label]['seconds']:7.2f} s"
            f" {small[label]['peak_rss_mib']:6.1f} MiB | {large['rows']:>9,} rows"
            f" {large[label]['seconds']:7.2f} s {large[label]['peak_rss_mib']:6.1f} MiB"
        )
    print(
        f"sqlite-utils insert --csv: {large['sqlite_utils_insert']['seconds']:.2f} s;"
        f" import ratio {large['import_ratio']:.2f} (goal <= 3)"
    )
    print(
        f"freeze {large['freeze']['rows']:,} rows: {large['freeze']['begin_seconds']:.2f} s;"
        f" send stopped after {options.send_seconds:g} s having delivered"
        f" {large['send']['sink_received']:,} (small list: {small['send']['sink_received']:,})"
    )
    print(
        f"journal with the finished issue's {large['freeze']['rows']:,} recipients:"
        f" {large['fold']['before_bytes']:,} bytes, folded {large['fold']['after_bytes']:,}"
        f" in {large['fold']['seconds']:.2f} s"
    )
    print(
        f"web one-click POST at {large['rows']:,}: p50 {large['web']['p50_ms']} ms,"
        f" p99 {large['web']['p99_ms']} ms (at {small['rows']:,}: p50 {small['web']['p50_ms']} ms)"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"small": small, "large": large, "send_seconds": options.send_seconds}, indent=2)
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
