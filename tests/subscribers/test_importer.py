"""CSV import against real SQLite files, with the hostile files spreadsheets produce."""

from __future__ import annotations

import codecs
import json
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsletter.errors import InputError, NotFoundError
from newsletter.project import open_project
from newsletter.subscribers.address_normaliser import AddressNormaliser
from newsletter.subscribers.addresses import normalise_address
from newsletter.subscribers.bulk_import import BulkImport
from newsletter.subscribers.importer import import_csv

from support.subscribers import by_email, fresh_store, one_error_line, snapshot, table, write_csv

WELSH = "Email,Name,Organisation\nsian@example.org,Siân Jones,Menter Iaith\nllyr@example.org,Llŷr Evans,Tŷ Cymunedol\n"


def run_import(project, path, **options):
    with open_project(project) as (_config, store):
        return import_csv(store, path, **options)


def test_utf8_with_bom_maps_the_first_header(project, tmp_path):
    path = write_csv(tmp_path, "\ufeff" + WELSH)
    report = run_import(project, path)
    assert report.added == 2
    assert by_email(project)["llyr@example.org"]["name"] == "Llŷr Evans"


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_files_are_sniffed(project, tmp_path, delimiter):
    text = WELSH.replace(",", delimiter).replace(
        "Menter Iaith", '"Menter Iaith, Ceredigion"' if delimiter == ";" else "Menter Iaith"
    )
    report = run_import(project, write_csv(tmp_path, text))
    assert report.delimiter == delimiter
    assert report.added == 2
    organisation = by_email(project)["sian@example.org"]["organisation"]
    assert organisation.startswith("Menter Iaith")


def test_line_breaks_inside_quoted_cells_keep_reject_line_numbers_right(project, tmp_path):
    text = (
        "Email,Name,Notes\r\n"
        'ann@example.org,"Ann\r\nJones","first line\r\nsecond line\r\nthird"\r\n'
        "not-an-address,Bad Row,\r\n"
        'bob@example.org,"Bob\nSmith",x\r\n'
        ",Nobody,\r\n"
    )
    report = run_import(project, write_csv(tmp_path, text))
    assert [(r.line, r.reason.split(":")[0]) for r in report.rejects] == [
        (6, "invalid email address 'not-an-address'"),
        (9, "empty email address"),
    ]
    rows = by_email(project)
    assert rows["ann@example.org"]["name"] == "Ann Jones"
    assert rows["bob@example.org"]["name"] == "Bob Smith"
    assert json.loads(rows["ann@example.org"]["attributes"]) == {
        "notes": "first line second line third"
    }


def test_latin1_file_is_detected(project, tmp_path):
    text = "Email;Name;Organisation\n" + "".join(
        f"person{i}@example.org;Siân Gêraint {i};Café Môn\n" for i in range(30)
    )
    report = run_import(project, write_csv(tmp_path, text, encoding="latin-1"))
    assert report.encoding == "cp1252"
    assert report.added == 30
    assert by_email(project)["person7@example.org"]["name"] == "Siân Gêraint 7"


def test_latin1_after_a_long_ascii_start_is_still_detected(project, tmp_path):
    ascii_rows = "".join(f"person{i}@example.org,Plain Name {i}\n" for i in range(3000))
    text = "Email,Name\n" + ascii_rows + "last@example.org,Siân Âp Môn\n"
    report = run_import(project, write_csv(tmp_path, text, encoding="latin-1"))
    assert report.added == 3001
    assert by_email(project)["last@example.org"]["name"] == "Siân Âp Môn"


def test_encoding_option_names_the_encoding(project, tmp_path, cli):
    path = write_csv(tmp_path, "Email,Name\nsian@example.org,Siân\n", encoding="latin-1")
    result = cli("subscribers", "import", str(path), "--encoding", "latin-1")
    assert result.exit_code == 0, result.output
    assert "read as iso8859-1" in result.stdout
    assert by_email(project)["sian@example.org"]["name"] == "Siân"


