"""Joining in a bilingual project (Welsh first): the form, the answers and the mail
speak the reader's language, and both when it is unknown."""

from __future__ import annotations

import json
from pathlib import Path

import lxml.html

from newsletter.project import open_project

from support.bilingual import NAMES, make_bilingual
from support.joining import (
    STAMP,
    WORDING,
    confirmation_tokens,
    outbox_messages,
    signup_body,
)
from support.waiting import wait_for


def sections(text: str) -> list[str]:
    return [s.get("lang") for s in lxml.html.fromstring(text).xpath("//main/section")]


def welsh_form(project: Path, email: str, **fields: str) -> bytes:
    return signup_body(project, email, lang="cy", language="cy", **fields)


def test_the_form_is_in_both_languages_welsh_first_until_one_is_chosen(
    in_process, project: Path
) -> None:  # noqa: ANN001
    make_bilingual(project)
    client = in_process()
    both = client.request("GET", "/subscribe")
    assert both.status == 200 and sections(both.text) == ["cy", "en"]
    assert "Tanysgrifio: Cylchlythyr Cyd-gynhyrchu" in both.text
    assert "Subscribe to Co-pro Newsletter" in both.text
    assert both.text.count('<form method="post" class="signup">') == 2
    assert "Rwy&#39;n cytuno i dderbyn Cylchlythyr Cyd-gynhyrchu drwy e-bost" in both.text
    welsh = client.request("GET", "/subscribe?lang=cy")
    assert sections(welsh.text) == ["cy"] and "Cyfeiriad e-bost" in welsh.text
    assert "Email address" not in welsh.text
    for code in ("cy", "en", ""):
        assert f'name="language" value="{code}"' in welsh.text


def test_a_welsh_sign_up_is_answered_mailed_and_confirmed_in_welsh(
    in_process, project: Path, cli
) -> None:  # noqa: ANN001
    make_bilingual(project)
    client = in_process()
    form = client.request("GET", "/subscribe?lang=cy").text
    digest = WORDING.search(form).group(1)
    reply = client.post("/subscribe", welsh_form(project, "nia@example.org", wording=digest))
    assert reply.status == 200 and sections(reply.text) == ["cy"]
    assert "Gwiriwch eich mewnflwch" in reply.text
    [mail] = wait_for(lambda: outbox_messages(project), what="the confirmation")
    assert mail["Subject"] == f"Cadarnhewch eich tanysgrifiad: {NAMES['cy']}"
    assert mail["Content-Language"] == "cy"
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Cadarnhewch eich bod am dderbyn Cylchlythyr Cyd-gynhyrchu." in text
    [token] = confirmation_tokens([mail], "nia@example.org")
    page = client.request("GET", f"/confirm/{token}")
    assert sections(page.text) == ["cy"] and "Cadarnhau fy nhanysgrifiad" in page.text
    digest = WORDING.search(page.text).group(1)
    done = client.post(f"/confirm/{token}", f"wording={digest}".encode())
    assert "Rydych wedi tanysgrifio" in done.text
    record = json.loads(cli("subscribers", "list", "--json").output)[0]
    assert record["language"] == "cy"
    assert record["consent"]["language"] == "cy"
    assert record["consent"]["wording"].startswith("Rwy'n cytuno i dderbyn Cylchlythyr")


def test_a_reader_who_chose_both_gets_one_mail_in_both_languages(in_process, project: Path) -> None:  # noqa: ANN001
    make_bilingual(project)
    client = in_process()
    client.post("/subscribe", signup_body(project, "both@example.org", lang="en", language=""))
    [mail] = wait_for(lambda: outbox_messages(project), what="the confirmation")
    assert mail["Content-Language"] == "cy, en"
    assert mail["Subject"] == (
        f"Cadarnhewch eich tanysgrifiad: {NAMES['cy']} / Confirm your subscription to {NAMES['en']}"
    )
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert text.index("Cadarnhewch eich bod") < text.index("Please confirm that you want")
    [token] = confirmation_tokens([mail], "both@example.org")
    assert sections(client.request("GET", f"/confirm/{token}").text) == ["cy", "en"]


def test_the_same_answer_in_every_language_whoever_the_address_is(
    in_process, project: Path
) -> None:  # noqa: ANN001
    make_bilingual(project)
    with open_project(project) as (_config, store):
        store.add_subscriber("known@example.org")
    client = in_process()
    for lang in ("cy", "en"):
        known = client.post("/subscribe", signup_body(project, "known@example.org", lang=lang))
        new = client.post("/subscribe", signup_body(project, "new@example.org", lang=lang))
        assert known.status == new.status == 200
        assert STAMP.sub("", known.text.replace("known@", "X@")) == STAMP.sub(
            "", new.text.replace("new@", "X@")
        )
