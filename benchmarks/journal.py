"""What the journal costs a send per message, by how its delivery lines reach the disk.

    .venv/bin/python benchmarks/journal.py [--messages 20000] [--dir DIR] [--repeat 3]

Appends `--messages` delivery lines (one `sending` and one `sent` per message,
as a send writes them) to a journal in `--dir` (default: a folder under
benchmarks/results, on the same disk as a project would be), three ways:
- `unsynced`: written, never fsynced (what a send did before; a power cut could
  cost any number of the records the OS had not yet written);
- `within-a-second`: the choice made (the journal fsyncs its delivery lines
  within a second of the first unsynced one, and when it is closed);
- `every-line`: fsync after each line (a power cut costs nothing more than a
  crash; the rejected alternative, for scale).
The fastest of `--repeat` rounds counts. Delivery lines take no lock (a send
holds the send lock, which a compaction needs too); a person's fact takes the
journal's writer lock as well as its fsync: `writer-lock` is that lock alone,
per fact, for scale. Writes benchmarks/results/journal.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import newsletter.db.journal as journal_module
from newsletter.db.journal import Journal

RESULTS = Path(__file__).resolve().parent / "results" / "journal.json"


def run(directory: Path, messages: int, sync_seconds: float | None) -> float:
    """Seconds per message for one policy (None: fsync after every line)."""
    path = directory / "newsletter.journal"
    path.unlink(missing_ok=True)
    journal = Journal.create(path, "benchmark")
    address = "a" * 64
    journal_module.SYNC_SECONDS = sync_seconds if sync_seconds is not None else 1.0
    every_line = sync_seconds is None
    start = time.perf_counter()
    for n in range(messages):
        if every_line:
            journal.append([("D", "2026-12", "sending", n, address)], sync=True)
            journal.append([("D", "2026-12", "sent", n, address)], sync=True)
        else:
            journal.delivery("2026-12", "sending", n, address)
            journal.delivery("2026-12", "sent", n, address)
    journal.close()
    return (time.perf_counter() - start) / messages


def writer_lock(directory: Path, facts: int) -> float:
    """Seconds per acquire and release of the journal's writer lock (a person's fact)."""
    path = directory / "newsletter.journal"
    path.unlink(missing_ok=True)
    journal = Journal.create(path, "benchmark")
    start = time.perf_counter()
    for _fact in range(facts):
        with journal.writer_lock():
            pass
    return (time.perf_counter() - start) / facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    base = args.dir or RESULTS.parent
    directory = Path(tempfile.mkdtemp(prefix="journal-bench-", dir=base))
    try:
        policies = {"unsynced": 1e9, "within-a-second": 1.0, "every-line": None}
        best = {name: float("inf") for name in policies}
        for _round in range(args.repeat):
            for name, seconds in policies.items():
                count = args.messages if seconds is not None else min(args.messages, 500)
                best[name] = min(best[name], run(directory, count, seconds))
            best["writer-lock"] = min(best.get("writer-lock", 1.0), writer_lock(directory, 2000))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    figures = {name: round(value * 1e6, 2) for name, value in best.items()}
    for name, micros in figures.items():
        per = "per person's fact" if name == "writer-lock" else "per message (two lines)"
        print(f"{name:>16}: {micros:10.2f} µs {per}")
    result = {
        "command": f"benchmarks/journal.py --messages {args.messages} --repeat {args.repeat}",
        "messages": args.messages,
        "microseconds_per_message": figures,
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written {RESULTS.relative_to(RESULTS.parent.parent.parent)}")


if __name__ == "__main__":
    main()
