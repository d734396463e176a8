"""Markdown -> HTML and Markdown -> real plain text, from one parse.

The issue body is parsed once (markdown-it-py); the same token stream is
rendered twice: to HTML for the HTML part, and to readable text (links written
out, headings underlined, paragraphs wrapped) for the text part. A paragraph
that holds nothing but a link becomes a button in the HTML.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.token import Token

TEXT_WIDTH = 72
# Headings underlined as reStructuredText does: each level looks different.
HEADING_RULES = {"h1": "=", "h2": "-", "h3": "~"}  # h4 to h6 as h3
IMAGE_WIDTH = 520  # the default template's column: 600 px less 40 px of padding each side
_TAG = re.compile(r"<[^>]*>")  # raw HTML in Markdown: its text goes to the text part
_STRIKE_TAG = re.compile(r"</?(?:s|del|strike)(?:\s[^>]*)?>", re.I)  # raw HTML strikethrough


def make_parser() -> MarkdownIt:
    """CommonMark plus tables and strikethrough; smart quotes and dashes."""
    parser = MarkdownIt("commonmark", {"typographer": True}).enable(
        ["table", "strikethrough", "replacements", "smartquotes"]
    )
    parser.core.ruler.push("button_links", _mark_buttons)
    parser.core.ruler.push("email_attributes", _email_attributes)
    return parser


def parse(source: str) -> list[Token]:
    return make_parser().parse(source)


def to_html(tokens: Sequence[Token]) -> str:
    parser = make_parser()
    parser.add_render_rule("paragraph_open", _paragraph_open)
    parser.add_render_rule("paragraph_close", _paragraph_close)
    return parser.renderer.render(list(tokens), parser.options, {})


# A button is a one-cell table: the cell's background is the button's one colour
# (a border-drawn button splits in two under a mail client's forced dark mode),
# and Outlook, which ignores padding on links, pads the cell.
_BUTTON_OPEN = (
    '<table role="presentation" class="button-row" cellpadding="0" cellspacing="0" border="0">'
    '<tr><td class="button-cell">'
)
_BUTTON_CLOSE = "</td></tr></table>\n"


def _paragraph_open(self, tokens, index, options, env) -> str:  # noqa: ANN001 - markdown-it's
    if tokens[index].meta.get("button"):
        return _BUTTON_OPEN
    return self.renderToken(tokens, index, options, env)


def _paragraph_close(self, tokens, index, options, env) -> str:  # noqa: ANN001 - rule signature
    if tokens[index].meta.get("button"):
        return _BUTTON_CLOSE
    return self.renderToken(tokens, index, options, env)


def _mark_buttons(state) -> None:  # noqa: ANN001 - markdown-it's StateCore
    """A paragraph that is only a link is a button: class="button" on the link."""
    tokens = state.tokens
    for index in range(1, len(tokens) - 1):
        opening, inline = tokens[index - 1], tokens[index]
        if opening.type != "paragraph_open" or inline.type != "inline" or opening.level != 0:
            continue
        children = [c for c in inline.children or [] if not (c.type == "text" and not c.content)]
        if (
            len(children) >= 3
            and children[0].type == "link_open"
            and children[-1].type == "link_close"
            and all(c.type not in ("link_open", "image") for c in children[1:-1])
        ):
            opening.meta["button"] = tokens[index + 1].meta["button"] = True
            children[0].attrSet("class", "button")


def _email_attributes(state) -> None:  # noqa: ANN001 - markdown-it's StateCore
    """Images get a width (Outlook for Windows ignores CSS sizes and shows a photo at
    full size); table headers get scope="col" (screen readers, html-validate)."""
    for token in state.tokens:
        if token.type == "th_open":
            token.attrSet("scope", "col")
        for child in token.children or ():
            if child.type == "image" and child.attrGet("width") is None:
                child.attrSet("width", str(IMAGE_WIDTH))


# --- plain text ---------------------------------------------------------------


def to_text(tokens: Sequence[Token]) -> str:
    """Readable text: what a person would have typed, not a tag-stripped blob."""
    blocks: list[tuple[str, str]] = []  # (separator before, text)
    gap = "\n\n"
    prefixes: list[str] = []  # "> " for quotes, list markers for items
    lists: list[list[int]] = []  # per open list: [next number] or [] for bullets
    pending_item: str | None = None
    table_row: list[str] = []
    first_row = True
    index = 0
    while index < len(tokens):
        token = tokens[index]
        kind = token.type
        if kind == "heading_open":
            text = _wrap(_inline_text(tokens[index + 1]), [], None)
            rule = HEADING_RULES.get(token.tag, HEADING_RULES["h3"])
            longest = max(len(line) for line in text.split("\n"))
            blocks.append((gap, _prefixed(prefixes, f"{text}\n{rule * longest}")))
            index += 3
            continue
        if kind == "paragraph_open":
            text = _wrap(_inline_text(tokens[index + 1]), prefixes, first=pending_item)
            blocks.append(("\n" if token.hidden and gap != "\n\n" else gap, text))
            gap, pending_item = "\n\n" if not token.hidden else "\n", None
            index += 3
            continue
        if kind in ("bullet_list_open", "ordered_list_open"):
            start = int(token.attrGet("start") or 1)
            lists.append([start] if kind == "ordered_list_open" else [])
            if len(lists) == 1:
                gap = "\n\n"
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
            gap = "\n\n" if not lists else gap
        elif kind == "list_item_open":
            counter = lists[-1] if lists else []
            marker = f"{counter[0]}. " if counter else "- "
            if counter:
                counter[0] += 1
            pending_item = "".join(prefixes) + marker
            prefixes.append(" " * len(marker))
        elif kind == "list_item_close":
            prefixes.pop()
            pending_item = None
        elif kind == "blockquote_open":
            prefixes.append("> ")
        elif kind == "blockquote_close":
            prefixes.pop()
        elif kind in ("fence", "code_block"):
            code = token.content.rstrip("\n")
            blocks.append((gap, _prefixed([*prefixes, "    "], code)))
        elif kind == "hr":
            blocks.append((gap, _prefixed(prefixes, "-" * 24)))
        elif kind == "html_block":
            blocks.append((gap, _prefixed(prefixes, _TAG.sub("", token.content).strip())))
        elif kind == "table_open":
            first_row = True
        elif kind == "tr_open":
            table_row = []
        elif kind == "inline" and tokens[index - 1].type in ("th_open", "td_open"):
            table_row.append(_inline_text(token))
        elif kind == "tr_close":
            blocks.append((gap if first_row else "\n", _prefixed(prefixes, " | ".join(table_row))))
            first_row = False
        index += 1
    return "".join(sep + text for sep, text in blocks).lstrip("\n") + "\n"


def _inline_text(token: Token) -> str:
    """One inline run as text; a link is written as `text (url)`."""
    parts: list[str] = []
    href_stack: list[tuple[str, int]] = []
    for child in token.children or []:
        kind = child.type
        if kind in ("text", "code_inline"):
            parts.append(child.content)
        elif kind in ("softbreak",):
            parts.append(" ")
        elif kind == "hardbreak":
            parts.append("\n")
        elif kind == "link_open":
            href_stack.append((str(child.attrGet("href") or ""), len(parts)))
        elif kind == "link_close" and href_stack:
            href, start = href_stack.pop()
            label = "".join(parts[start:]).strip()
            del parts[start:]
            parts.append(_link_text(label, href))
        elif kind == "image":  # its address too: the text part names every URL the HTML has
            alt, src = child.content or "image", str(child.attrGet("src") or "")
            parts.append(f"[{alt}] ({src})" if src else f"[{alt}]")
        elif kind in ("s_open", "s_close") or (
            kind == "html_inline" and _STRIKE_TAG.fullmatch(child.content)
        ):
            parts.append("~~")  # struck-out text stays marked: dropping it reverses the sense
    return "".join(parts).strip()


def _link_text(label: str, href: str) -> str:
    bare = href.removeprefix("mailto:")
    if not href or label in (href, bare):
        return label or href
    return f"{label} ({bare if href.startswith('mailto:') else href})"


def wrap_text(text: str) -> str:
    """Plain text with each line longer than TEXT_WIDTH wrapped (a URL is never broken)."""
    return "\n".join(
        _wrap(line, [], None) if len(line) > TEXT_WIDTH else line for line in text.split("\n")
    )


def _wrap(text: str, prefixes: list[str], first: str | None) -> str:
    """Wrap at TEXT_WIDTH without ever breaking a URL or a word."""
    indent = "".join(prefixes)
    lines: list[str] = []
    for number, paragraph_line in enumerate(text.split("\n")):
        wrapped = textwrap.wrap(
            paragraph_line,
            width=TEXT_WIDTH,
            initial_indent=first if (first is not None and number == 0) else indent,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
        lines.extend(wrapped or [indent.rstrip()])
    return "\n".join(lines)


def _prefixed(prefixes: list[str], text: str) -> str:
    indent = "".join(prefixes)
    return "\n".join((indent + line).rstrip() for line in text.split("\n"))
