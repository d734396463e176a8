"""prepare_issue: front matter, Markdown, templates, sentinels, errors with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.config import load_config
from newsletter.errors import InputError, NotFoundError, TemplateError
from newsletter.issue import markdown
from newsletter.issue.rendering import prepare_issue, render_directly

from support.render import subscriber, write_issue, write_template

HOSTILE = [
    '<script>alert("x")</script>',
    'O\'Brien & "Sons"',
    "Ŷ â Llŷr",
    "evil\r\nBcc: victim@example.org",
    "مرحبا بالعالم",
    "😀🎉",
    "x" * 500,
]


def prepare(project: Path, slug: str = "2026-12"):
    return prepare_issue(load_config(project), slug)


def test_front_matter_and_markdown_become_html_and_real_text(project: Path) -> None:
    write_issue(project)
    prepared = prepare(project)
    html, text = prepared.render(subscriber())
    assert prepared.subject == "December news"
    assert prepared.preheader == "What is on"
    assert "<h2" in html and ">News</h2>" in html
    assert 'class="button"' in html and 'href="https://example.org/book"' in html
    assert "style=" in html and "<link" not in html  # CSS inlined, nothing external
    assert "<script" not in html
    assert "Read the report (https://example.org/report) before Friday." in text
    assert "News\n----" in text
    assert "<" not in text.replace("<https", "")  # real text, not tags
    assert "December 2026" in html and "December 2026" in text


def test_unsubscribe_url_survives_premailer_inside_href(project: Path) -> None:
    write_issue(project)
    prepared = prepare(project)
    html, text = prepared.render(subscriber(token="AbC-_123456789012345678x"))
    assert 'href="https://news.example.org/u/AbC-_123456789012345678x"' in html
    assert "https://news.example.org/u/AbC-_123456789012345678x" in text
    assert "unsubscribe_url" in prepared.html.slots and "unsubscribe_url" in prepared.text.slots


@pytest.mark.parametrize("name", HOSTILE)
def test_personal_fields_are_escaped_in_html_and_one_line_in_text(project: Path, name: str) -> None:
    write_template(
        project,
        "issue.txt",
        "Dear {{ subscriber.name }},\n{{ content }}\n{{ unsubscribe_url }}\n{{ newsletter.postal_address }}\n",
    )
    write_template(
        project,
        "issue.html",
        '{% extends "base.html" %}{% block content %}<p class="hi">Dear {{ subscriber.name }}</p>{{ content }}{% endblock %}',
    )
    write_issue(project)
    html, text = prepare(project).render(subscriber(name=name))
    assert "<script>" not in html
    first_line = text.splitlines()[0]
    assert first_line.startswith("Dear ") and "\r" not in text
    assert "Bcc: victim" not in text.split("\n", 1)[1]  # the break became a space, no new line
    if name.startswith("<script"):
        assert "&lt;script&gt;" in html
        assert first_line == 'Dear <script>alert("x")</script>,'


def test_custom_attributes_are_filled_and_missing_ones_are_empty(project: Path) -> None:
    write_template(
        project,
        "issue.txt",
        "[{{ subscriber.attributes.region }}][{{ subscriber.attributes['Member since'] }}]"
        "[{{ subscriber.organisation }}]\n{{ unsubscribe_url }}\n",
    )
    write_issue(project)
    prepared = prepare(project)
    _html, text = prepared.render(
        subscriber(attributes={"region": "Gwynedd", "Member since": 2019}, organisation="Tŷ Hapus")
    )
    assert text.startswith("[Gwynedd][2019][Tŷ Hapus]")
    _html, text = prepared.render(subscriber())
    assert text.startswith("[][][]")


def test_markdown_is_parsed_once_per_issue(project: Path, monkeypatch) -> None:
    write_issue(project)
    calls = []
    original = markdown.parse
    monkeypatch.setattr(markdown, "parse", lambda source: calls.append(1) or original(source))
    prepared = prepare(project)
    for number in range(50):
        prepared.render(subscriber(name=f"Reader {number}"))
    assert calls == [1]


def test_undefined_name_is_an_error_with_file_and_line(project: Path) -> None:
    write_template(
        project,
        "issue.html",
        '{% extends "base.html" %}\n{% block content %}\n{{ content }}\n<p>{{ issue.sponsor }}</p>\n{% endblock %}\n',
    )
    write_issue(project)
    with pytest.raises(TemplateError) as caught:
        prepare(project)
    assert caught.value.message == "templates/issue.html:4: undefined name 'issue.sponsor'"


def test_undefined_name_in_the_base_template_names_the_base(project: Path) -> None:
    base = (project / "templates" / "base.html").read_text(encoding="utf-8")
    write_template(project, "base.html", base.replace("<body>", "<body>\n{{ newsletter.logo }}", 1))
    write_issue(project)
    with pytest.raises(TemplateError) as caught:
        prepare(project)
    line = base.splitlines().index("<body>") + 2
    assert caught.value.message.startswith(f"templates/base.html:{line}: ")


def test_template_syntax_error_names_file_and_line(project: Path) -> None:
    write_template(project, "issue.txt", "{{ content }}\n\n{% if %}\n{{ unsubscribe_url }}\n")
    write_issue(project)
    with pytest.raises(TemplateError, match=r"^templates/issue.txt:3: "):
        prepare(project)


@pytest.mark.parametrize(
    ("template", "line"),
    [
        ("{% if subscriber.name %}Dear {{ subscriber.name }}{% endif %}", 2),
        ("Dear {{ subscriber.name or 'friend' }}", 2),
        ("Dear {{ subscriber.name|upper }}", 2),
        ("{{ 'x' if subscriber.attributes.vip else 'y' }}", 2),
        ("{% for c in subscriber.email %}{{ c }}{% endfor %}", 2),
    ],
)
def test_template_testing_a_personal_field_is_refused_with_its_line(
    project: Path, template: str, line: int
) -> None:
    write_template(project, "issue.txt", "{{ content }}\n" + template + "\n{{ unsubscribe_url }}\n")
    write_issue(project)
    with pytest.raises(TemplateError, match=rf"^templates/issue.txt:{line}: a template may print"):
        prepare(project)


def test_branching_hidden_in_a_macro_is_caught_by_the_probe_render(project: Path) -> None:
    write_template(
        project,
        "issue.txt",
        "{% macro greet(n) %}{% if n %}Dear {{ n }}{% else %}Hello{% endif %}{% endmacro %}"
        "{{ greet(subscriber.name) }}\n{{ content }}\n{{ unsubscribe_url }}\n",
    )
    write_issue(project)
    with pytest.raises(TemplateError, match="changes or tests a personal field"):
        prepare(project)


def test_printing_fields_plainly_is_allowed_and_escape_filter_is_harmless(project: Path) -> None:
    write_template(
        project,
        "issue.txt",
        "Hi {{ subscriber.name }} ({{ subscriber.email }})\n{{ unsubscribe_url }}\n",
    )
    write_template(
        project,
        "issue.html",
        '{% extends "base.html" %}{% block content %}<p>Hi {{ subscriber.name|e }}</p>{% endblock %}',
    )
    write_issue(project)
    html, text = prepare(project).render(subscriber(name="Ann & Bob"))
    assert text.startswith("Hi Ann & Bob (reader@example.org)")
    assert "Hi Ann &amp; Bob</p>" in html


@pytest.mark.parametrize(
    ("front", "expected"),
    [
        ("subject: [unclosed\n", r"issues/2026-12.md:2: the front matter is not valid YAML"),
        (
            "preheader: hi\ndate: 2026-12-01\n",
            r"issues/2026-12.md: the front matter has no subject",
        ),
        ('subject: "a\\nBcc: x@example.org"\n', r"issues/2026-12.md:2: 'subject' must be one line"),
        ("subject: ok\nsubjet: typo\n", r"issues/2026-12.md:3: unknown front matter key 'subjet'"),
    ],
)
def test_front_matter_errors_name_file_and_line(project: Path, front: str, expected: str) -> None:
    write_issue(project, front=front)
    with pytest.raises(InputError, match=rf"^{expected}"):
        prepare(project)


def test_issue_without_front_matter_is_refused(project: Path) -> None:
    (project / "issues" / "2026-12.md").write_text("# Just markdown\n", encoding="utf-8")
    with pytest.raises(
        InputError, match=r"^issues/2026-12.md:1: the file must start with front matter"
    ):
        prepare(project)


def test_unknown_issue_and_unsafe_slug_are_clear_errors(project: Path) -> None:
    with pytest.raises(NotFoundError, match="no issue 2027-01"):
        prepare(project, "2027-01")
    for slug in ("../etc/passwd", "a/b", "", ".hidden", "x.md"):
        with pytest.raises(InputError, match="invalid issue name"):
            prepare(project, slug)


def test_content_hash_is_stable_and_follows_source_and_templates(project: Path) -> None:
    write_issue(project)
    first = prepare(project).content_hash
    assert prepare(project).content_hash == first
    write_issue(project, body="Changed.\n")
    second = prepare(project).content_hash
    assert second != first
    text = (project / "templates" / "issue.txt").read_text(encoding="utf-8")
    write_template(project, "issue.txt", "Changed template\n" + text)
    assert prepare(project).content_hash not in (first, second)


def test_project_templates_override_package_defaults(project: Path) -> None:
    write_template(project, "issue.txt", "OVERRIDDEN {{ unsubscribe_url }}\n")
    write_issue(project)
    prepared = prepare(project)
    assert prepared.render(subscriber())[1].startswith("OVERRIDDEN https://")
    assert set(prepared.templates) == {
        "issue.html", "base.html", "version.html", "footer.html",
        "issue.txt", "version.txt", "footer.txt", "archive/footer.html",
    }  # fmt: skip


def test_package_defaults_are_used_when_the_project_has_none(project: Path) -> None:
    for name in ("issue.html", "issue.txt", "base.html"):
        (project / "templates" / name).unlink()
    write_issue(project)
    html, text = prepare(project).render(subscriber())
    assert "Unsubscribe" in html and "To unsubscribe, open this link" in text


def test_direct_render_equals_the_sentinel_fill_for_the_text_part(project: Path) -> None:
    write_template(
        project,
        "issue.txt",
        "Dear {{ subscriber.name }} ({{ subscriber.email }})\n{{ content }}{{ unsubscribe_url }}\n",
    )
    write_issue(project, body="Some <b>raw</b> HTML.\n\n<div>A block</div>\n")
    config = load_config(project)
    prepared = prepare_issue(config, "2026-12")
    for name in HOSTILE:
        person = subscriber(name=name)
        assert prepared.render(person)[1] == render_directly(config, "2026-12", person)[1]
    assert "Some raw HTML.\n\nA block\n" in prepared.render(subscriber())[1]


def test_text_part_is_readable_text_for_every_markdown_block() -> None:
    source = (
        "# Title\n\nSee [the site](https://example.org), https://bare.example.org and"
        " [mail us](mailto:hello@example.org).\n\n"
        "- tight one\n- tight two\n  1. nested\n\n"
        "> quoted words\n\n"
        "    code line\n\n"
        "| When | Where |\n|---|---|\n| May | Rhyl |\n\n"
        "![A choir singing](https://example.org/choir.jpg)\n\n---\n\nEnd.\n"
    )
    text = markdown.to_text(markdown.parse(source))
    assert text == (
        "Title\n=====\n\n"
        "See the site (https://example.org), https://bare.example.org and mail us\n"
        "(hello@example.org).\n\n"
        "- tight one\n- tight two\n  1. nested\n\n"
        "> quoted words\n\n"
        "    code line\n\n"
        "When | Where\nMay | Rhyl\n\n"
        "[A choir singing] (https://example.org/choir.jpg)\n\n"
        "------------------------\n\n"
        "End.\n"
    )


def test_struck_out_text_stays_marked_in_the_text_part() -> None:
    source = "We no longer use ~~paper forms~~ online forms, nor <del>fax</del> or <s>post</s>.\n"
    text = markdown.to_text(markdown.parse(source))
    assert " ".join(text.split()) == (
        "We no longer use ~~paper forms~~ online forms, nor ~~fax~~ or ~~post~~."
    )


def test_a_paragraph_holding_only_a_link_becomes_a_button() -> None:
    html = markdown.to_html(
        markdown.parse("[Go](https://example.org)\n\nText and [a link](https://x.org).\n")
    )
    assert (  # a one-cell table: one colour under forced dark mode, padded in Outlook
        '<table role="presentation" class="button-row" cellpadding="0" cellspacing="0" border="0">'
        '<tr><td class="button-cell"><a href="https://example.org" class="button">Go</a>'
        "</td></tr></table>"
    ) in html
    assert '<p>Text and <a href="https://x.org">a link</a>.</p>' in html


@pytest.mark.parametrize(
    ("expression", "name"),
    [
        ("sponsor", "sponsor"),
        ("issue.sponsor", "issue.sponsor"),
        ("subscriber.nmae", "subscriber.nmae"),
        ("newsletter['twitter']", "twitter"),
    ],
)
def test_every_misspelt_name_has_one_wording_with_file_and_line(
    project: Path, expression: str, name: str
) -> None:
    write_template(
        project,
        "issue.html",
        '{% extends "base.html" %}\n{% block content %}\n{{ content }}\n'
        f"<p>{{{{ {expression} }}}}</p>\n{{% endblock %}}\n",
    )
    write_issue(project)
    with pytest.raises(TemplateError) as caught:
        prepare(project)
    assert caught.value.message == f"templates/issue.html:4: undefined name '{name}'"
