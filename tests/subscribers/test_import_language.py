"""The language column: Iaith/Language, every way Welsh and English are written."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from support.subscribers import by_email, one_error_line

CSV = """\
E-bost,Enw,Iaith
a@example.org,Ann,Cymraeg
b@example.org,Bryn,WELSH
c@example.org,Cai,cym
d@example.org,Dewi,English
e@example.org,Efa,saesneg
f@example.org,Ffion,ENG
g@example.org,Gwen,
h@example.org,Huw,Klingon
"""


def test_the_iaith_column_is_understood_and_the_rest_reported(cli, project: Path, tmp_path: Path):
    path = tmp_path / "aelodau.csv"
    path.write_text(CSV, encoding="utf-8")
    result = cli("subscribers", "import", str(path))
    assert result.exit_code == 0, result.output
    assert (
        "line 9: language 'Klingon' not understood (use en, cy, Cymraeg or English;"
        " empty (or Dwyieithog, Both) means both); stored empty" in " ".join(result.output.split())
    )
    rows = by_email(project)
    assert {email: row["language"] for email, row in rows.items()} == {
        "a@example.org": "cy", "b@example.org": "cy", "c@example.org": "cy",
        "d@example.org": "en", "e@example.org": "en", "f@example.org": "en",
        "g@example.org": "", "h@example.org": "",
    }  # fmt: skip
    assert "│ added        │    8 │" in result.stdout  # Huw is imported, only his language is not


def test_language_column_by_its_english_name_too(cli, project: Path, tmp_path: Path):
    path = tmp_path / "members.csv"
    path.write_text("Email,Language\nx@example.org,Cymraeg\n", encoding="utf-8")
    assert cli("subscribers", "import", str(path)).exit_code == 0
    assert by_email(project)["x@example.org"]["language"] == "cy"


def test_add_list_json_and_export_carry_the_language(cli, project: Path):
    assert (
        cli(
            "subscribers", "add", "siân@example.org".replace("â", "a"), "--language", "Cymraeg"
        ).exit_code
        == 0
    )
    assert cli("subscribers", "add", "tom@example.org", "--language", "en").exit_code == 0
    assert [
        line.split()[-3] for line in cli("subscribers", "list").stdout.splitlines() if "@" in line
    ] == ["cy", "en"]
    rows = [
        json.loads(line.rstrip(","))
        for line in cli("subscribers", "list", "--json").stdout.splitlines()
        if line.startswith("{")
    ]
    assert {r["email"]: r["language"] for r in rows} == {
        "sian@example.org": "cy",
        "tom@example.org": "en",
    }
    exported = list(
        csv.DictReader(io.StringIO(cli("subscribers", "export").stdout.lstrip("\ufeff")))
    )
    assert {r["email"]: r["language"] for r in exported} == {
        "sian@example.org": "cy",
        "tom@example.org": "en",
    }


def test_an_unknown_language_for_add_is_one_clear_error(cli, project: Path):
    line = one_error_line(cli("subscribers", "add", "x@example.org", "--language", "Klingon"))
    assert line == "error: unknown language 'Klingon'"
    assert "x@example.org" not in by_email(project)
