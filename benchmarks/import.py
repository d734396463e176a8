"""How fast `newsletter subscribers import` is, next to a plain `sqlite-utils insert --csv`.

For each row count: generate a CSV (Welsh names with diacritics, a few
attributes), run the real CLI in a subprocess into a fresh project, and run
`sqlite-utils insert --csv` of the same file into a fresh database (which
validates nothing). Prints both times, the ratio and each process's peak RSS,
and writes benchmarks/results/import.json.

    /work/venv/bin/python benchmarks/import.py                 # 1,000 and 100,000 rows
    /work/venv/bin/python benchmarks/import.py --rows 20000 --repeat 1

Goal (docs/design.md): 100,000 rows in at most 3x the time of the plain insert;
peak memory flat in the number of rows.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "import.json"
FIRST = ["Siân", "Llŷr", "Gwenllian", "Rhodri", "Ffion", "Iolo", "Angharad", "Owain", "Catrin"]
LAST = ["Jones", "Evans", "Pritchard", "ap Dafydd", "Hughes", "Morgan", "Lewis", "Rees"]
ORGS = ["Menter Iaith", "Tŷ Cymunedol", "Ynni Dŵr", "Cwmni Drama'r Fâl", "Hwb Bro Ŵyr"]


def bin_path(name: str) -> str:
    """A console script of the venv running this benchmark."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "Email",
                "First name",
                "Last name",
                "Organisation",
                "Language",
                "Region",
                "Member since",
            ]
        )
        for i in range(rows):
            writer.writerow(
                [
                    f"person.{i}@org{i % 997}.example.org",
                    FIRST[i % len(FIRST)],
                    LAST[i % len(LAST)],
                    f"{ORGS[i % len(ORGS)]} {i % 3001}",
                    "cy" if i % 3 else "en",
                    "Ceredigion" if i % 2 else "Gwynedd",
                    str(2000 + i % 25),
                ]
            )


def run_measured(command: list[str]) -> tuple[float, float, str]:
    """Wall time in seconds, peak RSS in MiB of that one process, and its stdout."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = process.stdout.read().decode("utf-8", "replace")
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{command[:3]} failed ({process.returncode}):\n{output}")
    return elapsed, usage.ru_maxrss / 1024, output


def measure(rows: int, repeat: int, workdir: Path) -> dict:
    source = workdir / f"rows-{rows}.csv"
    write_csv(source, rows)
    newsletter, sqlite_utils = bin_path("newsletter"), bin_path("sqlite-utils")
    ours, theirs = [], []
    for attempt in range(repeat):
        project = workdir / f"project-{rows}-{attempt}"
        subprocess.run([newsletter, "init", str(project)], check=True, capture_output=True)
        ours.append(
            run_measured(
                [newsletter, "subscribers", "import", "--project", str(project), str(source)]
            )
        )
        check_imported(project / "newsletter.db", rows)
        plain = workdir / f"plain-{rows}-{attempt}.db"
        theirs.append(
            run_measured([sqlite_utils, "insert", str(plain), "rows", str(source), "--csv"])
        )
    import_s = statistics.median(t for t, _m, _o in ours)
    plain_s = statistics.median(t for t, _m, _o in theirs)
    return {
        "rows": rows,
        "csv_bytes": source.stat().st_size,
        "repeat": repeat,
        "import_seconds": round(import_s, 3),
        "sqlite_utils_seconds": round(plain_s, 3),
        "ratio": round(import_s / plain_s, 2),
        "import_peak_rss_mib": round(max(m for _t, m, _o in ours), 1),
        "sqlite_utils_peak_rss_mib": round(max(m for _t, m, _o in theirs), 1),
        "import_rows_per_second": round(rows / import_s),
    }


def check_imported(database: Path, rows: int) -> None:
    """A benchmark of an import that imported nothing would be meaningless."""
    with sqlite3.connect(database) as conn:
        (count,) = conn.execute("SELECT count(*) FROM subscribers").fetchone()
    if count != rows:
        raise SystemExit(f"expected {rows} subscribers after the import, found {count}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the median counts")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="newsletter-bench-") as tmp:
        for rows in sorted(args.rows):
            result = measure(rows, args.repeat, Path(tmp))
            results.append(result)
            print(
                f"{rows:>8} rows: import {result['import_seconds']:.2f} s,"
                f" sqlite-utils insert {result['sqlite_utils_seconds']:.2f} s,"
                f" ratio {result['ratio']:.2f};"
                f" peak RSS import {result['import_peak_rss_mib']:.0f} MiB,"
                f" sqlite-utils {result['sqlite_utils_peak_rss_mib']:.0f} MiB"
            )
    smallest, largest = results[0], results[-1]
    memory_growth = largest["import_peak_rss_mib"] / smallest["import_peak_rss_mib"]
    print(
        f"peak RSS {largest['rows']} rows / {smallest['rows']} rows: {memory_growth:.2f}x"
        f" (goal: flat); ratio at {largest['rows']} rows: {largest['ratio']:.2f} (goal: <= 3)"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "import",
                "command": " ".join(["benchmarks/import.py", *sys.argv[1:]]),
                "python": platform.python_version(),
                "machine": platform.machine(),
                "cpus": os.cpu_count(),
                "results": results,
                "peak_rss_growth": round(memory_growth, 2),
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
