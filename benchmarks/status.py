"""`status` and the unsubscribe handler at 1,000,000 subscribers (issue 15, item 5).

    .venv/bin/python benchmarks/status.py [--rows 1000000] [--small 10000] [--repeat 3]
    .venv/bin/python benchmarks/status.py --before /tmp/newsletter-main

Two projects, `--small` and `--rows` people, are filled straight with SQL (fast,
and the same shape at both sizes): three issues frozen for everyone, one sent
(1% failed with a spread of replies, 2% skipped, bounces recorded), one half
sent (a few rows uncertain, some queued with a deferral), one only frozen.
Each command runs `--repeat` times as a fresh process and the fastest wall time
counts: `status` with no issue sent (the start-up), `status`, `status SLUG`,
and both with `--json`. Then `newsletter serve` answers page GETs, button POSTs
and RFC 8058 one-click POSTs (each on distinct tokens): requests/s at both
sizes, the sizes alternated for `--rounds` rounds, the best round of each.
Last, freezing a fourth issue for everyone (the ledger's `begin`, in-process time).

With `--before DIR` (an older checkout, e.g. `git archive main | tar -x -C DIR`)
the projects are made and measured first with that code, then opened once with
this code (the schema upgrade, timed) and measured again: before and after on
the same database in one run. Writes benchmarks/results/status.json.
"""

from __future__ import annotations

import argparse
import http.client
import importlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
web_bench = importlib.import_module("unsubscribe")  # `newsletter serve` as a subprocess

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "status.json"
SENT, HALF, FROZEN = "2026-10", "2026-11", "2026-12"
REPLIES = [
    "550 5.1.1 <{}>: Recipient address rejected: User unknown",
    "552 5.2.2 mailbox full",
    "550 5.7.1 message refused as spam",
    "554 5.7.1 <{}>: Relay access denied",
]
OPEN = "from pathlib import Path; from newsletter.project import open_project\n" + (
    "with open_project(Path(r'{project}')): pass"
)
FREEZE = """
import sys, time
from pathlib import Path
from newsletter.project import open_project
from newsletter.sending.ledger import Ledger
with open_project(Path(sys.argv[1])) as (config, store):
    started = time.perf_counter()
    Ledger(store).begin("2027-01", "Freeze test", "hash")
    print(time.perf_counter() - started)
"""


