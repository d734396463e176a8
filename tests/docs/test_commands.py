"""Every command the README and the manual show a coordinator is run, verbatim.

Each page's `sh` blocks run in one shell, in order, in a fresh temporary project
(the outbox default, or a real SMTP server on loopback for a page marked
`relay`), and every command must exit 0. The convention (what the test plays,
the few lines it does not run and why) is docs/development.md, "How these pages
are tested"; NOT_RUN and MAY_FAIL below are its exceptions, each with its reason.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult

from newsletter.project import init_project

from support.docs import (
    REPOSITORY,
    SHELL_LOOKALIKES,
    blocks,
    markers,
    page_id,
    pages,
    shell_commands,
)
from support.smtp import Sink, configure_smtp, start_server
from support.subscribers import moving_in_downloads

# Lines that are not run, each for its reason; every rule must match a line somewhere.
NOT_RUN = {
    r"^bash scripts/test\.sh\b": "the test command itself: it runs this test",
    r"^sudo\b": "changes the machine (systemd units, packages)",
    r"^pipx install\b": "installs the package (the suite's own set-up does that)",
    r"^python3 -m venv\b": "installs the package (the suite's own set-up does that)",
    r"/pip install\b": "installs the package (the suite's own set-up does that)",
}
# Commands that may exit 1, with why; anything else must exit 0.
MAY_FAIL = {
    r"^newsletter doctor\b": "it finds problems: the test project's example.org has no DNS records",
}
STARTS = {"project", "examples", "repository"}
EXAMPLE_ISSUE = REPOSITORY / "examples" / "issues" / "2026-12.{language}.md"
_LEFT_BEHIND = ("outbox", "build", "backups", "newsletter.db*", "newsletter.journal*", "returns")
_NOT_COPIED = (".git", ".venv", "venv", "site", "*.egg-info", "__pycache__", ".*_cache", ".shots")


def _pages_with_commands() -> list[Path]:
    return [page for page in pages() if shell_commands(page) and not _own_test(page)]


def _own_test(page: Path) -> Path | None:
    """`<!-- docs-test: own-test=tests/x/test_y.py -->`: a page whose commands need a
    scenario of their own (a sent issue, certain people) is run by that test instead."""
    named = [
        word.removeprefix("own-test=") for word in markers(page) if word.startswith("own-test=")
    ]
    return REPOSITORY / named[0] if named else None


@pytest.mark.timeout(900)
@pytest.mark.parametrize("page", _pages_with_commands(), ids=page_id)
def test_every_command_of_the_page_runs(page: Path, tmp_path: Path) -> None:
    options = markers(page)
    start = _start(page, options)
    work = _starting_folder(start, tmp_path)
    env = _environment(tmp_path)
    server = None
    if "relay" in options:
        controller, server = start_server(
            Sink(), authenticator=_any_login, auth_require_tls=False, auth_required=True
        )
        configure_smtp(work, server, username="newsletter", password_env="NEWSLETTER_SMTP_PASSWORD")
        env["NEWSLETTER_SMTP_PASSWORD"] = "any password"
    commands = shell_commands(page)
    script = _script(commands, tmp_path)
    try:
        subprocess.run(
            ["bash", str(script)], cwd=work, env=env, stdin=subprocess.DEVNULL,
            capture_output=True, timeout=840, check=False,
        )  # fmt: skip
    finally:
        if server is not None:
            controller.stop()
    statuses = _statuses(tmp_path)
    assert len(statuses) == len(commands), f"the page's commands stopped after {len(statuses)}"
    for number, command in enumerate(commands):
        log = (tmp_path / "logs" / f"{number}.log").read_text(encoding="utf-8", errors="replace")
        allowed = {0, 1} if _rule(MAY_FAIL, command) else {0}
        assert statuses[number] in allowed, f"`{command}` exited {statuses[number]}:\n{log}"
        assert "Traceback" not in log, f"`{command}` printed a traceback:\n{log}"
    if server is not None and any(" send " in f" {c} " and "--dry-run" not in c for c in commands):
        assert server.handler.messages, "the page sent through the relay, which received nothing"


def test_no_command_hides_in_a_shell_fence_that_is_not_run() -> None:
    """`bash`, `shell`, `console`... blocks would look like commands and never be run."""
    wrong = [
        f"{page_id(block.page)}:{block.line}: ```{block.language}"
        for page in pages()
        for block in blocks(page)
        if block.language in SHELL_LOOKALIKES
    ]
    assert not wrong, "fence commands as ```sh (run by the tests) or ```text: " + ", ".join(wrong)


def test_every_exception_is_still_needed() -> None:
    """A rule of NOT_RUN or MAY_FAIL that matches no line any more is removed, not kept."""
    every = [command for page in pages() for command in shell_commands(page)]
    unused = [
        rule for rule in (*NOT_RUN, *MAY_FAIL) if not any(_rule({rule: ""}, c) for c in every)
    ]
    assert not unused


def test_page_markers_are_known() -> None:
    known = {f"start={start}" for start in STARTS} | {"relay"}
    for page in pages():
        words = {word for word in markers(page) if not word.startswith("own-test=")}
        assert words <= known, f"{page_id(page)}: unknown docs-test marker"


def test_a_page_with_its_own_test_is_run_by_it() -> None:
    """The test a page names exists and reads that very page."""
    for page in pages():
        test = _own_test(page)
        if test is not None:
            assert test.is_file(), f"{page_id(page)}: no {test}"
            assert page.name in test.read_text(encoding="utf-8"), (
                f"{test} does not read {page.name}"
            )


# --- what the test plays ---------------------------------------------------------------


def _start(page: Path, options: set[str]) -> str:
    chosen = [word.removeprefix("start=") for word in options if word.startswith("start=")]
    if chosen:
        return chosen[0]
    return "repository" if page.name == "README.md" and page.parent == REPOSITORY else "project"


def _starting_folder(start: str, tmp_path: Path) -> Path:
    """A fresh project (`newsletter init`), a copy of examples/, or a copy of the repository."""
    work = tmp_path / "work"
    if start == "project":
        init_project(work, name="Co-pro Newsletter")
    elif start == "examples":
        ignore = shutil.ignore_patterns(*_LEFT_BEHIND)
        shutil.copytree(REPOSITORY / "examples", work, ignore=ignore)
    else:
        ignore = shutil.ignore_patterns(*_NOT_COPIED)
        shutil.copytree(REPOSITORY, work, ignore=ignore)
        for pattern in _LEFT_BEHIND:
            for left in (work / "examples").glob(pattern):
                shutil.rmtree(left) if left.is_dir() else left.unlink()
    return work


def _environment(tmp_path: Path) -> dict[str, str]:
    """The coordinator's terminal: the installed command first on PATH, a home folder
    with the downloads (members.csv, the other tools' exports), an $EDITOR that
    writes a finished issue."""
    home = tmp_path / "home"
    moving_in_downloads(home / "Downloads")
    shutil.copy(REPOSITORY / "examples" / "members.csv", home / "Downloads" / "members.csv")
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import pathlib, sys\n"
        "target = pathlib.Path(sys.argv[1])\n"
        "language = 'cy' if target.name.endswith('.cy.md') else 'en'\n"
        f"source = pathlib.Path({str(EXAMPLE_ISSUE)!r}.format(language=language))\n"
        "target.write_text(source.read_text(encoding='utf-8'), encoding='utf-8')\n",
        encoding="utf-8",
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("NEWSLETTER_", "PYTEST_"))
    }
    venv_bin = Path(sys.executable).parent
    env.update(
        PATH=f"{venv_bin}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(home),
        EDITOR=f"{shlex.quote(sys.executable)} {shlex.quote(str(editor))}",
        NEWSLETTER_VENV=str(venv_bin.parent),  # scripts/*.sh use the installed venv
        NO_MKDOCS_2_WARNING="1",
        COLUMNS="100",
    )
    return env


_SERVE = re.compile(r"^((?:\S*/)?newsletter serve)\b")


def _script(commands: list[str], tmp_path: Path) -> Path:
    """One bash script for the page: each command's output in logs/N.log, its exit
    status in statuses; `y` answers every question; the mail server delivers to each
    project's returns/ Maildir; `serve` is stopped once it serves."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (tmp_path / "answers").write_text("y\n" * 5, encoding="utf-8")
    lines = [
        f"ANSWERS={shlex.quote(str(tmp_path / 'answers'))}",
        f"STATUSES={shlex.quote(str(tmp_path / 'statuses'))}",
        f"WORK={shlex.quote(str(tmp_path / 'work'))}",
        _MAIL_SERVER,
        _SERVE_THEN_STOP,
        "_mail_server",
    ]
    for number, command in enumerate(commands):
        log = shlex.quote(str(logs / f"{number}.log"))
        if _rule(NOT_RUN, command):
            note = shlex.quote(f"not run: {_reason(command)}")
            lines.append(f'echo {note} >{log}; echo 0 >>"$STATUSES"')
            continue
        if _SERVE.match(command):
            if "--port" not in command:
                command = _SERVE.sub(r"\1 --port 0", command)
            command = "_serve_then_stop " + command
        lines.append(f'{{\n{command}\n}} <"$ANSWERS" >{log} 2>&1; echo $? >>"$STATUSES"')
        lines.append("_mail_server")
    script = tmp_path / "page.sh"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return script


_MAIL_SERVER = """_mail_server() {
    find "$WORK" -name newsletter.toml -not -path '*/templates/*' | while read -r config; do
        mkdir -p "$(dirname "$config")"/returns/{cur,new,tmp}
    done
}"""
_SERVE_THEN_STOP = """_serve_then_stop() {
    local log; log="$(mktemp)"
    "$@" >"$log" 2>&1 &
    local pid=$!
    for _ in $(seq 1 600); do
        grep -q '^serving ' "$log" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -TERM "$pid" 2>/dev/null
    wait "$pid"
    local status=$?
    cat "$log"
    return $status
}"""


def _statuses(tmp_path: Path) -> list[int]:
    path = tmp_path / "statuses"
    if not path.exists():
        return []
    return [int(line) for line in path.read_text(encoding="utf-8").split()]


def _rule(rules: dict[str, str], command: str) -> bool:
    return any(re.search(pattern, command) for pattern in rules)


def _reason(command: str) -> str:
    return next(reason for pattern, reason in NOT_RUN.items() if re.search(pattern, command))


def _any_login(server, session, envelope, mechanism, auth_data):  # noqa: ANN001, ANN202
    """The relay of a page marked `relay` accepts whatever password the page sets."""
    return AuthResult(success=True, handled=False)
