"""`restore` puts the new database in place in one rename: killed at any moment,
the project holds the old database or the new one, and the next command is whole."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

# Runs `newsletter ARGS...` and dies (as kill -9 would: no cleanup, no finally)
# at the Nth call that moves or deletes a file.
DIE_AT_NTH_FILE_CHANGE = """
import os, sys
limit, calls = int(sys.argv[1]), [0]
def dying(real):
    def call(*args, **kwargs):
        calls[0] += 1
        if calls[0] == limit:
            os._exit(9)
        return real(*args, **kwargs)
    return call
for name in ("replace", "rename", "unlink", "remove"):
    setattr(os, name, dying(getattr(os, name)))
from newsletter.cli import app
sys.argv = ["newsletter", *sys.argv[2:]]
app()
"""


def subscriber_count(database: Path) -> int:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        return db.execute("SELECT count(*) FROM subscribers").fetchone()[0]


def test_a_restore_killed_at_any_moment_leaves_the_old_database_or_the_new_one(
    project, cli, members, tmp_path
):
    older = tmp_path / "older.db"
    assert cli("backup", str(older)).exit_code == 0  # 5 people
    assert cli("subscribers", "add", "late1@example.org").exit_code == 0
    assert cli("subscribers", "add", "late2@example.org").exit_code == 0
    assert cli("subscribers", "remove", members[0]).exit_code == 0  # 7 people, one gone
    outcomes = set()
    for nth in range(1, 60):
        copy = tmp_path / f"run{nth}"
        shutil.copytree(project, copy)
        run = subprocess.run(
            [
                sys.executable,
                "-c",
                DIE_AT_NTH_FILE_CHANGE,
                str(nth),
                "restore",
                str(older),
                "--yes",
            ],
            env={**os.environ, "NEWSLETTER_PROJECT": str(copy)},
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode in (0, 9), run.stderr
        count = subscriber_count(copy / "newsletter.db")
        assert count in (7, 5), (nth, count)  # the old one, or the backup
        outcomes.add(count)
        listed = cli("subscribers", "list", "--json", project_dir=copy)
        assert listed.exit_code == 0, (nth, listed.output)
        statuses = {row["email"]: row["status"] for row in json.loads(listed.output)}
        assert statuses[members[0]] == "unsubscribed", nth  # replayed, whenever it died
        if run.returncode == 0:
            break
    assert run.returncode == 0 and outcomes == {7, 5}  # it died before and after the swap
