"""How fast `newsletter subscribers import` is, next to a plain `sqlite-utils insert --csv`.

For each row count: generate a CSV (Welsh names with diacritics, a few
attributes), run the real CLI in a subprocess into a fresh project, and run
`sqlite-utils insert --csv` of the same file into a fresh database (which
validates nothing). Prints both times, the ratio and each process's peak RSS,
and writes benchmarks/results/import.json.

    /work/venv/bin/python benchmarks/import.py                 # 1,000 and 100,000 rows
    /work/venv/bin/python benchmarks/import.py --rows 20000 --repeat 1
    /work/venv/bin/python benchmarks/import.py --mailchimp     # also a Mailchimp export

With --mailchimp, each size is also measured as Mailchimp's subscribed-members CSV
(every column Mailchimp writes: opt-in times become consent records, a dozen
columns are dropped), next to the plain CSV in the same run, and the results go
to benchmarks/results/import-mailchimp.json. Goal (issue 21): the Mailchimp ratio
no worse than the plain one.

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
MAILCHIMP_RESULTS = RESULTS.with_name("import-mailchimp.json")
MAILCHIMP_HEADER = [
    "Email Address", "First Name", "Last Name", "Iaith", "MEMBER_RATING", "OPTIN_TIME",
    "OPTIN_IP", "CONFIRM_TIME", "CONFIRM_IP", "LATITUDE", "LONGITUDE", "GMTOFF", "DSTOFF",
    "TIMEZONE", "CC", "REGION", "LAST_CHANGED", "LEID", "EUID", "NOTES", "TAGS",
]  # fmt: skip
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


def write_mailchimp_csv(path: Path, rows: int) -> None:
    """Mailchimp's subscribed_members_export: quoted where Mailchimp quotes, CRLF."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(MAILCHIMP_HEADER)
        for i in range(rows):
            day = f"20{10 + i % 15}-{1 + i % 12:02d}-{1 + i % 28:02d}"
            writer.writerow(
                [
                    f"person.{i}@org{i % 997}.example.org", FIRST[i % len(FIRST)],
                    LAST[i % len(LAST)], "Cymraeg" if i % 3 else "English", str(1 + i % 5),
                    f"{day} 09:{i % 60:02d}:00", f"198.51.{i % 250}.{i % 199}",
                    f"{day} 10:{i % 60:02d}:00", f"203.0.{i % 250}.{i % 199}",
                    f"{51 + i % 3}.{i % 9999:04d}", f"-{3 + i % 2}.{i % 9999:04d}", "0", "1",
                    "Europe/London", "GB", "Ceredigion" if i % 2 else "Gwynedd",
                    f"{day} 11:00:00", str(40000000 + i), f"{i:010x}", "",
                    '"Aelod"' if i % 4 else "",
                ]
            )  # fmt: skip


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


def measure(rows: int, repeat: int, workdir: Path, kind: str = "plain") -> dict:
    source = workdir / f"{kind}-rows-{rows}.csv"
    (write_mailchimp_csv if kind == "mailchimp" else write_csv)(source, rows)
    newsletter, sqlite_utils = bin_path("newsletter"), bin_path("sqlite-utils")
    ours, theirs = [], []
    for attempt in range(repeat):
        project = workdir / f"project-{kind}-{rows}-{attempt}"
        subprocess.run([newsletter, "init", str(project)], check=True, capture_output=True)
        ours.append(
            run_measured(
                [newsletter, "subscribers", "import", "--project", str(project), str(source)]
            )
        )
        check_imported(project / "newsletter.db", rows)
        plain = workdir / f"sqlite-utils-{kind}-{rows}-{attempt}.db"
        theirs.append(
            run_measured([sqlite_utils, "insert", str(plain), "rows", str(source), "--csv"])
        )
    import_s = statistics.median(t for t, _m, _o in ours)
    plain_s = statistics.median(t for t, _m, _o in theirs)
    return {
        "export": kind,
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
    parser.add_argument(
        "--mailchimp", action="store_true", help="also a Mailchimp export of each size"
    )
    args = parser.parse_args()
    kinds = ["plain", "mailchimp"] if args.mailchimp else ["plain"]
    results = []
    with tempfile.TemporaryDirectory(prefix="newsletter-bench-") as tmp:
        for rows in sorted(args.rows):
            for kind in kinds:
                result = measure(rows, args.repeat, Path(tmp), kind)
                results.append(result)
                print(
                    f"{rows:>8} rows {kind:>9}: import {result['import_seconds']:.2f} s,"
                    f" sqlite-utils insert {result['sqlite_utils_seconds']:.2f} s,"
                    f" ratio {result['ratio']:.2f};"
                    f" peak RSS import {result['import_peak_rss_mib']:.0f} MiB,"
                    f" sqlite-utils {result['sqlite_utils_peak_rss_mib']:.0f} MiB"
                )
    summary = {}
    for kind in kinds:
        runs = [result for result in results if result["export"] == kind]
        smallest, largest = runs[0], runs[-1]
        growth = largest["import_peak_rss_mib"] / smallest["import_peak_rss_mib"]
        summary[kind] = {"peak_rss_growth": round(growth, 2), "ratio": largest["ratio"]}
        print(
            f"{kind}: peak RSS {largest['rows']} rows / {smallest['rows']} rows: {growth:.2f}x"
            f" (goal: flat); ratio at {largest['rows']} rows: {largest['ratio']:.2f} (goal: <= 3)"
        )
    if args.mailchimp:
        verdict = summary["mailchimp"]["ratio"] <= summary["plain"]["ratio"]
        print(
            f"Mailchimp ratio {summary['mailchimp']['ratio']:.2f} vs plain"
            f" {summary['plain']['ratio']:.2f}: {'met' if verdict else 'NOT met'}"
            " (goal: no worse)"
        )
    target = MAILCHIMP_RESULTS if args.mailchimp else RESULTS
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        json.dumps(
            {
                "benchmark": "import",
                "command": " ".join(["benchmarks/import.py", *sys.argv[1:]]),
                "python": platform.python_version(),
                "machine": platform.machine(),
                "cpus": os.cpu_count(),
                "load_average": os.getloadavg()[0],
                "results": results,
                "summary": summary,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
