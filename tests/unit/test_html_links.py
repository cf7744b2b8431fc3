"""Rewriting links in HTML: only real links to the tracked website, in every spelling of HTML."""
import pytest

from app.messaging.links import tag_url
from app.messaging.markup import html_to_text, rewrite_links
from app.messaging.rendering import should_tag


def tagger(host="shop.example", tag_all=False):
    return lambda url: tag_url(url, "T") if should_tag(url, host, tag_all) else None


@pytest.mark.parametrize("source, expected", [
    ('<a href="https://shop.example/p">x</a>', '<a href="https://shop.example/p?cid=T">x</a>'),
    ("<a href='https://www.shop.example/p?a=1&amp;b=2#f'>x</a>",
     '<a href="https://www.shop.example/p?a=1&amp;b=2&amp;cid=T#f">x</a>'),
    ('<A HREF=https://blog.shop.example/x>x</A>', '<A HREF="https://blog.shop.example/x?cid=T">x</A>'),
    ('<a class="b" href = "https://shop.example/?cid=old" target=_blank>x</a>',
     '<a class="b" href = "https://shop.example/?cid=T" target=_blank>x</a>'),
    ('<a href="mailto:hi@shop.example">x</a>', '<a href="mailto:hi@shop.example">x</a>'),
    ('<a href="tel:+15550100">x</a>', '<a href="tel:+15550100">x</a>'),
    ('<a href="https://other.example/">x</a>', '<a href="https://other.example/">x</a>'),
    ('<a href="https://shop.example.evil.example/">x</a>',
     '<a href="https://shop.example.evil.example/">x</a>'),
    ('<!-- <a href="https://shop.example/hidden">x</a> --><a href="https://shop.example/">y</a>',
     '<!-- <a href="https://shop.example/hidden">x</a> --><a href="https://shop.example/?cid=T">y</a>'),
    ('<a data-href="https://shop.example/" title="href=https://shop.example/">x</a>',
     '<a data-href="https://shop.example/" title="href=https://shop.example/">x</a>'),
    ('<script>var a = "<a href=https://shop.example/>";</script>',
     '<script>var a = "<a href=https://shop.example/>";</script>'),
    ('<p>\n  <a\n   href="https://shop.example/multi">x</a></p>',
     '<p>\n  <a\n   href="https://shop.example/multi?cid=T">x</a></p>'),
])
def test_links_to_the_website_are_tagged_and_nothing_else(source, expected):
    assert rewrite_links(source, tagger()) == expected


def test_all_links_when_the_account_chooses_it():
    source = '<a href="https://other.example/a">x</a><a href="mailto:a@b.example">m</a>'
    assert rewrite_links(source, tagger(tag_all=True)) == \
        '<a href="https://other.example/a?cid=T">x</a><a href="mailto:a@b.example">m</a>'


def test_text_part_has_the_links():
    text = html_to_text('<html><head><style>p{color:red}</style></head><body><h1>Hello</h1>'
                        '<p>See <a href="https://shop.example/?a=1&amp;cid=T">our prices</a>.</p>'
                        '</body></html>')
    assert "Hello" in text and "color" not in text
    assert "our prices (https://shop.example/?a=1&cid=T)." in text