def test_unknown_encoding_is_one_line(project, tmp_path, cli):
    path = write_csv(tmp_path, WELSH)
    line = one_error_line(cli("subscribers", "import", str(path), "--encoding", "klingon"))
    assert "unknown encoding 'klingon'" in line


def test_utf16_spreadsheet_text_is_read(project, tmp_path):
    text = WELSH.replace(",", "\t")
    path = tmp_path / "unicode.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    report = run_import(project, path)
    assert report.added == 2
    assert by_email(project)["sian@example.org"]["name"] == "Siân Jones"


def test_duplicates_by_case_are_merged_not_doubled(project, tmp_path):
    text = (
        "Email,Name,Organisation\n"
        "Sian.Jones@Example.org,Siân Jones,\n"
        "sian.jones@EXAMPLE.ORG,,Menter Iaith\n"
        "SIAN.JONES@example.org,Siân Jones,\n"
    )
    report = run_import(project, write_csv(tmp_path, text))
    assert (report.added, report.duplicates) == (1, 2)
    rows = table(project, "subscribers")
    assert len(rows) == 1
    assert rows[0]["email"] == "Sian.Jones@example.org"
    assert (rows[0]["name"], rows[0]["organisation"]) == ("Siân Jones", "Menter Iaith")


def test_duplicates_across_batches_are_merged(project, tmp_path):
    lines = [f"p{i}@example.org,Person {i}" for i in range(7)] + ["P1@EXAMPLE.ORG,Second Name"]
    path = write_csv(tmp_path, "Email,Name\n" + "\n".join(lines) + "\n")
    report = run_import(project, path, batch_rows=3)
    assert (report.added, report.duplicates, report.updated) == (7, 1, 0)
    assert len(table(project, "subscribers")) == 7
    assert by_email(project)["p1@example.org"]["name"] == "Second Name"


def test_duplicates_of_an_existing_subscriber_count_once(project, tmp_path, store):
    store.add_subscriber("ann@example.org", name="Ann")
    path = write_csv(tmp_path, "Email,Name\nann@example.org,Ann Jones\nANN@example.org,Ann Jones\n")
    report = run_import(project, path)
    assert (report.updated, report.duplicates, report.added) == (1, 1, 0)


def test_invalid_rows_are_rejected_and_valid_rows_still_imported(project, tmp_path):
    text = (
        "Email,Name\n"
        "good@example.org,Good\n"
        "two@@example.org,Bad\n"
        ",Empty\n"
        "   ,Blank\n"
        "no-domain@,Bad\n"
        "also.good@example.org,Good Too\n"
    )
    report = run_import(project, write_csv(tmp_path, text))
    assert report.added == 2
    assert [reject.line for reject in report.rejects] == [3, 4, 5, 6]
    assert "empty email address" in report.rejects[1].reason
    assert set(by_email(project)) == {"good@example.org", "also.good@example.org"}


def test_a_row_with_more_cells_than_the_header_is_rejected(project, tmp_path):
    text = "Email,Name\nann@example.org,Jones, Ann\nbob@example.org,Bob,,\n"
    report = run_import(project, write_csv(tmp_path, text))
    assert [(r.line, r.reason) for r in report.rejects] == [
        (2, "3 fields where the header has 2 (a delimiter inside an unquoted cell?)")
    ]
    assert report.added == 1  # bob's trailing empty cells are harmless


def test_idn_domain_in_unicode_and_punycode_is_one_subscriber(project, tmp_path):
    text = "Email,Name\nmair@bücher.example.org,Mair\nMAIR@xn--bcher-kva.example.org,Mair Jones\n"
    report = run_import(project, write_csv(tmp_path, text))
    assert (report.added, report.duplicates) == (1, 1)
    rows = table(project, "subscribers")
    assert [row["email"] for row in rows] == ["mair@bücher.example.org"]
    assert rows[0]["name"] == "Mair Jones"


