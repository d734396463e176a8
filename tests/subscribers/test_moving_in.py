"""Moving in from another tool: Mailchimp's ZIP and CSVs, listmonk, Keila, Buttondown,
Sendy. Nobody who left there is active here, whatever the order of the files; the
columns nobody should hold never reach the database file; a send afterwards reaches
exactly the active ones (real aiosmtpd)."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest

from support.render import fill_in
from support.smtp import configure_smtp
from support.subscribers import (
    EXPORTS,
    MAILCHIMP_FILES,
    by_email,
    database_bytes,
    one_error_line,
    snapshot,
    statuses,
    table,
    write_csv,
)

ACTIVE = {
    "sian.jones@example.org",
    "llyr@example.org",
    "gwenllian@example.org",
    "ffion.wyn@example.org",
}
LEFT = {
    "rhodri.evans@example.org": ("unsubscribed", "2023-05-01T12:00:00+00:00"),
    "iolo@example.org": ("unsubscribed", "2022-11-30T08:15:00+00:00"),
    "mair@example.org": ("bounced", "2021-07-07T07:07:07+00:00"),
    "bounce.me@example.net": ("bounced", "2020-02-02T02:02:02+00:00"),
}
MAILCHIMP_END = {**{email: ("active", None) for email in ACTIVE}, **LEFT}
# Values of the columns Mailchimp adds that nobody here should hold.
NEVER_STORED = [
    b"51.4816", b"-3.1791", b"48213977", b"e3f1c9a7b5", b"Europe/London", b"192.0.2.",
    b"Cylchlythyr Mai 2023", b"c0ffee1234", b"no longer want", b"Symud i ffwrdd",
    b"Newyddion Gorffennaf", b"b0a7ed0001", b"America/New_York",
]  # fmt: skip


def folded(project: Path) -> dict[str, tuple[str, str | None]]:
    """statuses() keyed by the lower-cased address (the first spelling seen is kept)."""
    return {email.lower(): state for email, state in statuses(project).items()}


def imported(cli, *paths: Path, options: tuple[str, ...] = ()) -> list[str]:
    outputs = []
    for path in paths:
        result = cli("subscribers", "import", str(path), *options)
        assert result.exit_code == 0, result.output
        outputs.append(result.stdout)
    return outputs


def mailchimp(kind: str) -> Path:
    return EXPORTS / "mailchimp" / MAILCHIMP_FILES[kind]


def test_the_fixtures_are_written_as_mailchimp_writes_them():
    for path in map(mailchimp, MAILCHIMP_FILES):
        raw = path.read_bytes()
        assert raw.startswith(b'"Email Address","First Name","Last Name",')
        assert raw.count(b"\r\n") == raw.count(b"\n")  # CRLF throughout
        assert b"MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE" in raw
    assert "Llŷr" in mailchimp("subscribed").read_text(encoding="utf-8")


def test_the_mailchimp_zip_as_downloaded(cli, project, mailchimp_zip):
    (summary,) = imported(cli, mailchimp_zip)
    assert folded(project) == MAILCHIMP_END
    for kind in ("subscribed members", "unsubscribed members", "cleaned members"):
        assert f"read as a Mailchimp export ({kind}), utf-8" in summary
    assert "│ added        │    4 │" in summary
    assert "│ unsubscribed │    2 │" in summary
    assert "│ bounced      │    2 │" in summary
    assert "│ duplicates   │    2 │" in summary  # Rhodri and Mair, spelt in capitals
    assert "│ suppressed   │    0 │" in summary
    rows = by_email(project)
    assert rows["llyr@example.org"]["name"] == "Llŷr ap Dafydd"
    assert rows["gwenllian@example.org"]["name"] == "Gwenllïan Hughes"
    assert rows["ffion.wyn@example.org"]["name"] == "Ffion Ŵyn"
    languages = {email: row["language"] for email, row in rows.items() if email in ACTIVE}
    assert languages == {
        "sian.jones@example.org": "cy",
        "llyr@example.org": "en",
        "gwenllian@example.org": "",  # Dwyieithog: both
        "ffion.wyn@example.org": "",
    }
    assert json.loads(rows["gwenllian@example.org"]["attributes"]) == {
        "notes": "Rhestr y bwrdd",
        "tags": '"Board","2025 volunteer"',
    }
    assert rows["sian.jones@example.org"]["source"].startswith("Mailchimp export subscribed_")


@pytest.mark.parametrize("kind", list(MAILCHIMP_FILES))
def test_each_mailchimp_csv_alone(cli, project, kind):
    (summary,) = imported(cli, mailchimp(kind))
    expected = {
        "subscribed": {
            **{email: ("active", None) for email in ACTIVE},
            "rhodri.evans@example.org": ("active", None),
            "mair@example.org": ("active", None),
        },
        "unsubscribed": {e: LEFT[e] for e in ("rhodri.evans@example.org", "iolo@example.org")},
        "cleaned": {e: LEFT[e] for e in ("mair@example.org", "bounce.me@example.net")},
    }[kind]
    assert folded(project) == expected
    assert f"read as a Mailchimp export ({kind} members)" in summary


@pytest.mark.parametrize("order", list(itertools.permutations(MAILCHIMP_FILES)))
def test_whatever_the_order_of_the_files_nobody_who_left_is_active(cli, project, order):
    outputs = imported(cli, *map(mailchimp, order))
    assert folded(project) == MAILCHIMP_END
    if order.index("subscribed") < order.index("unsubscribed"):
        # Rhodri was active here until the unsubscribed file: said, and counted as leaving
        summary = outputs[order.index("unsubscribed")]
        assert "were active here, now gone as the file says: Rhodri.Evans@example.org" in summary
        assert "│ unsubscribed │    2 │" in summary


def test_imported_opt_ins_become_consent_records_without_ips(cli, project, mailchimp_zip):
    imported(cli, mailchimp_zip)
    ids = {row["id"]: row["email"] for row in table(project, "subscribers")}
    consents = {ids[c["subscriber_id"]]: c for c in table(project, "consents")}
    assert set(consents) == ACTIVE  # who left gets no consent record
    assert consents["sian.jones@example.org"]["at"] == "2019-03-02T10:05:00+00:00"  # confirmed
    assert consents["ffion.wyn@example.org"]["at"] == "2021-01-15T12:00:00+00:00"  # opt-in only
    assert {c["source"] for c in consents.values()} == {"Mailchimp export"}
    assert {c["client_ip"] for c in consents.values()} == {None}
    (wording,) = table(project, "consent_wordings")
    assert "does not include the wording they agreed to" in wording["text"]


def test_record_ip_keeps_the_confirming_ip_with_the_consent(cli, project, mailchimp_zip):
    with (project / "newsletter.toml").open("a", encoding="utf-8") as config:
        config.write("\n[subscribe]\nrecord_ip = true\n")
    (summary,) = imported(cli, mailchimp_zip)
    assert "OPTIN_IP" not in summary
    ids = {row["id"]: row["email"] for row in table(project, "subscribers")}
    ips = {ids[c["subscriber_id"]]: c["client_ip"] for c in table(project, "consents")}
    assert ips["sian.jones@example.org"] == "192.0.2.11"  # CONFIRM_IP
    assert ips["ffion.wyn@example.org"] == "192.0.2.40"  # OPTIN_IP: never confirmed by mail


def test_dropped_columns_never_reach_the_database_file(cli, project, mailchimp_zip):
    cli("subscribers", "add", "someone@example.org")  # so the import makes a backup too
    (summary,) = imported(cli, mailchimp_zip)
    assert "columns not stored: MEMBER_RATING, LATITUDE, LONGITUDE" in summary
    assert "EUID, OPTIN_IP, CONFIRM_IP," in summary  # read for the consent record, not kept
    raw = database_bytes(project)
    assert b"Siwan" not in raw and "Llŷr".encode() in raw  # the bytes are really read
    assert [value for value in NEVER_STORED if value in raw] == []


def test_keep_stores_one_dropped_column_on_purpose(cli, project, mailchimp_zip):
    imported(cli, mailchimp_zip, options=("--keep", "REGION"))
    attributes = json.loads(by_email(project)["sian.jones@example.org"]["attributes"])
    assert attributes["region"] == "Ceredigion"
    assert b"Europe/London" not in database_bytes(project)


def test_keep_of_a_column_the_file_has_not_is_one_line(cli, project, mailchimp_zip):
    before = snapshot(project)
    line = one_error_line(cli("subscribers", "import", str(mailchimp_zip), "--keep", "REGOIN"))
    assert line == (
        "error: --keep REGOIN: audience_export_4f1e2d3c9b.zip has no column of that name"
        " that is left out"
    )
    assert snapshot(project) == before


def test_a_send_afterwards_reaches_exactly_the_active_ones(
    cli, project, mailchimp_zip, smtp_server, tmp_path
):
    imported(cli, mailchimp_zip, mailchimp("subscribed"), EXPORTS / "listmonk-subscribers.csv")
    configure_smtp(project, smtp_server, connections=1, rate=0)
    assert cli("issue", "new", "2026-12", "--subject", "Newyddion").exit_code == 0
    fill_in(project, "2026-12")
    result = cli("send", "2026-12", "--yes")
    assert result.exit_code == 0, result.output
    recipients = {address.lower() for address in smtp_server.handler.recipients()}
    assert recipients == ACTIVE | {"ann@example.org", "dai@example.org"}


def test_someone_active_here_in_an_unsubscribed_file_leaves_unless_they_joined_later(
    cli, project, store
):
    store.add_subscriber("rhodri.evans@example.org", name="Rhodri")
    store.add_subscriber("iolo@example.org", name="Iolo")
    iolo = store.require("iolo@example.org")
    store.conn.execute(  # Iolo joined here (double opt-in) after leaving Mailchimp in 2022
        "INSERT INTO consent_wordings (digest, language, text, first_shown_at)"
        " VALUES ('d', 'cy', 'Ydw', '2026-01-01T00:00:00+00:00')"
    )
    store.conn.execute(
        "INSERT INTO consents (subscriber_id, at, wording_id, source)"
        " VALUES (?, '2026-01-02T00:00:00+00:00', 1, 'web')",
        [iolo.id],
    )
    (summary,) = imported(cli, mailchimp("unsubscribed"))
    assert folded(project) == {
        "rhodri.evans@example.org": LEFT["rhodri.evans@example.org"],
        "iolo@example.org": ("active", None),
    }
    assert "were active here, now gone as the file says: rhodri.evans@example.org" in summary
    assert "iolo@example.org left Mailchimp at 2022-11-30T08:15:00+00:00 but joined" in summary
    assert "│ unsubscribed │    1 │" in summary
    assert "│ suppressed   │    0 │" in summary


def test_listmonk_export(cli, project):
    (summary,) = imported(cli, EXPORTS / "listmonk-subscribers.csv")
    assert "(read as a listmonk export, utf-8)" in summary
    assert folded(project) == {
        "ann@example.org": ("active", None),
        "bryn@example.org": ("unsubscribed", "2024-02-02T14:30:00+00:00"),  # blocklisted
        "carys@example.org": ("unsubscribed", "2023-06-05T09:00:00+00:00"),  # disabled, BST
        "dai@example.org": ("active", None),
    }
    ann = by_email(project)["ann@example.org"]
    assert json.loads(ann["attributes"]) == {"city": "Aberystwyth", "member": "true"}
    assert ann["subscribed_at"] == "2022-01-05T10:00:00+00:00"
    assert b"5f0c2a64-8c5e" not in database_bytes(project)  # listmonk's uuid
    assert "columns not stored: uuid" in summary


def test_keila_export(cli, project):
    (summary,) = imported(cli, EXPORTS / "keila-contacts.csv")
    assert "(read as a Keila export, utf-8)" in summary
    states = folded(project)
    assert {email: status for email, (status, _at) in states.items()} == {
        "dafydd@example.org": "active",
        "elin@example.org": "unsubscribed",
        "gareth@example.org": "bounced",  # unreachable
    }
    rows = by_email(project)
    assert rows["elin@example.org"]["name"] == "Elin Ŷwain"
    assert json.loads(rows["dafydd@example.org"]["attributes"]) == {"tref": "Bangor"}
    assert b"crm-001" not in database_bytes(project)  # External ID


def test_buttondown_export(cli, project):
    (summary,) = imported(cli, EXPORTS / "buttondown-subscribers.csv")
    assert "(read as a Buttondown export, utf-8)" in summary
    states = folded(project)
    pedr_left = states.pop("pedr@example.org")  # removed: no date in the file, so the import's
    assert pedr_left[0] == "unsubscribed" and pedr_left[1] is not None
    assert states == {
        "huw@example.org": ("active", None),
        "nia@example.org": ("unsubscribed", "2024-03-03T18:45:00+00:00"),
        "rhys@example.org": ("active", None),
    }
    assert "line 4: never confirmed their subscription there (unactivated): not imported" in (
        summary
    )
    huw = by_email(project)["huw@example.org"]
    assert json.loads(huw["attributes"]) == {
        "sefydliad": "Menter Môn",
        "referrer_url": "https://example.org/ymuno",
    }
    assert huw["subscribed_at"] == "2022-02-02T10:00:00+00:00"
    raw = database_bytes(project)
    assert b"7d9f0c52" not in raw and b"cylchlythyr" not in raw and b"203.0.113" not in raw


def test_sendy_export(cli, project):
    (summary,) = imported(cli, EXPORTS / "sendy-members-all.csv")
    assert "(read as a Sendy export, utf-8)" in summary
    states = {email: status for email, (status, _at) in folded(project).items()}
    assert states == {
        "rhian@example.org": "active",
        "steffan@example.org": "unsubscribed",
        "tomos@example.org": "bounced",
        "wil@example.org": "unsubscribed",  # marked as spam
    }
    assert "line 6: never confirmed their subscription there (Unconfirmed)" in summary
    rhian = by_email(project)["rhian@example.org"]
    assert (rhian["language"], rhian["subscribed_at"]) == ("cy", "2022-04-01T09:30:00+00:00")
    assert by_email(project)["steffan@example.org"]["language"] == "en"
    assert b"United Kingdom" not in database_bytes(project)


def test_a_file_of_leavers_from_anywhere_with_status(cli, project, tmp_path, store):
    store.add_subscriber("ann@example.org")
    path = write_csv(tmp_path, "Email\nann@example.org\nnew@example.org\n", name="leavers.csv")
    (summary,) = imported(cli, path, options=("--status", "unsubscribed"))
    assert {e: s for e, (s, _at) in folded(project).items()} == {
        "ann@example.org": "unsubscribed",
        "new@example.org": "unsubscribed",
    }
    assert "│ unsubscribed │    2 │" in summary


def test_status_never_makes_a_leaver_active(cli, project, tmp_path):
    imported(cli, mailchimp("unsubscribed"), options=("--status", "subscribed"))
    assert {s for s, _at in folded(project).values()} == {"unsubscribed"}


def test_an_unknown_status_option_is_one_line(cli, project, tmp_path):
    path = write_csv(tmp_path, "Email\nann@example.org\n")
    line = one_error_line(cli("subscribers", "import", str(path), "--status", "gone-fishing"))
    assert line.startswith("error: unknown status 'gone-fishing'")
    assert table(project, "subscribers") == []


@pytest.mark.parametrize("word", ["cleaned", "blocklisted", "unreachable", "Marked as spam"])
def test_a_plain_sheet_may_use_any_tools_status_words(cli, project, tmp_path, word):
    path = write_csv(tmp_path, f"Email,Status\nann@example.org,{word}\n")
    imported(cli, path)
    assert folded(project)["ann@example.org"][0] != "active"


def test_reimporting_the_same_file_is_unchanged_and_names_differing_duplicates(
    cli, project, tmp_path
):
    text = (
        "Email,Name,Organisation\n"
        "Sian@Example.org,Siân Jones,Menter Iaith\n"
        "bob@example.org,Bob,\n"
        "SIAN@example.org,SIAN JONES,\n"
    )
    path = write_csv(tmp_path, text)
    first, again = imported(cli, path, path)
    assert (
        "line 4: SIAN@example.org repeats line 2 with different values: name 'SIAN JONES'"
        " (line 2: 'Siân Jones'); this line's values win" in " ".join(first.split())
    )
    assert by_email(project)["Sian@example.org"]["name"] == "SIAN JONES"
    assert "│ unchanged    │    2 │" in again
    assert "│ updated      │    0 │" in again


def test_a_repeat_in_a_later_batch_is_named_with_the_line_it_repeats(project, tmp_path, store):
    from newsletter.subscribers.importer import import_csv

    text = (
        "Email,Name\nann@example.org,Ann\nb@example.org,B\nc@example.org,C\nANN@example.org,Nan\n"
    )
    report = import_csv(store, write_csv(tmp_path, text), batch_rows=2)
    assert [(note.line, note.reason) for note in report.notes] == [
        (
            5,
            "ANN@example.org repeats line 2 with different values: name 'Nan' (until then:"
            " 'Ann'); this line's values win",
        )
    ]
    assert (report.added, report.duplicates) == (3, 1)
    assert by_email(project)["ann@example.org"]["name"] == "Nan"


def test_a_reimport_with_repeats_in_later_batches_is_counted_for_what_it_did(
    project, tmp_path, store
):
    from newsletter.subscribers.importer import import_csv

    text = (
        "Email,Name\nann@example.org,Ann\nb@example.org,B\nc@example.org,C\nANN@example.org,Nan\n"
    )
    path = write_csv(tmp_path, text)
    import_csv(store, path, batch_rows=2)
    again = import_csv(store, path, batch_rows=2)  # Ann -> Ann (batch 1), -> Nan (batch 2)
    assert (again.updated, again.unchanged, again.duplicates) == (0, 3, 1)
    assert again.lines["unchanged"] == ["3", "4", "2"]
    leaving = write_csv(
        tmp_path,
        "Email,Name,Status\nann@example.org,Nan,\nb@example.org,B,\nc@example.org,C,\n"
        "ANN@example.org,,unsubscribed\n",
        name="two.csv",
    )
    report = import_csv(store, leaving, batch_rows=2)
    assert (report.unchanged, report.unsubscribed, report.duplicates) == (2, 1, 1)
    assert store.get_subscriber("ann@example.org").status == "unsubscribed"


def test_a_zip_without_a_csv_inside_is_one_line(cli, project, tmp_path):
    import zipfile

    path = tmp_path / "members.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    line = one_error_line(cli("subscribers", "import", str(path)))
    assert line == f"error: {path} is a ZIP file with no CSV file inside"
    assert table(project, "subscribers") == []


def test_a_bad_csv_inside_the_zip_is_named_and_nothing_is_written(cli, project, tmp_path):
    import zipfile

    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(mailchimp("subscribed"), MAILCHIMP_FILES["subscribed"])
        archive.writestr("notes.csv", "Name,Phone\nAnn,123\n")
    line = one_error_line(cli("subscribers", "import", str(path)))
    assert line.startswith("error: notes.csv (in the ZIP file) has no email column")
    assert table(project, "subscribers") == []


def test_dry_run_shows_each_kind_of_row_and_writes_nothing(cli, project, mailchimp_zip):
    before = snapshot(project)
    result = cli("subscribers", "import", str(mailchimp_zip), "--dry-run")
    assert result.exit_code == 0, result.output
    assert snapshot(project) == before
    assert table(project, "consents") == []
    assert "│ unsubscribed │    2 │ unsubscribed 2, unsubscribed 3" in result.stdout
    assert "│ bounced      │    2 │ cleaned 2, cleaned 3" in result.stdout
    assert "dry run: nothing was written" in result.stdout


@pytest.mark.parametrize("word", ["Dwyieithog", "Both", "Y ddwy", "cy+en"])
def test_both_languages_are_understood_on_add_and_import(cli, project, tmp_path, word):
    assert cli("subscribers", "add", "a@example.org", "--language", word).exit_code == 0
    path = write_csv(tmp_path, f"Email,Iaith\nb@example.org,{word}\n")
    (summary,) = imported(cli, path)
    assert "not understood" not in summary
    assert {row["language"] for row in table(project, "subscribers")} == {""}


def test_both_said_out_loud_clears_a_single_language(cli, project, tmp_path, store):
    store.add_subscriber("a@example.org", language="cy")
    store.add_subscriber("b@example.org", language="en")
    path = write_csv(tmp_path, "Email,Iaith\nb@example.org,Y ddwy\nc@example.org,\n")
    (summary,) = imported(cli, path)
    assert "│ updated      │    1 │" in summary
    result = cli("subscribers", "add", "a@example.org", "--language", "Dwyieithog")
    assert result.stdout.strip() == "updated a@example.org"
    assert {row["email"]: row["language"] for row in table(project, "subscribers")} == {
        "a@example.org": "",
        "b@example.org": "",
        "c@example.org": "",
    }


def test_a_blank_language_never_erases_one(cli, project, tmp_path, store):
    store.add_subscriber("a@example.org", language="cy")
    (summary,) = imported(cli, write_csv(tmp_path, "Email,Iaith\na@example.org,\n"))
    assert "│ unchanged    │    1 │" in summary
    assert by_email(project)["a@example.org"]["language"] == "cy"


def test_an_unknown_language_says_empty_means_both(cli, project):
    result = cli("subscribers", "add", "x@example.org", "--language", "Klingon")
    one_error_line(result)
    assert "empty (or Dwyieithog, Both) means both" in result.stderr


def test_fixtures_folder_is_what_the_docs_name(tmp_path):
    copied = shutil.copytree(EXPORTS, tmp_path / "exports")
    assert sorted(p.name for p in copied.iterdir()) == [
        "buttondown-subscribers.csv",
        "keila-contacts.csv",
        "listmonk-subscribers.csv",
        "mailchimp",
        "sendy-members-all.csv",
    ]
