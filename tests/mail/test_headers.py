"""Every header text the tool writes reads back as written, within RFC 2047's limits."""

from __future__ import annotations

from email import message_from_bytes, policy

from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.mail.headers import (
    display_name,
    header_text,
    phrase_header,
    unstructured_header,
)

from support.mail import assert_rfc2047_shape

LOOKALIKES = ["=?utf-8?b?PHNjcmlwdD4=?= hi", "=?utf-8?q?Forged?=", "=?", "?=", "=?x?y?z?="]
WORDS = st.one_of(
    st.text(max_size=12),
    st.text(alphabet="ŵŷâêîôûŴŶ–—’“”…€😀👩‍👩‍👧 ", max_size=20),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz.,:;()<>\"'\\@", min_size=1, max_size=90),
    st.sampled_from(["Llŷr", "Siân", "Aberystwyth", "–", "😀", "Tŷ", *LOOKALIKES]),
)
TEXTS = st.one_of(st.text(max_size=200), st.lists(WORDS, max_size=25).map(" ".join))


def parse(header: str):  # noqa: ANN201 - an email.message.EmailMessage
    assert_rfc2047_shape(header)
    return message_from_bytes(header.encode("ascii") + b"\r\n", policy=policy.default)


@settings(max_examples=400, deadline=None)
@given(text=TEXTS)
def test_subject_reads_back_as_typed_for_any_text(text: str) -> None:
    message = parse(unstructured_header("Subject", text))
    assert str(message["Subject"]) == header_text(text)


@settings(max_examples=400, deadline=None)
@given(text=TEXTS)
def test_display_names_read_back_as_typed_for_any_text(text: str) -> None:
    name = display_name(text)
    assert header_text(text).startswith(name)
    if len(header_text(text).encode("utf-8")) <= 39:  # fits one encoded-word: never cut
        assert name == header_text(text)
    sender = parse(phrase_header("From", text, "news@example.org"))["From"]
    recipient = parse(phrase_header("To", text, "sian@example.org"))["To"]
    list_id = phrase_header("List-Id", text, "copro.example.org")
    list_id = parse("To:" + list_id.removeprefix("List-Id:"))["To"]  # same grammar as To
    assert sender.addresses[0].display_name == name
    assert recipient.addresses[0].display_name == name
    assert recipient.addresses[0].addr_spec == "sian@example.org"
    assert (list_id.addresses[0].display_name, list_id.addresses[0].addr_spec) == (
        name,
        "copro.example.org",
    )


def test_text_that_looks_like_an_encoded_word_arrives_as_typed() -> None:
    typed = "=?utf-8?b?PHNjcmlwdD4=?= hi"
    subject = unstructured_header("Subject", typed)
    assert "PHNjcmlwdD4=?= hi" not in subject and "<script>" not in str(parse(subject)["Subject"])
    assert str(parse(subject)["Subject"]) == typed
    assert (
        parse(phrase_header("To", typed, "a@example.org"))["To"].addresses[0].display_name == typed
    )


def test_the_subject_that_python_folds_with_an_empty_encoded_word() -> None:
    subject = "Newyddion Rhagfyr 2026: cyfarfod y gaeaf yn Aberystwyth – and our small grants"
    header = unstructured_header("Subject", subject)
    assert "?q??=" not in header and "?b??=" not in header
    assert header == (
        "Subject: Newyddion Rhagfyr 2026: cyfarfod y gaeaf yn Aberystwyth\r\n"
        " =?utf-8?q?=E2=80=93?= and our small grants\r\n"
    )
    assert str(parse(header)["Subject"]) == subject


def test_plain_ascii_words_stay_readable() -> None:
    assert unstructured_header("Subject", "Co-pro  Newsletter,   December") == (
        "Subject: Co-pro Newsletter, December\r\n"
    )
    assert phrase_header("To", "O'Brien, Mary", "m@example.org") == (
        'To: "O\'Brien, Mary" <m@example.org>\r\n'
    )
    assert phrase_header("To", "Siân Jones", "s@example.org") == (
        "To: =?utf-8?q?Si=C3=A2n_Jones?= <s@example.org>\r\n"
    )