def test_names_with_quotes_commas_diacritics_and_control_characters(project, tmp_path):
    text = (
        "Email,Name,Organisation\n"
        'ann@example.org,"Ann ""Nan"" Jones, MBE","Tŷ Gwyn, Môn"\n'
        'bob@example.org,"Bob\x07 \x1bEvil\rBcc: x@evil.example","Ŵ\x00rks\n"\n'
    )
    report = run_import(project, write_csv(tmp_path, text))
    assert report.added == 2
    rows = by_email(project)
    assert rows["ann@example.org"]["name"] == 'Ann "Nan" Jones, MBE'
    assert rows["ann@example.org"]["organisation"] == "Tŷ Gwyn, Môn"
    assert rows["bob@example.org"]["name"] == "Bob Evil Bcc: x@evil.example"
    assert rows["bob@example.org"]["organisation"] == "Ŵrks"


def test_first_and_last_name_are_joined(project, tmp_path):
    text = "E-mail address,First name,Last Name,Company\nmair@example.org,Mair,ap Gwilym,Co-op\nx@example.org,,Rees,\n"
    run_import(project, write_csv(tmp_path, text))
    rows = by_email(project)
    assert rows["mair@example.org"]["name"] == "Mair ap Gwilym"
    assert rows["mair@example.org"]["organisation"] == "Co-op"
    assert rows["x@example.org"]["name"] == "Rees"


def test_unknown_columns_become_identifier_attributes(project, tmp_path):
    text = "Email,Membership Type,Côd post (home),2024 member,region,Region,,Email\nann@example.org,Full,SY23 1AA,yes,Powys,Ceredigion,z,other@example.org\n"
    report = run_import(project, write_csv(tmp_path, text))
    assert report.attributes == [
        "membership_type",
        "cod_post_home",
        "_2024_member",
        "region",
        "region_2",
        "column_7",
        "email_2",
    ]
    attributes = json.loads(by_email(project)["ann@example.org"]["attributes"])
    assert attributes["cod_post_home"] == "SY23 1AA"
    assert attributes["region_2"] == "Ceredigion"
    assert attributes["email_2"] == "other@example.org"


def test_an_empty_cell_never_erases_what_is_stored(project, tmp_path, store):
    store.add_subscriber("ann@example.org", name="Ann", organisation="Co-op", language="cy")
    path = write_csv(tmp_path, "Email,Name,Organisation,Language\nann@example.org,,Tŷ Gwyn,\n")
    report = run_import(project, path)
    assert report.updated == 1
    row = by_email(project)["ann@example.org"]
    assert (row["name"], row["organisation"], row["language"]) == ("Ann", "Tŷ Gwyn", "cy")
    kinds = [(e["kind"], e["detail"]) for e in table(project, "events")]
    assert ("imported", "updated") in kinds


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty (0 bytes)"),
        (
            b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + bytes(range(256)) * 4,
            "looks binary",
        ),
        ("Name,Organisation\nSiân,Menter\n".encode(), "has no email column"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(1, 256)) * 8, "looks binary"),
    ],
    ids=["zero-bytes", "xlsx-zip", "no-email-column", "png-without-nul"],
)
def test_a_file_that_is_not_csv_is_one_line_and_changes_nothing(
    project, tmp_path, cli, content, message
):
    cli("subscribers", "add", "keep@example.org")
    before = snapshot(project)
    path = tmp_path / "upload.csv"
    path.write_bytes(content)
    line = one_error_line(cli("subscribers", "import", str(path)))
    assert message in line
    assert snapshot(project) == before


def test_an_unclosed_quote_is_refused_and_changes_nothing(project, tmp_path, cli):
    before = snapshot(project)
    path = write_csv(
        tmp_path, 'Email,Name\nann@example.org,"Ann\nbob@example.org,Bob\ncat@example.org,Cat\n'
    )
    line = one_error_line(cli("subscribers", "import", str(path)))
    assert "line 2: a quoted cell is never closed" in line
    assert snapshot(project) == before


def test_a_quoted_line_break_in_the_last_row_is_fine(project, tmp_path):
    path = write_csv(tmp_path, 'Email,Name\r\nann@example.org,"Ann\r\nJones"\r\n')
    assert run_import(project, path).added == 1


