"""What an issue may not exceed, checked when it is read: before anything is rendered.

Past these limits the tools downstream fail in ways that say the wrong thing:
Markdown drops what is nested more than 20 levels deep (quotes in quotes,
lists in lists), the CSS inliner's HTML parser stops at 256 levels and loses
the footer (which then looks like a personal field used inside CSS), and a
huge table makes tens of megabytes of HTML that take a gigabyte and a minute
to inline, for a message Gmail clips at 102 KB anyway. So each is refused
here, saying what it found.
"""

from __future__ import annotations

from collections.abc import Sequence
from html.parser import HTMLParser

from markdown_it.token import Token

from newsletter.errors import InputError

MAX_HTML_BYTES = 2 * 1024 * 1024  # far beyond Gmail's 102 KB clip: a mistake, not a newsletter
MAX_QUOTE_DEPTH = 10
MAX_ELEMENT_DEPTH = 100  # the message's own frame adds about 15; lxml stops at 256
MARKDOWN_NESTING = 20  # markdown-it's maxNesting (commonmark): deeper blocks are dropped
# HTML elements that never hold others (they have no end tag)
_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)


def check_limits(display: str, tokens: Sequence[Token], html: str) -> None:
    """Raise InputError naming `display` (the issue file) when a limit is passed."""
    size = len(html.encode("utf-8"))
    if size > MAX_HTML_BYTES:
        raise InputError(
            f"{display}: its HTML is {size / 1024 / 1024:.1f} MB, over the limit of"
            f" {MAX_HTML_BYTES // 1024 // 1024} MB (Gmail clips a message at 102 KB)",
            hint="link to a long table or document on a web page instead of including it",
        )
    quotes = quote_depth(tokens)
    if quotes > MAX_QUOTE_DEPTH:
        raise InputError(
            f"{display}: quotes nested {quotes}{'+' if quotes >= MARKDOWN_NESTING else ''}"
            f" deep ('>' inside '>'); at most {MAX_QUOTE_DEPTH}",
            hint="quote the message you reply to once, not the whole thread",
        )
    if max((token.level for token in tokens), default=0) >= MARKDOWN_NESTING - 1:
        raise InputError(
            f"{display}: lists or quotes nested more than {MARKDOWN_NESTING - 2} levels deep"
            " (each list and each item counts); Markdown drops what is deeper",
        )
    elements = element_depth(html)
    if elements > MAX_ELEMENT_DEPTH:
        raise InputError(
            f"{display}: HTML elements nested {elements} deep (<div> inside <div>...);"
            f" at most {MAX_ELEMENT_DEPTH}",
            hint="mail clients and the CSS inliner give up on deeper nesting",
        )


def quote_depth(tokens: Sequence[Token]) -> int:
    depth = deepest = 0
    for token in tokens:
        if token.type == "blockquote_open":
            depth += 1
            deepest = max(deepest, depth)
        elif token.type == "blockquote_close":
            depth -= 1
    return deepest


def element_depth(html: str) -> int:
    """How deeply HTML elements nest (end tags that close nothing are ignored)."""
    counter = _DepthCounter()
    counter.feed(html)
    counter.close()
    return counter.deepest


class _DepthCounter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open: list[str] = []
        self.deepest = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _VOID:
            self.open.append(tag)
            self.deepest = max(self.deepest, len(self.open))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass  # <br/>: opens nothing

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            while self.open and self.open.pop() != tag:
                pass
