"""The whole `newsletter send` command (start-up and freezing included) vs a bare smtplib loop.

    .venv/bin/python benchmarks/command.py [--n 5000] [--connections 2] [--rounds 5]
        [--profile benchmarks/results/send-profile.txt] [--cold]

Same loopback aiosmtpd sink and bare loop as benchmarks/send.py; the other
side is `newsletter send SLUG --yes` run as a process, timed from spawn to
exit, on a project with N active subscribers. Rounds alternate bare and
command so a busy machine hurts both alike; every ratio is printed. With
--profile, one more command run is sampled by py-spy (all threads, native
frames off) and the functions with the most samples are written there.
Each round sends a new copy of the same issue, so from the second round on the
CSS inlining is read back from build/.inlined/ (as after `issue preview`);
--cold deletes it before every command run. The package's bytecode is compiled
first, as an installed copy's is (pip compiles it; this machine sets
PYTHONDONTWRITEBYTECODE, which would have every run compile ~100 modules again).
Goal (docs/design.md): ratio >= 0.9 at N = 5,000, C = 2. Writes benchmarks/results/command.json
(command-cold.json with --cold).
"""

from __future__ import annotations

import argparse
import collections
import compileall
import importlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
send_bench = importlib.import_module("send")  # the sink, the project and the bare loop

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "command.json"
RESULTS_COLD = RESULTS.with_name("command-cold.json")


def newsletter_command(project: Path, slug: str) -> list[str]:
    source = project / "issues" / f"{send_bench.SLUG}.md"
    (project / "issues" / f"{slug}.md").write_text(source.read_text(encoding="utf-8"))
    binary = Path(sys.executable).parent / "newsletter"
    return [str(binary), "send", slug, "--yes", "--project", str(project)]


def run_command(project: Path, slug: str, n: int, *, cold: bool = False) -> dict:
    command = newsletter_command(project, slug)
    if cold:
        shutil.rmtree(project / "build" / ".inlined", ignore_errors=True)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"newsletter send failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return {"sent": n, "seconds": elapsed, "rate": n / elapsed}


def profile(project: Path, slug: str, output: Path, top: int = 40, *, cold: bool = False) -> None:
    """py-spy samples of one whole command, taken only from the thread holding the
    GIL (where the Python CPU goes): the functions seen most, self and inclusive."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    raw = output.with_suffix(".raw")
    subprocess.run(
        [spy, "record", "--format", "raw", "--rate", "250", "--gil", "-o", str(raw), "--",
         *newsletter_command(project, slug)],
        check=True, capture_output=True,
    )  # fmt: skip
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")[1:]  # the first names the process
        samples += int(count)
        if frames:
            own[_short(frames[-1])] += int(count)
        for frame in {_short(frame) for frame in frames}:
            total[frame] += int(count)
    inlining = "made by premailer (--cold)" if cold else "read back from build/.inlined"
    lines = [
        f"{samples} samples at 250 Hz of the thread holding the GIL (Python CPU);"
        f" CSS inlining {inlining}",
        "",
        "self:",
    ]
    lines += [f"{100 * c / samples:5.1f}%  {name}" for name, c in own.most_common(top)]
    lines += ["", "total (inclusive):"]
    lines += [f"{100 * c / samples:5.1f}%  {name}" for name, c in total.most_common(top)]
    output.write_text("\n".join(lines) + "\n", encoding="utf-8")
    raw.unlink()


def _short(frame: str) -> str:
    """`fn (path/to/module.py:12)` -> `fn (module.py)`: samples add up per function."""
    name, _, where = frame.partition(" (")
    return f"{name} ({Path(where.rstrip(')').rpartition(':')[0]).name})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--cold", action="store_true", help="no inlining kept between runs")
    options = parser.parse_args()
    n, connections = options.n, options.connections
    compileall.compile_dir(ROOT / "newsletter", quiet=1)
    sink, port = send_bench.start_sink()
    pairs = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-command-") as tmp:
            project = Path(tmp) / "project"
            send_bench.child("make", str(project), str(n), str(port), str(connections))
            for round_ in range(options.rounds):
                bare = send_bench.child("bare", str(project), str(n), str(port), str(connections))
                whole = run_command(project, f"{send_bench.SLUG}-c{round_}", n, cold=options.cold)
                pairs.append(
                    {"bare": bare, "command": whole, "ratio": whole["rate"] / bare["rate"]}
                )
                print(
                    f"round {round_ + 1}: bare {bare['rate']:,.0f}/s, whole command"
                    f" {whole['rate']:,.0f}/s ({whole['seconds']:.2f} s), ratio {pairs[-1]['ratio']:.2f}",
                    flush=True,
                )
            if options.profile:
                if options.cold:
                    shutil.rmtree(project / "build" / ".inlined", ignore_errors=True)
                profile(project, f"{send_bench.SLUG}-profile", options.profile, cold=options.cold)
    finally:
        send_bench.stop_sink(sink)
    ratios = [pair["ratio"] for pair in pairs]
    print(
        f"N={n} C={connections}: ratio median {statistics.median(ratios):.2f},"
        f" min {min(ratios):.2f}, max {max(ratios):.2f} over {len(ratios)} rounds (goal >= 0.90)"
    )
    results = RESULTS_COLD if options.cold else RESULTS
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(
        json.dumps(
            {
                "n": n,
                "connections": connections,
                "pairs": pairs,
                "ratio_median": statistics.median(ratios),
                "cold": options.cold,
            },
            indent=2,
        )  # fmt: skip
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {results.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
