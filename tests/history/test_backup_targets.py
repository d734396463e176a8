"""`backup FILE` and `subscribers export FILE` write a new file or replace a regular
one: never a device, a folder, or the project's own state."""

from __future__ import annotations

import os
import stat

import pytest

from support.subscribers import one_error_line

OWN_FILES = ["newsletter.journal", "newsletter.db", "newsletter.toml", "templates/issue.html"]


@pytest.mark.parametrize("command", [["backup"], ["subscribers", "export"]])
@pytest.mark.parametrize("own", OWN_FILES)
def test_a_target_that_is_the_projects_own_state_is_refused(project, cli, members, command, own):
    target = project / own
    before = target.read_bytes()
    line = one_error_line(cli(*command, str(target)))
    assert "is part of this project" in line and "nothing was written" in line
    assert target.read_bytes() == before


@pytest.mark.parametrize("command", [["backup"], ["subscribers", "export"]])
def test_a_link_to_the_journal_is_refused_too(project, cli, members, tmp_path, command):
    link = tmp_path / "innocent.zip"
    try:
        link.symlink_to(project / "newsletter.journal")
    except OSError:
        pytest.skip("this system does not let a test make a symbolic link")
    before = (project / "newsletter.journal").read_bytes()
    assert "is part of this project" in one_error_line(cli(*command, str(link)))
    assert (project / "newsletter.journal").read_bytes() == before


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
@pytest.mark.parametrize("command", [["backup"], ["subscribers", "export"]])
def test_a_target_that_is_not_a_regular_file_is_refused_and_left_as_it_is(
    cli, members, tmp_path, command
):
    """What `backup /dev/full` did as root (the device replaced by a plain file),
    shown on a named pipe and a folder, which a test may make."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    folder = tmp_path / "folder"
    folder.mkdir()
    for target in (pipe, folder):
        line = one_error_line(cli(*command, str(target)))
        assert "is not a regular file" in line and str(target) in line
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    assert folder.is_dir() and list(folder.iterdir()) == []
