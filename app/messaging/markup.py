"""A message's HTML, read as HTML: its links rewritten one by one, and its plain-text part. The HTML
is parsed rather than matched as text, so links in comments, scripts and attribute look-alikes
stay untouched."""
from __future__ import annotations

import html
import re
from collections.abc import Callable
from html.parser import HTMLParser

_HREF = re.compile(r"""(\shref\s*=\s*)("[^"]*"|'[^']*'|[^\s"'=<>`]+)""", re.I)
_BLOCKS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "hr"}
_SKIPPED = {"style", "script", "head", "title"}


class _StartTags(HTMLParser):
    """Collects the offsets and raw text of every <a>/<area> start tag."""

    def __init__(self, source: str):
        super().__init__(convert_charrefs=True)
        self.line_offsets = [0]
        for line in source.splitlines(keepends=True):
            self.line_offsets.append(self.line_offsets[-1] + len(line))
        self.tags: list[tuple[int, str]] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("a", "area"):
            line, column = self.getpos()
            self.tags.append((self.line_offsets[line - 1] + column, self.get_starttag_text()))

    handle_startendtag = handle_starttag


def rewrite_links(source: str, rewrite: Callable[[str], str | None]) -> str:
    """The HTML with each link's href replaced by rewrite(url) (None keeps it as it is)."""
    finder = _StartTags(source)
    finder.feed(source)
    finder.close()
    pieces, cursor = [], 0
    for offset, tag_text in finder.tags:
        match = _HREF.search(tag_text)
        if match is None or source[offset:offset + len(tag_text)] != tag_text:
            continue
        raw = match.group(2)
        url = html.unescape(raw[1:-1] if raw[:1] in "\"'" else raw).strip()
        new_url = rewrite(url)
        if new_url is None:
            continue
        new_tag = (tag_text[:match.start(2)] + '"' + html.escape(new_url, quote=True) + '"'
                   + tag_text[match.end(2):])
        pieces += [source[cursor:offset], new_tag]
        cursor = offset + len(tag_text)
    pieces.append(source[cursor:])
    return "".join(pieces)


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping = 0
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag in _BLOCKS:
            self.out.append("\n")
        if tag == "a":
            self.links.append(dict(attrs).get("href") or "")

    def handle_endtag(self, tag):
        if tag in _SKIPPED:
            self.skipping = max(self.skipping - 1, 0)
        elif tag in _BLOCKS:
            self.out.append("\n")
        if tag == "a" and self.links:
            href = self.links.pop()
            if href and not href.startswith("#"):
                self.out.append(f" ({href})")

    def handle_data(self, data):
        if not self.skipping:
            self.out.append(re.sub(r"\s+", " ", data))


def html_to_text(source: str) -> str:
    """A readable plain-text part: text, with each link's address after it in parentheses."""
    parser = _Text()
    parser.feed(source)
    parser.close()
    lines = [line.strip() for line in "".join(parser.out).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
