"""Nothing POSIX-only on a command's path: the CLI runs where fcntl and select.poll are missing.

Windows has neither. Each test runs the real CLI in a child Python in which
`import fcntl` fails and `select.poll` does not exist, as on Windows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from support.process import interruptible
from support.render import write_issue
from support.smtp import add_subscribers

WITHOUT_POSIX = """\
import runpy, select, sys, warnings
sys.modules["fcntl"] = None  # import fcntl now raises ImportError, as on Windows
# Here filelock falls back to its soft lock and says so; on Windows it uses LockFileEx.
warnings.filterwarnings("ignore", "only soft file lock is available")
if hasattr(select, "poll"):
    del select.poll
runpy.run_module("newsletter", run_name="__main__")
"""


def _newsletter(project: Path, *args: str, **options: object) -> subprocess.Popen[str]:
    # The fixtures wrote through filelock's flock lock, which leaves its (unlocked) file;
    # the soft lock of a child without fcntl reads any such file as held. Windows never
    # mixes the two (filelock uses LockFileEx there), so the child starts without them.
    for left in project.glob("*.lock"):
        left.unlink()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NEWSLETTER_PROJECT": str(project)}
    return subprocess.Popen(
        [sys.executable, "-c", WITHOUT_POSIX, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **options,  # type: ignore[arg-type]
    )


def _run(project: Path, *args: str) -> tuple[int, str, str]:
    process = _newsletter(project, *args)
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def test_cli_lists_subscribers_without_fcntl(project, store):
    add_subscribers(store, 2)
    code, out, err = _run(project, "subscribers", "list")
    assert (code, err) == (0, "")
    assert "person00000@example.org" in out and "2 subscribers" in out


def test_send_and_status_work_without_fcntl(project, store):
    add_subscribers(store, 3)
    write_issue(project, "2026-12")
    code, out, err = _run(project, "send", "2026-12", "--yes")
    assert code == 0, out + err
    assert len(list((project / "outbox" / "new").iterdir())) == 3
    code, out, err = _run(project, "status", "2026-12")
    assert code == 0, out + err
    assert "not finished" not in out


def test_serve_answers_without_select_poll(project):
    process = _newsletter(project, "serve", "--port", "0", preexec_fn=interruptible)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert "http://" in first, first + process.stderr.read()
        url = first[first.index("http://") :].strip()
        with urllib.request.urlopen(f"{url}/healthz", timeout=30) as response:
            assert response.read().strip() == b"ok"
    finally:
        process.terminate()
        process.communicate(timeout=30)
