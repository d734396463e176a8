"""How fast the command line starts: `newsletter --help` and `newsletter status`.

    .venv/bin/python benchmarks/startup.py [--runs 15] [--subscribers 10000]
        [--before DIR]

Each command runs `--runs` times as a fresh process; the best and the median
wall times are printed next to a bare `python -c pass` and to importing typer
and rich alone (the floor for any command of ours), with the slowest
imports of each command from `python -X importtime`. `status` runs on a project
with one sent issue. The package is byte-compiled first, as `pip install` does
and as Python does on a first run: where PYTHONDONTWRITEBYTECODE is set (as on
this project's CI machines) every run would otherwise compile it again (~40 ms).
With `--before DIR` (an older checkout, e.g. `git archive 09edcfe | tar -x -C DIR`,
that reads the same database) its commands run in the same rounds, interleaved.
Commands run as `python -P -m newsletter` with PYTHONPATH set to the checkout.
Goal (issue 15): at most 0.15 s each. Writes benchmarks/results/startup.json.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "startup.json"


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


def byte_compiled(tree: Path) -> Path:
    """`tree`, with its package's modules compiled to __pycache__ (as on a user's machine)."""
    compileall.compile_dir(tree / "newsletter", quiet=1)
    return tree


def command_line(tree: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    """`newsletter ARGS` run from the checkout `tree` (-P: not from the current folder)."""
    command = [sys.executable, "-P", "-m", "newsletter", *args]
    return command, {**os.environ, "PYTHONPATH": str(tree)}


def timed_rounds(commands: dict[str, tuple[list[str], dict[str, str]]], runs: int) -> dict:
    """Every command once per round, `runs` rounds: a busy moment hurts them alike."""
    times: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(runs):
        for label, (command, env) in commands.items():
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env=env)
            times[label].append(time.perf_counter() - started)
    return times


def slowest_imports(args: list[str], top: int = 8) -> list[tuple[str, int]]:
    """The top-level packages that cost the most to import (cumulative microseconds)."""
    command, env = command_line(ROOT, *args)
    done = subprocess.run(
        [command[0], "-X", "importtime", *command[1:]],
        capture_output=True,
        text=True,
        check=True,
        env=env,
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
    parser.add_argument("--before", type=Path, help="an older checkout, timed in the same rounds")
    options = parser.parse_args()
    trees = {"": byte_compiled(ROOT)}
    if options.before:
        trees["before: "] = byte_compiled(options.before.resolve())
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        project = Path(tmp) / "project"
        make_project(project, options.subscribers)
        toolkit = "import typer, rich.console, rich.table"  # what any command of ours loads
        commands = {
            "python -c pass": ([sys.executable, "-c", "pass"], dict(os.environ)),
            "typer and rich alone": ([sys.executable, "-c", toolkit], dict(os.environ)),
        }
        for prefix, tree in trees.items():
            commands[f"{prefix}newsletter --help"] = command_line(tree, "--help")
            commands[f"{prefix}newsletter status"] = command_line(
                tree, "status", "--project", str(project)
            )
        times = timed_rounds(commands, options.runs)
        results = {}
        for label, each in times.items():
            result = {"best_s": min(each), "median_s": statistics.median(each)}
            verdict = " (goal <= 0.15 s)" if label.startswith("newsletter") else ""
            print(
                f"{label:>28}: best {min(each):.3f} s, median {result['median_s']:.3f} s{verdict}"
            )
            if label.startswith("newsletter"):
                args = ["--help"] if "help" in label else ["status", "--project", str(project)]
                result["slowest_imports_us"] = slowest_imports(args)
                top = ", ".join(
                    f"{name} {us / 1000:.0f} ms" for name, us in result["slowest_imports_us"]
                )
                print(f"{'':>30}slowest imports: {top}")
            results[label] = result
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "runs": options.runs,
        "subscribers": options.subscribers,
        "load": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    RESULTS.write_text(json.dumps({**record, **results}, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
