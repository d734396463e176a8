"""What a CSV can do wrong without a traceback or losing the rest of the file (issue 26):
an encoding that cannot read it is one line; a cell over 128 KB rejects its row only."""

from __future__ import annotations

from pathlib import Path

from newsletter.project import open_project


def emails(project: Path) -> set[str]:
    with open_project(project) as (_config, store):
        return {s.email for s in store.list_subscribers()}


def error_lines(result) -> list[str]:  # noqa: ANN001
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def test_utf16_named_for_a_file_without_a_bom_is_one_line(project, tmp_path, cli):
    path = tmp_path / "a.csv"
    path.write_text("email,name\na@example.org,A\n", encoding="utf-8")
    result = cli("subscribers", "import", str(path), "--encoding", "utf-16")
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert error_lines(result) == [
        f"error: {path} cannot be read as utf-16: UTF-16 stream does not start with BOM"
    ]
    assert "utf-16-le or utf-16-be" in result.stderr
    assert emails(project) == set()


def test_utf16_le_without_a_bom_is_read_when_named(project, tmp_path, cli):
    path = tmp_path / "a.csv"
    path.write_bytes("email,name\na@example.org,Siân\n".encode("utf-16-le"))
    result = cli("subscribers", "import", str(path), "--encoding", "utf-16-le")
    assert result.exit_code == 0, result.output
    assert emails(project) == {"a@example.org"}


def test_a_cell_over_128_kb_rejects_its_row_with_its_line(project, tmp_path, cli):
    path = tmp_path / "big.csv"
    huge = "x" * 200_000
    path.write_text(
        f'email,name\nfirst@example.org,A\nbig@example.org,"{huge}"\nlast@example.org,B\n',
        encoding="utf-8",
    )
    result = cli("subscribers", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "line 3: a cell of 195 KB (at most 128 KB)" in result.output
    assert emails(project) == {"first@example.org", "last@example.org"}