def run(code: Path | None, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`python -m newsletter ARGS` with this checkout, or the code in `code`."""
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = str(code)
    return subprocess.run(  # run from `code`: the current directory comes first on sys.path
        [sys.executable, *args], env=env, cwd=code, capture_output=True, text=True, check=check
    )


def fastest(code: Path | None, project: Path, args: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        done = run(code, "-m", "newsletter", *args, "--project", str(project), check=False)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"newsletter {' '.join(args)} failed:\n{done.stderr}")
    return round(min(times), 3)


def make_project(root: Path, rows: int, code: Path | None) -> Path:
    project = root / f"project-{rows}"
    run(code, "-m", "newsletter", "init", str(project))
    config = project / "newsletter.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace('# languages = ["cy", "en"]', 'languages = ["cy", "en"]'), "utf-8"
    )
    with sqlite3.connect(project / "newsletter.db") as db:
        fill(db, rows)
    return project


def fill(db: sqlite3.Connection, rows: int) -> None:
    """Subscribers, their import events, three issues' deliveries, some bounces."""
    now = "2026-11-23T10:00:00+00:00"
    db.execute(
        "INSERT INTO subscribers (email, email_key, name, language, status, token, source,"
        " subscribed_at, updated_at)"
        " WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
        " SELECT 'person.' || i || '@example.org', 'person.' || i || '@example.org',"
        " 'Person ' || i, CASE i % 3 WHEN 0 THEN 'en' WHEN 1 THEN 'cy' ELSE '' END,"
        " CASE WHEN i % 50 = 7 THEN 'unsubscribed' WHEN i % 100 = 9 THEN 'bounced'"
        " ELSE 'active' END, lower(hex(randomblob(12))), 'import', ?, ? FROM n",
        [rows, now, now],
    )
    db.execute(
        "INSERT INTO events (at, kind, subscriber_id, source, detail)"
        " SELECT ?, 'imported', id, 'import', 'new' FROM subscribers",
        [now],
    )
    for slug in (SENT, HALF, FROZEN):
        db.execute(
            "INSERT INTO issues (slug, subject, content_hash, created_at, started_at)"
            " VALUES (?, ?, 'hash', ?, ?)",
            [slug, f"Issue {slug}", now, now],
        )
        db.execute(
            "INSERT INTO deliveries (issue_slug, subscriber_id, status, updated_at, language)"
            " SELECT ?, id, 'queued', ?, language FROM subscribers ORDER BY id",
            [slug, now],
        )
    outcome = (
        "status = CASE WHEN subscriber_id % 50 = 7 THEN 'skipped' WHEN subscriber_id % 100 = 11"
        " THEN 'failed' ELSE 'sent' END, attempts = 1, sent_at = updated_at,"
        " last_error = CASE WHEN subscriber_id % 50 = 7 THEN 'subscriber unsubscribed'"
        "  WHEN subscriber_id % 100 = 11 THEN replace(CASE subscriber_id / 100 % 4"
        + "".join(f" WHEN {n} THEN '{reply}'" for n, reply in enumerate(REPLIES))
        + " END, '{}', 'person.' || subscriber_id || '@example.org') END"
    )
    db.execute(f"UPDATE deliveries SET {outcome} WHERE issue_slug = ?", [SENT])
    db.execute(
        f"UPDATE deliveries SET {outcome} WHERE issue_slug = ? AND subscriber_id < ?",
        [HALF, rows // 2],
    )
    db.execute(
        "UPDATE deliveries SET last_error = '451 4.3.0 try again later' WHERE issue_slug = ?"
        " AND status = 'queued' AND subscriber_id % 200 = 3",
        [HALF],
    )
    db.execute(
        "UPDATE deliveries SET status = 'sending' WHERE issue_slug = ? AND subscriber_id"
        " BETWEEN ? AND ?",
        [HALF, rows // 2, rows // 2 + 4],
    )
    db.execute(
        "INSERT INTO events (at, kind, subscriber_id, issue_slug, source, detail)"
        " SELECT ?, 'bounced', subscriber_id, issue_slug, 'smtp', last_error FROM deliveries"
        " WHERE issue_slug = ? AND status = 'failed' AND last_error LIKE '550 5.1.1%'",
        [now, SENT],
    )


def measure_status(code: Path | None, project: Path, empty: Path, repeat: int) -> dict:
    return {
        **queries(code, project, repeat),
        "startup": fastest(code, empty, ["status"], repeat),
        "status": fastest(code, project, ["status"], repeat),
        "status_json": fastest(code, project, ["status", "--json"], repeat),
        "status_issue": fastest(code, project, ["status", HALF], repeat),
        "status_issue_json": fastest(code, project, ["status", HALF, "--json"], repeat),
    }


def upgrade(project: Path) -> float:
    """Open once with this code: the pending migrations run."""
    started = time.perf_counter()
    run(None, "-c", OPEN.format(project=project))
    return round(time.perf_counter() - started, 3)


QUERIES = """
import json, sys, time
from pathlib import Path
from newsletter.project import open_project
from newsletter.sending.ledger import Ledger
with open_project(Path(sys.argv[1])) as (config, store):
    ledger = Ledger(store)
    started = time.perf_counter()
    everything = [status.as_dict() for status in ledger.statuses()]
    middle = time.perf_counter()
    one = ledger.status(sys.argv[2]).as_dict(), ledger.uncertain(sys.argv[2])
    ended = time.perf_counter()
    print(json.dumps([middle - started, ended - middle]))
"""


def queries(code: Path | None, project: Path, repeat: int) -> dict:
    """The reporting queries alone, timed in-process (start-up left out)."""
    runs = [json.loads(run(code, "-c", QUERIES, str(project), HALF).stdout) for _ in range(repeat)]
    return {
        "queries_all": round(min(all_ for all_, _one in runs), 4),
        "queries_issue": round(min(one for _all, one in runs), 4),
    }


def freeze(code: Path | None, project: Path) -> float:
    """The ledger's `begin` (as `send` does it) for everyone, in seconds."""
    return round(float(run(code, "-c", FREEZE, str(project)).stdout), 3)


KINDS = {
    "get": ("GET", None),
    "post_button": ("POST", b"action=unsubscribe"),
    "post_one_click": ("POST", b"List-Unsubscribe=One-Click"),
}


def measure_web(projects: list[Path], requests: int, rounds: int) -> dict:
    """Each size in turn, `rounds` times (the best round counts: the machine is shared)."""
    tokens = {
        project: iter(active_tokens(project, len(KINDS) * requests * rounds))
        for project in projects
    }
    best: dict[str, dict[str, float]] = {str(p): dict.fromkeys(KINDS, 0.0) for p in projects}
    for _round in range(rounds):
        for project in projects:
            server, host, port = web_bench.start_serve(project, 4)
            try:
                for kind, (method, body) in KINDS.items():
                    mine = [next(tokens[project]) for _ in range(requests)]
                    rate = hammer(host, port, method, body, mine, 4)
                    best[str(project)][kind] = max(best[str(project)][kind], rate)
            finally:
                server.send_signal(signal.SIGINT)
                server.wait(30)
    return best


def active_tokens(project: Path, count: int) -> list[str]:
    with sqlite3.connect(project / "newsletter.db") as db:
        query = "SELECT token FROM subscribers WHERE status = 'active' ORDER BY random() LIMIT ?"
        return [token for (token,) in db.execute(query, [count])]


def hammer(
    host: str, port: int, method: str, body: bytes | None, tokens: list[str], clients: int
) -> float:
    """Each token requested once over `clients` keep-alive connections: requests/s."""
    statuses: list[int] = []
    lock = threading.Lock()
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}

    def client(chunk: list[str]) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        mine = []
        for token in chunk:
            conn.request(method, f"/u/{token}", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            mine.append(response.status)
        conn.close()
        with lock:
            statuses.extend(mine)

    threads = [threading.Thread(target=client, args=(tokens[i::clients],)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    seconds = time.perf_counter() - started
    assert statuses == [200] * len(tokens), "a request did not get 200"
    return round(len(statuses) / seconds, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--requests", type=int, default=300, help="per kind and round")
    parser.add_argument("--rounds", type=int, default=3, help="of requests, sizes alternated")
    parser.add_argument("--before", type=Path, help="an older checkout to compare with")
    options = parser.parse_args()
    result: dict = {"rows": options.rows, "small": options.small}
    with tempfile.TemporaryDirectory(prefix="bench-status-") as tmp:
        root = Path(tmp)
        empty = root / "empty"
        run(options.before, "-m", "newsletter", "init", str(empty))
        projects = {n: make_project(root, n, options.before) for n in (options.small, options.rows)}
        large = projects[options.rows]
        if options.before:
            result["before"] = measure_status(options.before, large, empty, options.repeat)
            copy = root / "freeze-before"
            shutil.copytree(large, copy)
            result["before"]["freeze"] = freeze(options.before, copy)
            shutil.rmtree(copy)
            result["upgrade_seconds"] = {str(n): upgrade(p) for n, p in projects.items()}
            upgrade(empty)
        result["after"] = measure_status(None, large, empty, options.repeat)
        web = measure_web(list(projects.values()), options.requests, options.rounds)
        result["web_requests_per_second"] = {
            str(n): web[str(project)] for n, project in projects.items()
        }
        result["after"]["freeze"] = freeze(None, large)  # last: it adds an issue
    report(result, options)


def report(result: dict, options: argparse.Namespace) -> None:
    startup = result["after"]["startup"]
    for label in ("status", "status_json", "status_issue", "status_issue_json"):
        line = f"{label:>18} at {options.rows:,}: {result['after'][label]:6.3f} s"
        line += f" ({result['after'][label] - startup:+.3f} s beyond start-up {startup:.3f} s)"
        if "before" in result:
            line += f" | before: {result['before'][label]:6.3f} s"
        print(line)
    for label in ("queries_all", "queries_issue"):
        line = f"{label:>18} at {options.rows:,}: {result['after'][label]:6.3f} s in-process"
        if "before" in result:
            line += f" | before: {result['before'][label]:6.3f} s"
        print(line)
    freezes = f"freeze {options.rows:,}: {result['after']['freeze']:.3f} s"
    if "before" in result:
        freezes += f" | before: {result['before']['freeze']:.3f} s"
    print(freezes)
    if "upgrade_seconds" in result:
        print(f"schema upgrade (open with pending migrations): {result['upgrade_seconds']}")
    web = result["web_requests_per_second"]
    small, large = web[str(options.small)], web[str(options.rows)]
    for kind in small:
        print(
            f"{kind:>18}: {small[kind]:7.1f} req/s at {options.small:,},"
            f" {large[kind]:7.1f} req/s at {options.rows:,} (ratio {large[kind] / small[kind]:.2f})"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
