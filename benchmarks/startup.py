"""How fast the command line starts: `newsletter --help` and `newsletter status`.

    .venv/bin/python benchmarks/startup.py [--runs 15] [--subscribers 10000]

Each command runs `--runs` times as a fresh process (the console script of the
venv running this script); the best and the median wall times are printed
next to a bare `python -c pass`, with the slowest imports of each command from
`python -X importtime`. `status` runs on a project with one sent issue.
Goal (issue 15): at most 0.15 s each. Writes benchmarks/results/startup.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "startup.json"
GOAL = 0.15


def newsletter_bin() -> str:
    candidate = Path(sys.executable).parent / "newsletter"
    return str(candidate) if candidate.exists() else "newsletter"


def make_project(directory: Path, subscribers: int) -> None:
    """A project with `subscribers` people and one issue sent to the outbox."""
    subprocess.run([newsletter_bin(), "init", str(directory)], check=True, capture_output=True)
    rows = "email,name\n" + "".join(f"p{i}@example.org,P {i}\n" for i in range(subscribers))
    (directory / "people.csv").write_text(rows, encoding="utf-8")
    example = ROOT / "examples" / "issues" / "2026-12.en.md"  # a one-language project
    (directory / "issues" / "2026-12.md").write_text(example.read_text(encoding="utf-8"))
    for command in (
        ["subscribers", "import", "people.csv"],
        ["send", "2026-12", "--yes"],
    ):
        subprocess.run(
            [newsletter_bin(), *command, "--project", str(directory)],
            check=True,
            capture_output=True,
            cwd=directory,
        )


def timed(command: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def slowest_imports(args: list[str], top: int = 8) -> list[tuple[str, int]]:
    """The top-level packages that cost the most to import (cumulative microseconds)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "newsletter", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    costs: dict[str, int] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self, cumulative, name = line[len("import time:") :].split("|")
        if not name.startswith("  "):  # imported by the command itself, not by a dependency
            costs[name.strip()] = int(cumulative)
    return sorted(costs.items(), key=lambda item: -item[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--subscribers", type=int, default=10_000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        project = Path(tmp) / "project"
        make_project(project, options.subscribers)
        commands = {
            "python -c pass": ([sys.executable, "-c", "pass"], None),
            "newsletter --help": ([newsletter_bin(), "--help"], ["--help"]),
            "newsletter status": (
                [newsletter_bin(), "status", "--project", str(project)],
                ["status", "--project", str(project)],
            ),
        }
        results = {}
        for label, (command, import_args) in commands.items():
            times = timed(command, options.runs)
            result = {"best_s": min(times), "median_s": statistics.median(times)}
            if import_args is not None:
                result["slowest_imports_us"] = slowest_imports(import_args)
            results[label] = result
            verdict = "" if import_args is None else f" (goal <= {GOAL} s)"
            print(
                f"{label:>20}: best {min(times):.3f} s, median {result['median_s']:.3f} s{verdict}"
            )
            if import_args is not None:
                top = ", ".join(
                    f"{name} {us / 1000:.0f} ms" for name, us in result["slowest_imports_us"]
                )
                print(f"{'':>22}slowest imports: {top}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"runs": options.runs, "subscribers": options.subscribers, **results}, indent=2)
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