def test_a_missing_file_is_one_line(project, tmp_path, cli):
    line = one_error_line(cli("subscribers", "import", str(tmp_path / "nope.csv")))
    assert "no file" in line


def test_a_folder_instead_of_a_file_is_one_line(project, tmp_path, cli):
    line = one_error_line(cli("subscribers", "import", str(tmp_path)))
    assert "is a folder" in line


def test_a_header_only_file_imports_nothing(project, tmp_path):
    report = run_import(project, write_csv(tmp_path, "Email,Name\n"))
    assert sum(report.counts().values()) == 0


def test_import_is_one_transaction_a_failing_write_leaves_the_database_as_it_was(
    project, tmp_path, store
):
    store.add_subscriber("existing@example.org", name="Before")
    before = snapshot(project)
    rows = "".join(f"p{i}@example.org,P{i}\n" for i in range(20))
    path = write_csv(tmp_path, "Email,Name\nexisting@example.org,After\n" + rows)
    store.conn.execute(
        "CREATE TRIGGER crash BEFORE INSERT ON subscribers WHEN NEW.email = 'p17@example.org'"
        " BEGIN SELECT RAISE(ABORT, 'simulated crash'); END"
    )
    with pytest.raises(sqlite3.IntegrityError, match="simulated crash"):
        import_csv(store, path, batch_rows=5)  # three batches were written before the crash
    store.conn.execute("DROP TRIGGER crash")
    assert snapshot(project) == before
    assert not store.conn.in_transaction


def test_an_interrupted_import_leaves_the_database_as_it_was(project, tmp_path, store, monkeypatch):
    before = snapshot(project)
    path = write_csv(tmp_path, "Email\n" + "".join(f"p{i}@example.org\n" for i in range(10)))
    original = BulkImport.write
    calls = []

    def interrupted(self, **batch):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        original(self, **batch)

    monkeypatch.setattr(BulkImport, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        import_csv(store, path, batch_rows=4)
    assert snapshot(project) == before


def test_reimport_never_resubscribes(project, tmp_path, store):
    path = write_csv(tmp_path, WELSH)
    run_import(project, path)
    store.remove("sian@example.org")
    store.add_subscriber("llyr@example.org")
    llyr = store.get_subscriber("llyr@example.org")
    store.record_bounce(llyr.id, "550 no such user", limit=1)
    report = run_import(project, path)
    assert (report.suppressed, report.added, report.updated) == (2, 0, 0)
    rows = by_email(project)
    assert rows["sian@example.org"]["status"] == "unsubscribed"
    assert rows["llyr@example.org"]["status"] == "bounced"


def test_forgotten_address_is_reported_as_suppressed_and_not_stored(project, tmp_path, store):
    path = write_csv(tmp_path, WELSH)
    run_import(project, path)
    store.forget("SIAN@example.org")
    report = run_import(project, path)
    assert (report.suppressed, report.unchanged, report.added) == (1, 1, 0)
    assert set(by_email(project)) == {"llyr@example.org"}
    assert all("Siân" not in json.dumps(row) for row in table(project, "events"))


def test_resubscribe_flag_brings_back_people_who_left(project, tmp_path, store):
    path = write_csv(tmp_path, WELSH)
    run_import(project, path)
    store.remove("sian@example.org")
    store.forget("llyr@example.org")
    report = run_import(project, path, resubscribe=True)
    assert report.resubscribed == 2
    rows = by_email(project)
    assert rows["sian@example.org"]["status"] == "active"
    assert rows["sian@example.org"]["left_via"] is None
    assert rows["llyr@example.org"]["status"] == "active"
    assert not store.is_suppressed("llyr@example.org")


def test_dry_run_reports_the_same_numbers_and_writes_nothing(project, tmp_path, cli, store):
    store.add_subscriber("sian@example.org", name="Old Name")
    store.add_subscriber("gone@example.org")
    store.remove("gone@example.org")
    path = write_csv(
        tmp_path, WELSH + "gone@example.org,Gone,\nbad,Bad,\nSIAN@example.org,Siân Jones,\n"
    )
    before = snapshot(project)
    dry = cli("subscribers", "import", str(path), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "dry run: nothing was written" in dry.stdout
    assert snapshot(project) == before
    real = cli("subscribers", "import", str(path))
    assert dry.stdout.replace("dry run: nothing was written\n", "") == real.stdout
    for outcome, count in [("added", 1), ("updated", 1), ("suppressed", 1), ("rejected", 1)]:
        assert f"│ {outcome:<12} │ {count:>4} │" in real.stdout
    assert "line 5: invalid email address 'bad'" in real.stdout


def test_status_column_keeps_people_who_left_from_becoming_active(project, tmp_path, store):
    """Counted for what happened: leaving here is not 'suppressed' (people left untouched)."""
    store.add_subscriber("active@example.org")
    text = (
        "email,name,status\n"
        "left@example.org,Left,unsubscribed\n"
        "bounced@example.org,B,bounced\n"
        "active@example.org,,unsubscribed\n"
        "odd@example.org,Odd,pending\n"
    )
    report = run_import(project, write_csv(tmp_path, text))
    assert (report.unsubscribed, report.bounced, report.suppressed) == (2, 1, 0)
    assert (report.added, report.rejected) == (0, 1)
    assert report.left_here == ["active@example.org"]
    assert "never confirmed their subscription there (pending)" in report.rejects[0].reason
    rows = by_email(project)
    assert rows["left@example.org"]["status"] == "unsubscribed"
    assert rows["left@example.org"]["left_via"] == "import"
    assert rows["bounced@example.org"]["status"] == "bounced"
    assert rows["active@example.org"]["status"] == "unsubscribed"


def test_source_option_and_default_source(project, tmp_path):
    run_import(project, write_csv(tmp_path, WELSH, name="spring-event.csv"))
    run_import(project, write_csv(tmp_path, "Email\nnew@example.org\n"), source="Eisteddfod stall")
    rows = by_email(project)
    assert rows["sian@example.org"]["source"] == "import spring-event.csv"
    assert rows["new@example.org"]["source"] == "Eisteddfod stall"


def test_cli_summary_lists_rejects_with_line_numbers(project, cli):
    from pathlib import Path

    examples = Path(__file__).resolve().parents[2] / "examples" / "members.csv"
    result = cli("subscribers", "import", str(examples))
    assert result.exit_code == 0, result.output
    assert "line 11: invalid email address 'dafydd.parry at example.org'" in result.stdout
    assert "│ added        │   12 │" in result.stdout
    assert "│ duplicates   │    1 │" in result.stdout
    assert "extra columns kept as attributes: region" in result.stdout


addresses = st.one_of(
    st.emails(),
    st.text(alphabet="aZ.+-_@!#'\"<>() \tâŷ0xn-é[]\\", max_size=30),
    st.builds(
        lambda local, domain: f"{local}@{domain}",
        st.sampled_from(["ann", "Info", "POSTMASTER", "a..b", ".x", "x.", "a b", "ŵ", "a" * 70]),
        st.sampled_from(
            [
                "Example.ORG",
                "xn--bcher-kva.example",
                "bücher.example",
                "localhost",
                "x.test",
                "a-.org",
                "[127.0.0.1]",
                "e.x" * 90,
                ("d" * 60 + ".") * 4 + "org",
            ]
        ),
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(addresses, min_size=1, max_size=12))
def test_cached_normaliser_agrees_with_normalise_address(candidates):
    normalise = AddressNormaliser()
    for candidate in candidates + candidates:  # the second pass takes the cached path
        try:
            expected = normalise_address(candidate)
        except InputError:
            expected = None
        try:
            actual = normalise(candidate)
        except InputError:
            actual = None
        assert actual == expected, candidate


cells = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(cells, cells, cells), min_size=1, max_size=5))
def test_no_stored_field_ever_holds_a_line_break(rows):
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Email", "Name", "Organisation", "Notes"])
    for index, (name, organisation, notes) in enumerate(rows):
        writer.writerow([f"p{index}@example.org", name, organisation, notes])
    with fresh_store() as (project, store):
        path = write_csv(project, buffer.getvalue())
        import_csv(store, path)
        for row in table(project, "subscribers") + table(project, "events"):
            for value in row.values():
                if isinstance(value, str):
                    assert not any(ch in value for ch in "\r\n\x0b\x0c\x85\u2028\u2029"), row


def test_import_raises_not_found_for_missing_file(project, tmp_path, store):
    with pytest.raises(NotFoundError):
        import_csv(store, tmp_path / "missing.csv")


def test_cached_normaliser_still_checks_the_whole_length():
    normalise = AddressNormaliser()
    domain = ("d" * 60 + ".") * 4 + "org"
    assert normalise(f"ann@{domain.upper()}") == f"ann@{domain}"
    with pytest.raises(InputError, match="too long"):
        normalise(f"{'a' * 70}@{domain.upper()}")
    assert normalise(f"Info@{domain.upper()}") == f"info@{domain}"


def test_a_non_ascii_local_part_is_rejected_with_its_line(tmp_path, store):
    from newsletter.subscribers.importer import import_csv

    path = tmp_path / "intl.csv"
    path.write_text(
        "Email,Name\njosé@example.org,José\nmair@bücher.example,Mair\n", encoding="utf-8"
    )
    report = import_csv(store, path)
    assert [(r.line, "before the @-sign" in r.reason) for r in report.rejects] == [(2, True)]
    assert [s.email for s in store.list_subscribers()] == ["mair@bücher.example"]


@pytest.mark.parametrize(
    ("data", "encoding", "name"),
    [
        # charset-normalizer's first guess for these few bytes is Big5 (`Si滱 Jones`)
        (b"Email,Name\nsian@example.org,Si\xe2n Jones\n", "cp1252", "Siân Jones"),
        ("Email,Name\nsian@example.org,Zoë Jones\n".encode(), "utf-8", "Zoë Jones"),
        # Latin-1 and Windows-1252 agree on every letter (0xA0 to 0xFF): cp1252 is named
        ("Email,Name\nsian@example.org,Zoë Brontë\n".encode("latin-1"), "cp1252", "Zoë Brontë"),
    ],
    ids=["two-row-cp1252-not-big5", "utf8-one-accent", "latin-1"],
)
def test_a_tiny_file_is_read_in_its_encoding_and_the_summary_says_which(
    project, tmp_path, cli, data: bytes, encoding: str, name: str
):
    path = tmp_path / "t.csv"
    path.write_bytes(data)
    result = cli("subscribers", "import", str(path))
    assert result.exit_code == 0, result.output
    assert f"(read as {encoding})" in result.stdout
    assert by_email(project)["sian@example.org"]["name"] == name


def test_cyrillic_windows_1251_is_still_detected(project, tmp_path):
    text = "Email,Name\n" + "".join(
        f"p{i}@example.org,{name}\n" for i, name in enumerate(["Анна Петрова", "Иван Сидоров"])
    )
    path = write_csv(tmp_path, text, encoding="cp1251")
    report = run_import(project, path)
    assert report.encoding == "cp1251"
    assert by_email(project)["p0@example.org"]["name"] == "Анна Петрова"


def test_a_cjk_encoding_is_used_only_when_named_and_valid_throughout(project, tmp_path, cli):
    path = tmp_path / "t.csv"
    path.write_bytes(
        "Email,Name\nli@example.org,李雷\n".encode("big5") + b"wang@example.org,W\xff\n"
    )
    result = cli("subscribers", "import", str(path), "--encoding", "big5")
    assert result.exit_code != 0
    assert "not valid big5 at line 3" in result.output
    assert "li@example.org" not in by_email(project)
    path.write_bytes("Email,Name\nli@example.org,李雷\n".encode("big5"))
    result = cli("subscribers", "import", str(path), "--encoding", "big5")
    assert result.exit_code == 0, result.output
    assert "(read as big5)" in result.stdout
    assert by_email(project)["li@example.org"]["name"] == "李雷"
